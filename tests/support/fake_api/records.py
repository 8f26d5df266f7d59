"""What the fake records and answers: limits, request and message records, errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
LONG_POLL_CAP_SECONDS = 50.0
DEFAULT_GROUP_USER_ID = 1
FIRST_UPDATE_ID = 100_000

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"

FAILURE_KINDS = frozenset(
    {
        "retry_after",
        "blocked",
        "kicked",
        "deactivated",
        "migrate",
        "server",
        "bad_gateway",
        "not_modified",
        "cant_edit",
        "chat_not_found",
    }
)
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
CHAT_TYPES = frozenset({"private", "group", "supergroup", "channel"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update kinds Telegram sends when allowed_updates is empty or was never set.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
INLINE_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
# Parameters that are strings even when they look like JSON (used when the spec is absent).
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "url",
        "secret_token",
        "ip_address",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "action",
        "name",
        "description",
        "short_description",
        "title",
    }
)
CHAT_FIELDS = ("id", "type", "title", "username", "first_name", "last_name", "is_forum")
TOKEN_FORMAT = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    file_name: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Call:
    """One request to the Bot API, recorded after it was answered.

    `params` are decoded: JSON-typed fields (reply_markup, link_preview_options, ids, booleans)
    are Python objects, string fields stay strings. `time` is `time.monotonic()` at arrival.
    """

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    time: float
    status: int
    description: str | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class SentDocument:
    file_id: str
    file_unique_id: str
    file_name: str
    content: bytes
    mime_type: str
    url: str | None = None


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent, or one state of it after an edit.

    `text` is exactly what the bot sent (for documents: the caption), markup included;
    `plain_text` is what a user sees after entity parsing and `entities` the parsed entities.
    """

    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    plain_text: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    disable_notification: bool | None
    link_preview_options: dict[str, Any] | None
    message_thread_id: int | None
    edited: bool
    document: SentDocument | None
    method: str
    time: float
    date: int
    protect_content: bool | None = None
    reply_parameters: dict[str, Any] | None = None
    deleted: bool = False
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    kind: str
    remaining: int
    retry_after: int
    new_chat_id: int | None
    methods: frozenset[str] | None


@dataclass
class Stored:
    """The current state of one message in one chat (the bot's or a user's)."""

    from_bot: bool
    json: dict[str, Any]
    sent: SentMessage | None = None
    deleted: bool = False


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_name: str
    content: bytes
    mime_type: str
    file_path: str


class ApiError(Exception):
    """An error answer: HTTP status, Telegram description and optional parameters."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class BadGateway(Exception):
    """Answer 502 with nginx's HTML page instead of a JSON envelope."""


BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def envelope_ok(result: Any) -> tuple[int, str, bytes]:
    body = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
    return 200, "application/json", body.encode("utf-8")


def envelope_error(error: ApiError) -> tuple[int, str, bytes]:
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.status,
        "description": error.description,
    }
    if error.parameters:
        payload["parameters"] = error.parameters
    body = json.dumps(payload, ensure_ascii=False)
    return error.status, "application/json", body.encode("utf-8")
