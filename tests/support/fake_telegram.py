"""A fake Telegram Bot API server for tests.

`FakeTelegram` runs a small HTTP server on 127.0.0.1 in a background thread and answers the
Bot API methods Summit Watch uses the way Telegram does: `{"ok": true, "result": ...}`
envelopes, Telegram's error codes and descriptions, HTML entity parsing with Telegram's error
messages, UTF-16 length limits, long polling for `getUpdates`, and file downloads.

Point a real python-telegram-bot `Application` (or `Bot`) at it::

    with FakeTelegram() as fake:
        app = fake.app_builder().build()   # token, base_url and base_file_url already set
        ...

or set them by hand::

    ApplicationBuilder().token(fake.token)
        .base_url(f"{fake.base_url}/bot").base_file_url(f"{fake.base_url}/file/bot")

Recommended settings for tests (see `tests/test_fake_telegram.py`): start polling with
``await app.updater.start_polling(poll_interval=0.0, timeout=1)``. PTB 22 cancels the
in-flight long poll when the updater stops and then sends one last ``getUpdates`` with
``timeout=0`` to confirm what it fetched; the fake ends the abandoned long poll at once with
Telegram's 409 "terminated by other getUpdates request", so shutdown never waits for a poll.
A small `timeout` still bounds the worst case. In async tests wait with `await_for`, never
with `wait_for` (which blocks the event loop the bot needs to make progress).

Deliberate differences from Telegram are listed in the docstring of `FakeTelegram`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import mimetypes
import re
import socket
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext import ApplicationBuilder

DEFAULT_SPEC_PATH = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "eval"
    / "telegram-bot-api"
    / "bot-api-spec"
    / "api.json"
)
"""The Bot API spec (PaulSonOfLars/telegram-bot-api-spec) beside the checkout, if present."""

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
_CHAT_FIELDS = ("id", "type", "title", "username", "first_name", "last_name", "is_forum")
_TOKEN_FORMAT = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


# --------------------------------------------------------------------------------------------
# Records


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
class _Failure:
    kind: str
    remaining: int
    retry_after: int
    new_chat_id: int | None
    methods: frozenset[str] | None


@dataclass
class _Stored:
    """The current state of one message in one chat (the bot's or a user's)."""

    from_bot: bool
    json: dict[str, Any]
    sent: SentMessage | None = None
    deleted: bool = False


@dataclass
class _File:
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


def _bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------
# Telegram's HTML parse mode


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's wording."""


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "code",
        "pre",
        "blockquote",
    }
)
_SIMPLE_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_END = ""  # what _at() returns past the end, like TDLib's terminating NUL


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _is_space(ch: str) -> bool:
    return ch in (_END, " ", "\t", "\r", "\n", "\v")


def _is_name_char(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ch in (".", "-")


def _decode_entity(text: str, pos: int) -> tuple[str, int, bool] | None:
    """Decode the HTML entity at `pos` (which holds "&") as TDLib does.

    Returns (character, position after it, had terminating ";") or None when it is not one.
    """
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        hexadecimal = end < n and text[end] == "x"
        if hexadecimal:
            end += 1
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < n and text[end] in digits:
            value = value * (16 if hexadecimal else 10) + int(text[end], 16)
            end += 1
            if value >= 0x10FFFF:
                return None
        if value == 0 or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        return char, end + 1, True
    return char, end, False


def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url:
        return None
    if url.startswith("tg://") or url.startswith("ton://"):
        return url
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if not parts.path:
        url = parts._replace(path="/").geturl()
    return url


def parse_html(markup: str, *, strict_entities: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (visible text, entities) or raise `EntityParseError`.

    Follows TDLib's `parse_html` (tags, attributes, error wording, byte offsets in UTF-8 and
    entity offsets in UTF-16). With `strict_entities` (the default) an "&" that does not begin
    a complete entity (&lt; &gt; &amp; &quot; &#N; &#xN;) is an error, where Telegram would
    keep it as a literal "&": Summit Watch always escapes, so an unescaped "&" is a bug.
    """
    n = len(markup)

    def at(k: int) -> str:
        return markup[k] if k < n else _END

    def byte_offset(k: int) -> int:
        return len(markup[:k].encode("utf-8", "surrogatepass"))

    result: list[str] = []
    entities: list[dict[str, Any]] = []
    # open tags: name, argument, utf16 offset, flags
    stack: list[tuple[str, str, int, dict[str, Any]]] = []
    u16 = 0
    i = 0
    while i < n:
        ch = markup[i]
        if ch == "&":
            decoded = _decode_entity(markup, i)
            if decoded is not None and (decoded[2] or not strict_entities):
                char, i, _ = decoded
                result.append(char)
                u16 += utf16_len(char)
                continue
            if strict_entities:
                raise EntityParseError(f'Unescaped "&" at byte offset {byte_offset(i)}')
        if ch != "<":
            result.append(ch)
            u16 += utf16_len(ch)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != "/":
            while not _is_space(at(i)) and at(i) != ">":
                i += 1
            if at(i) == _END:
                raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = markup[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}'
                )
            argument = ""
            flags: dict[str, Any] = {}
            while at(i) != ">":
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while not _is_space(at(i)) and at(i) not in ("=", ">"):
                    i += 1
                attribute = markup[name_begin:i].lower()
                if not attribute:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{byte_offset(begin)}"
                    )
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and attribute == "expandable":
                        flags["expandable"] = True
                    continue
                i += 1
                while at(i) != _END and _is_space(at(i)):
                    i += 1
                if at(i) == _END:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                if at(i) not in ("'", '"'):
                    token_begin = i
                    while at(i) != _END and (_is_name_char(at(i))):
                        i += 1
                    value = markup[token_begin:i].lower()
                    if not _is_space(at(i)) and at(i) != ">":
                        offset = byte_offset(token_begin)
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {offset}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    chars: list[str] = []
                    while at(i) != quote and at(i) != _END:
                        if at(i) == "&":
                            decoded = _decode_entity(markup, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if at(i) == _END:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {byte_offset(begin)}"
                    )
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
                elif tag == "tg-time" and attribute in ("unix", "format"):
                    flags[attribute] = value
                elif tag == "blockquote" and attribute == "expandable":
                    flags["expandable"] = True
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            if tag == "tg-emoji" and not (argument.isdigit() and int(argument) > 0):
                raise EntityParseError("Invalid custom emoji identifier specified")
            if tag == "tg-time" and not str(flags.get("unix", "")).isdigit():
                raise EntityParseError("Invalid Unix time specified")
            stack.append((tag, argument, u16, {**flags, "text_start": len(result)}))
            i += 1  # past ">"
            continue

        # an end tag
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while not _is_space(at(i)) and at(i) != ">":
            i += 1
        end_name = markup[begin + 2 : i].lower()
        while at(i) != _END and _is_space(at(i)):
            i += 1
        if at(i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        tag, argument, start, flags = stack.pop()
        if end_name and end_name != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        i += 1
        length = u16 - start
        if length <= 0:
            continue
        entity: dict[str, Any] | None = None
        if tag in _SIMPLE_ENTITY:
            entity = {"type": _SIMPLE_ENTITY[tag]}
        elif tag == "a":
            url = argument or "".join(result[flags["text_start"] :])
            user_link = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if user_link:
                entity = {
                    "type": "text_mention",
                    "user": {"id": int(user_link[1]), "is_bot": False, "first_name": "User"},
                }
            else:
                normalized = _normalize_url(url)
                entity = {"type": "text_link", "url": normalized} if normalized else None
        elif tag == "tg-emoji":
            entity = {"type": "custom_emoji", "custom_emoji_id": argument}
        elif tag == "tg-time":
            entity = {"type": "date_time", "unix_time": int(flags["unix"])}
            if flags.get("format"):
                entity["date_time_format"] = flags["format"]
        elif tag == "blockquote":
            entity = {"type": "expandable_blockquote" if flags.get("expandable") else "blockquote"}
        elif tag == "pre":
            entity = {"type": "pre"}
            if flags.get("language"):
                entity["language"] = flags["language"]
        elif tag == "code":
            parent = stack[-1] if stack else None
            if argument and parent is not None and parent[0] == "pre" and parent[2] == start:
                parent[3]["language"] = argument  # <pre><code class="language-x">
            else:
                entity = {"type": "code"}
        if entity is not None:
            entities.append({**entity, "offset": start, "length": length})

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    text = "".join(result)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


# --------------------------------------------------------------------------------------------
# Request decoding


@lru_cache(maxsize=4)
def _load_spec(path: str) -> dict[str, dict[str, Any]] | None:
    """Methods of the Bot API spec keyed by lower-case name, or None when the file is absent."""
    spec_file = Path(path)
    if not spec_file.is_file():
        return None
    data = json.loads(spec_file.read_text(encoding="utf-8"))
    return {name.lower(): method for name, method in data.get("methods", {}).items()}


def _parse_multipart(
    body: bytes, boundary: bytes
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    delimiter = b"--" + boundary
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        part = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name_match = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        if not name_match:
            continue
        name = unquote(name_match[1])
        file_match = re.search(r"filename\*=(?:UTF-8|utf-8)''([^;]+)", disposition) or re.search(
            r'filename="([^"]*)"', disposition
        )
        if file_match:
            files[name] = UploadedFile(
                field=name,
                file_name=unquote(file_match[1]),
                content=content,
                content_type=headers.get("content-type", "application/octet-stream"),
            )
        else:
            fields[name] = content.decode("utf-8")
    return fields, files


def _parse_body(
    content_type: str, body: bytes, query: str
) -> tuple[dict[str, Any], dict[str, UploadedFile], bool]:
    """Returns (raw params, files, already typed) for a request."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params, files, False
    if media_type == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise _bad_request("can't parse JSON object")
        params.update(decoded)
        return params, files, True
    if media_type == "multipart/form-data":
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not match:
            raise _bad_request("multipart boundary not found")
        fields, files = _parse_multipart(body, match[1].encode("latin-1"))
        params.update(fields)
        return params, files, False
    params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params, files, False


# --------------------------------------------------------------------------------------------
# The HTTP server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate small writes
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track_connection(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake records calls itself."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, content_type, payload = self.server.fake._handle_http(
            self.path, self.headers.get("Content-Type", ""), body
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client went away (e.g. a cancelled long poll)


# --------------------------------------------------------------------------------------------
# The fake


Predicate = Callable[["FakeTelegram"], bool]


class FakeTelegram:
    """A fake Telegram Bot API server (see the module docstring for how to connect PTB).

    Deliberate differences from Telegram (all on the strict side, to catch bugs):
      * With `strict_html_entities` (default) an unescaped "&" in HTML is a 400; Telegram keeps
        it literally. Named entities must end with ";" (Telegram also accepts "&lt" bare).
      * With the spec file present, a parameter the spec does not list for a method is a 400
        ("unknown parameter"); Telegram ignores unknown parameters.
      * `strict_chats=True` makes sends to chats the fake has never seen a 400 "chat not found";
        by default such chats are created on first use (positive id: private, -100…: supergroup,
        other negative: group).
      * MarkdownV2/Markdown texts are accepted without parsing (plain_text == text).
      * Injected failures (`fail_next`) apply to send*/edit* methods except sendChatAction
        unless `methods=` says otherwise; the global `rate_limit` window counts send* methods
        except sendChatAction (not edits).
      * A 429 starts a penalty of `retry_after` seconds: for its chat when the chat's own limit
        or an injected failure caused it, for every chat when the global `rate_limit` did. A
        send*/edit* call (except sendChatAction) made during a penalty is refused with another
        429 and counted in `sends_during_penalty`; Telegram would lengthen the wait instead.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "summit_watch_bot",
        *,
        bot_first_name: str = "Summit Watch",
        rate_limit: tuple[int, float] | None = None,
        enforce_chat_limits: bool = False,
        strict_html_entities: bool = True,
        strict_chats: bool = False,
        spec_path: Path | None = DEFAULT_SPEC_PATH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not _TOKEN_FORMAT.match(token):
            raise ValueError(f"not a bot token: {token!r}")
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.rate_limit = rate_limit
        self.enforce_chat_limits = enforce_chat_limits
        self.strict_html_entities = strict_html_entities
        self.strict_chats = strict_chats
        self._spec = _load_spec(str(spec_path)) if spec_path is not None else None
        self.clock = clock  # drives the flood-limit windows; tests may pass a fake clock

        self._cond = threading.Condition(threading.RLock())
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._stopping = False
        self._port: int | None = None

        self._calls: list[Call] = []
        self._messages: list[SentMessage] = []
        self._count_429 = 0
        self._penalty_sends: list[tuple[int, str]] = []
        self._chat_penalty: dict[int, float] = {}
        self._global_penalty = float("-inf")
        self._internal_errors: list[str] = []

        self._updates: list[dict[str, Any]] = []
        self._next_update_id = FIRST_UPDATE_ID
        self._served_update_ids: set[int] = set()
        self._poll_generation = 0
        self._waiting_polls = 0
        self._allowed_updates: list[str] = []
        self._webhook_url = ""

        self._chats: dict[int, dict[str, Any]] = {}
        self._usernames: dict[str, int] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._chat_messages: dict[int, dict[int, _Stored]] = {}
        self._next_message_id: dict[int, int] = {}
        self._edits: dict[tuple[int, int], list[SentMessage]] = {}

        self._admins: dict[int, list[int]] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._bot_status: dict[int, str] = {}
        self._forbidden: dict[int, str] = {}
        self._migrated: dict[int, int] = {}
        self._failures: dict[int, deque[_Failure]] = {}
        self._send_times: deque[float] = deque()
        self._chat_send_times: dict[int, deque[float]] = {}

        self._callbacks: dict[str, dict[str, Any]] = {}
        self._callback_answers: list[dict[str, Any]] = []
        self._next_callback = 0
        self._chat_actions: list[tuple[int, str]] = []
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}

        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._next_file = 0

        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, UploadedFile]], Any]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "sendChatAction": self._send_chat_action,
        }
        self._handler_names = {name.lower(): name for name in self._handlers}

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already started")
        self._stopping = False
        self._server = _Server(self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeTelegram",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._notify()
        server.shutdown()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None
        if self._internal_errors:
            warnings.warn(
                f"FakeTelegram answered 500 for its own bugs: {self._internal_errors}",
                RuntimeWarning,
                stacklevel=2,
            )

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}"

    def make_bot(self) -> Bot:
        """A `telegram.Bot` pointed at this fake (use it as `async with fake.make_bot() as bot`)."""
        from telegram import Bot

        return Bot(
            self.token, base_url=f"{self.base_url}/bot", base_file_url=f"{self.base_url}/file/bot"
        )

    def app_builder(self) -> ApplicationBuilder:
        """An `ApplicationBuilder` with token, base_url and base_file_url set for this fake."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(f"{self.base_url}/bot")
            .base_file_url(f"{self.base_url}/file/bot")
        )

    # ----------------------------------------------------------------------------- incoming

    def feed_update(self, update: dict[str, Any]) -> int:
        """Queue a raw Update dict (an update_id is assigned when missing); returns its id."""
        with self._cond:
            update = dict(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
            self._updates.append(update)
            self._updates.sort(key=lambda u: int(u["update_id"]))
            self._notify()
            return int(update["update_id"])

    def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        username: str = "alice",
        language_code: str = "en",
        message_thread_id: int | None = None,
        is_topic_message: bool = False,
        document: dict[str, Any] | None = None,
        forward_from_chat: dict[str, Any] | None = None,
    ) -> int:
        """A user (or, for chat_type="channel", the channel) posts `text`; returns update_id.

        A text starting with "/" gets a bot_command entity up to the first whitespace. With
        `document` (from `upload_file`) the text becomes the caption.
        """
        if not text and document is None:
            raise ValueError("an incoming message needs text or a document")
        with self._cond:
            chat = self._ensure_chat(chat_id, chat_type)
            if user_id is None:
                user_id = chat_id if chat_type == "private" else DEFAULT_GROUP_USER_ID
            user = self._remember_user(user_id, username, language_code)
            if chat_type == "private":
                chat.setdefault("first_name", user["first_name"])
                chat.setdefault("username", username)
            message_id = self._new_message_id(chat_id)
            message: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat_json(chat_id),
            }
            if chat_type == "channel":
                message["sender_chat"] = self._chat_json(chat_id)
            else:
                message["from"] = dict(user)
            if message_thread_id is not None:
                message["message_thread_id"] = message_thread_id
            if is_topic_message:
                message["is_topic_message"] = True
            entities = _command_entities(text)
            if document is not None:
                message["document"] = dict(document)
                if text:
                    message["caption"] = text
                    if entities:
                        message["caption_entities"] = entities
            else:
                message["text"] = text
                if entities:
                    message["entities"] = entities
            if forward_from_chat is not None:
                origin_chat = dict(forward_from_chat)
                if origin_chat.get("type") == "channel":
                    message["forward_origin"] = {
                        "type": "channel",
                        "date": message["date"],
                        "chat": origin_chat,
                        "message_id": int(origin_chat.pop("message_id", 1)),
                    }
                else:
                    message["forward_origin"] = {
                        "type": "chat",
                        "date": message["date"],
                        "sender_chat": origin_chat,
                    }
            self._chat_messages.setdefault(chat_id, {})[message_id] = _Stored(
                from_bot=False, json=message
            )
            kind = "channel_post" if chat_type == "channel" else "message"
            return self.feed_update({kind: message})

    def press_button(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> str:
        """A user presses an inline button with `data` under a message; returns the query id."""
        with self._cond:
            if user_id is None:
                user_id = chat_id if chat_id > 0 else DEFAULT_GROUP_USER_ID
            user = self._users.get(user_id) or self._remember_user(user_id, "alice", "en")
            self._ensure_chat(chat_id, None)
            stored = self._chat_messages.get(chat_id, {}).get(message_id)
            if stored is not None and not stored.deleted:
                message = dict(stored.json)
            else:  # an InaccessibleMessage
                message = {"chat": self._chat_json(chat_id), "message_id": message_id, "date": 0}
            self._next_callback += 1
            query_id = str(4_000_000_000_000_000_000 + self._next_callback)
            self._callbacks[query_id] = {"answered": False, "chat_id": chat_id, "data": data}
            self.feed_update(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": dict(user),
                        "message": message,
                        "chat_instance": str(abs(chat_id) * 7919 + self.bot_id),
                        "data": data,
                    }
                }
            )
            return query_id

    def chat_member_update(
        self,
        chat_id: int,
        *,
        new_status: str,
        old_status: str,
        chat_type: str = "group",
        user_id: int = 1,
    ) -> int:
        """The bot's own membership changes (a my_chat_member update); returns update_id.

        Also changes what later sends to the chat get: "kicked"/"left" make them fail with
        Telegram's 403 (in a private chat "kicked" means the user blocked the bot), any other
        status makes them succeed again.
        """
        for status in (new_status, old_status):
            if status not in MEMBER_STATUSES:
                raise ValueError(f"unknown chat member status {status!r}")
        with self._cond:
            self._ensure_chat(chat_id, chat_type)
            user = self._users.get(user_id) or self._remember_user(user_id, "alice", "en")
            self._bot_status[chat_id] = new_status
            if new_status in ("kicked", "left"):
                self._forbidden[chat_id] = self._forbidden_description(chat_id, new_status)
            else:
                self._forbidden.pop(chat_id, None)
            return self.feed_update(
                {
                    "my_chat_member": {
                        "chat": self._chat_json(chat_id),
                        "from": dict(user),
                        "date": int(time.time()),
                        "old_chat_member": _member_json(old_status, self.bot_user),
                        "new_chat_member": _member_json(new_status, self.bot_user),
                    }
                }
            )

    def upload_file(self, content: bytes, file_name: str) -> dict[str, Any]:
        """Register a file for getFile and download; returns a Document dict."""
        with self._cond:
            stored = self._register_file(content, file_name, None)
            return _document_json(stored)

    # ----------------------------------------------------------------------------- chat setup

    def set_admins(self, chat_id: int, user_ids: list[int]) -> None:
        with self._cond:
            self._ensure_chat(chat_id, None)
            self._admins[chat_id] = list(user_ids)

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for one user (the bot's own id included)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        with self._cond:
            self._ensure_chat(chat_id, None)
            if user_id == self.bot_id:
                self._bot_status[chat_id] = status
            else:
                self._members[(chat_id, user_id)] = status

    def set_chat(self, chat_id: int, **fields: Any) -> None:
        """Set getChat data, e.g. set_chat(-1001, type="channel", title="News", username="news").

        A username (with or without "@") makes "@username" resolve to `chat_id`.
        """
        with self._cond:
            chat_type = fields.get("type")
            chat = self._ensure_chat(chat_id, chat_type)
            if fields.get("username"):
                fields["username"] = str(fields["username"]).lstrip("@")
                self._usernames[fields["username"].lower()] = chat_id
            chat.update(fields)
            self._notify()

    # ----------------------------------------------------------------------------- failures

    def fail_next(
        self,
        chat_id: int,
        *,
        kind: str,
        times: int = 1,
        retry_after: int = 1,
        new_chat_id: int | None = None,
        methods: Collection[str] | None = None,
    ) -> None:
        """Make the next `times` send*/edit* calls for `chat_id` fail with `kind`.

        Kinds: retry_after (429 + parameters.retry_after), blocked, kicked, deactivated (403),
        migrate (400 + parameters.migrate_to_chat_id, needs new_chat_id), server (500),
        bad_gateway (502 with an HTML body, as nginx sends), not_modified, cant_edit,
        chat_not_found (400). `methods` restricts which methods consume the failure.
        `times=0` cancels the failures of `kind` still pending for `chat_id`.
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {sorted(FAILURE_KINDS)}")
        if kind == "migrate" and new_chat_id is None:
            raise ValueError('kind="migrate" needs new_chat_id')
        if times < 0:
            raise ValueError("times must not be negative")
        with self._cond:
            if times == 0:
                pending = self._failures.get(chat_id, deque())
                self._failures[chat_id] = deque(f for f in pending if f.kind != kind)
                return
            self._failures.setdefault(chat_id, deque()).append(
                _Failure(
                    kind=kind,
                    remaining=times,
                    retry_after=retry_after,
                    new_chat_id=new_chat_id,
                    methods=frozenset(methods) if methods is not None else None,
                )
            )

    def block(self, chat_id: int) -> None:
        """Every send/edit to `chat_id` gets Telegram's 403 until `unblock`."""
        with self._cond:
            self._ensure_chat(chat_id, None)
            self._forbidden[chat_id] = self._forbidden_description(chat_id, "kicked")

    def unblock(self, chat_id: int) -> None:
        with self._cond:
            self._forbidden.pop(chat_id, None)

    def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: calls with the old id get 400 migrate_to_chat_id."""
        with self._cond:
            old = self._ensure_chat(old_chat_id, None)
            new = self._ensure_chat(new_chat_id, "supergroup")
            if "title" in old:
                new.setdefault("title", old["title"])
            self._migrated[old_chat_id] = new_chat_id

    # ----------------------------------------------------------------------------- records

    @property
    def calls(self) -> list[Call]:
        with self._cond:
            return list(self._calls)

    def calls_for(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if c.method == method]

    @property
    def messages(self) -> list[SentMessage]:
        """Accepted sends and edits (each edit a separate record with edited=True), in order."""
        with self._cond:
            return list(self._messages)

    @property
    def count_429(self) -> int:
        with self._cond:
            return self._count_429

    @property
    def sends_during_penalty(self) -> int:
        """Sends and edits that arrived while a 429's retry_after still applied to them."""
        with self._cond:
            return len(self._penalty_sends)

    @property
    def penalty_sends(self) -> list[tuple[int, str]]:
        """(chat id, method) of each send or edit made during a penalty, in order."""
        with self._cond:
            return list(self._penalty_sends)

    @property
    def internal_errors(self) -> list[str]:
        """Exceptions inside the fake itself (answered as 500); should stay empty."""
        with self._cond:
            return list(self._internal_errors)

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        """Parameters of every accepted answerCallbackQuery, in order."""
        with self._cond:
            return [dict(a) for a in self._callback_answers]

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        with self._cond:
            for answer in self._callback_answers:
                if answer.get("callback_query_id") == query_id:
                    return dict(answer)
            return None

    @property
    def chat_actions(self) -> list[tuple[int, str]]:
        with self._cond:
            return list(self._chat_actions)

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return len(self._updates)

    @property
    def waiting_polls(self) -> int:
        """getUpdates requests currently waiting for an update (long polling)."""
        with self._cond:
            return self._waiting_polls

    @property
    def spec_loaded(self) -> bool:
        """Whether requests are validated against the Bot API spec file."""
        return self._spec is not None

    def update_served(self, update_id: int) -> bool:
        """Whether getUpdates has returned this update at least once."""
        with self._cond:
            return update_id in self._served_update_ids

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict]:
        with self._cond:
            return [dict(c) for c in self._commands.get(_commands_key(scope, language_code), [])]

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """sendMessage calls to `chat_id` as sent (edits not applied), in order."""
        with self._cond:
            return [
                m
                for m in self._messages
                if m.chat_id == chat_id and m.method == "sendMessage" and not m.edited
            ]

    def documents_to(self, chat_id: int) -> list[SentMessage]:
        """sendDocument calls to `chat_id`, in order."""
        with self._cond:
            return [
                m
                for m in self._messages
                if m.chat_id == chat_id and m.method == "sendDocument" and not m.edited
            ]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages still in `chat_id`, current state (edits applied), by id."""
        with self._cond:
            stored = self._chat_messages.get(chat_id, {})
            return [
                s.sent
                for _, s in sorted(stored.items())
                if s.from_bot and s.sent is not None and not s.deleted
            ]

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """Current state of one bot message (deleted=True once deleted), or None."""
        with self._cond:
            stored = self._chat_messages.get(chat_id, {}).get(message_id)
            if stored is None or stored.sent is None:
                return None
            return stored.sent

    def edits_of(self, chat_id: int, message_id: int) -> list[SentMessage]:
        """Every accepted edit of one message, in order."""
        with self._cond:
            return list(self._edits.get((chat_id, message_id), []))

    # ----------------------------------------------------------------------------- waiting

    def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> bool:
        """Block until `predicate(fake)` holds (re-checked on every state change) or timeout.

        Do not call this from a coroutine: use `await_for`.
        """
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    async def await_for(self, predicate: Predicate, timeout: float = 10.0) -> bool:
        """`wait_for` for coroutines: wakes on every state change without blocking the loop."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        deadline = loop.time() + timeout
        with self._cond:
            self._async_waiters.add(waiter)
        try:
            while True:
                event.clear()
                with self._cond:
                    if predicate(self):
                        return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._cond:
                self._async_waiters.discard(waiter)

    def _notify(self) -> None:
        """Wake waiters; call with the lock held."""
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(event.set)

    # ----------------------------------------------------------------------------- HTTP

    def _track_connection(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _handle_http(self, raw_path: str, content_type: str, body: bytes) -> tuple[int, str, bytes]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        if path.startswith("/file/bot"):
            return self._download(path[len("/file/bot") :])
        if not path.startswith("/bot"):
            return _envelope_error(ApiError(404, "Not Found"))
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            status = 401 if _TOKEN_FORMAT.match(token) else 404
            return _envelope_error(
                ApiError(status, "Unauthorized" if status == 401 else "Not Found")
            )
        arrived = time.monotonic()
        canonical = self._handler_names.get(method.lower())
        spec_method = self._spec.get(method.lower()) if self._spec is not None else None
        name = canonical or (spec_method["name"] if spec_method else method)
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        status, result, description = 200, None, None
        try:
            try:
                raw, files, typed = _parse_body(content_type, body, parts.query)
            except (ValueError, UnicodeDecodeError) as exc:
                raise _bad_request(f"can't parse request body: {exc}") from exc
            params = raw if typed else self._decode_params(spec_method, raw)
            if canonical is None and spec_method is None:
                raise ApiError(404, "Not Found")
            if spec_method is not None:
                self._validate_against_spec(spec_method, params, files)
            if canonical is None:
                result = self._unimplemented(name, spec_method)
            else:
                result = self._handlers[canonical](params, files)
            response = _envelope_ok(result)
        except _BadGateway:
            status, description = 502, "Bad Gateway"
            response = (502, "text/html", _BAD_GATEWAY_HTML)
        except ApiError as exc:
            status, description = exc.status, exc.description
            response = _envelope_error(exc)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test
            status, description = 500, f"Internal Server Error: {exc!r}"
            with self._cond:
                self._internal_errors.append(f"{name}: {exc!r}")
            response = _envelope_error(ApiError(500, description))
        with self._cond:
            if status == 429:
                self._count_429 += 1
            self._calls.append(
                Call(
                    method=name,
                    params=params,
                    files=files,
                    time=arrived,
                    status=status,
                    description=description,
                    result=result,
                )
            )
            self._notify()
        return response

    def _download(self, rest: str) -> tuple[int, str, bytes]:
        token, _, file_path = rest.partition("/")
        with self._cond:
            stored = self._files_by_path.get(file_path) if token == self.token else None
        if stored is None:
            return _envelope_error(ApiError(404, "Not Found"))
        return 200, stored.mime_type, stored.content

    def _decode_params(self, spec_method: dict[str, Any] | None, raw: dict[str, Any]) -> dict:
        string_fields = set(STRING_PARAMS)
        if spec_method is not None:
            for spec_field in spec_method.get("fields", []):
                if spec_field["types"] == ["String"]:
                    string_fields.add(spec_field["name"])
                else:
                    string_fields.discard(spec_field["name"])
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if not isinstance(value, str) or key in string_fields:
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params

    def _validate_against_spec(
        self, spec_method: dict[str, Any], params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> None:
        known = {f["name"] for f in spec_method.get("fields", [])}
        attached = {
            value[len("attach://") :]
            for value in _iter_strings(params)
            if value.startswith("attach://")
        }
        for name in list(params) + [f for f in files if f not in attached]:
            if name not in known:
                raise _bad_request(f'unknown parameter "{name}" for method {spec_method["name"]}')
        for spec_field in spec_method.get("fields", []):
            name = spec_field["name"]
            if spec_field["required"] and name not in params and name not in files:
                raise _bad_request(f"{name} is required")

    def _unimplemented(self, name: str, spec_method: dict[str, Any] | None) -> Any:
        if spec_method is not None and spec_method.get("returns") == ["Boolean"]:
            return True
        raise ApiError(501, f"Not Implemented: FakeTelegram does not support {name}")

    # ----------------------------------------------------------------------------- chats

    def _ensure_chat(self, chat_id: int, chat_type: str | None) -> dict[str, Any]:
        if chat_type is not None:
            if chat_type not in CHAT_TYPES:
                raise ValueError(f"unknown chat type {chat_type!r}")
            if (chat_type == "private") != (chat_id > 0):
                raise ValueError(
                    f"chat {chat_id}: private chats have positive ids, other chats negative ones"
                )
        chat = self._chats.get(chat_id)
        if chat is None:
            inferred = chat_type or _infer_chat_type(chat_id)
            chat = {"id": chat_id, "type": inferred}
            if inferred == "private":
                chat["first_name"] = f"User{chat_id}"
            else:
                chat["title"] = f"Chat {chat_id}"
            self._chats[chat_id] = chat
        elif chat_type is not None and chat["type"] != chat_type:
            chat["type"] = chat_type
            if chat_type != "private":
                chat.setdefault("title", f"Chat {chat_id}")
        return chat

    def _chat_json(self, chat_id: int) -> dict[str, Any]:
        chat = self._chats[chat_id]
        return {key: chat[key] for key in _CHAT_FIELDS if key in chat}

    def _remember_user(self, user_id: int, username: str, language_code: str) -> dict[str, Any]:
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": username.capitalize() or f"User{user_id}",
            "username": username,
            "language_code": language_code,
        }
        self._users[user_id] = user
        return user

    def _user_json(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        return dict(
            self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "User"}
        )

    def _resolve_chat(self, value: Any, *, check_migration: bool = True) -> int:
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        chat_id: int | None = None
        if isinstance(value, bool):
            chat_id = None
        elif isinstance(value, int):
            chat_id = value
        elif isinstance(value, str) and value.startswith("@"):
            chat_id = self._usernames.get(value[1:].lower())
        elif isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            chat_id = int(value)
        if chat_id is None or chat_id == 0:
            raise _bad_request("chat not found")
        if check_migration and chat_id in self._migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        if chat_id not in self._chats:
            if self.strict_chats:
                raise _bad_request("chat not found")
            self._ensure_chat(chat_id, None)
        return chat_id

    def _forbidden_description(self, chat_id: int, status: str) -> str:
        chat_type = self._chats[chat_id]["type"] if chat_id in self._chats else "private"
        if chat_type == "private":
            return "Forbidden: bot was blocked by the user"
        if status == "kicked":
            return f"Forbidden: bot was kicked from the {chat_type} chat"
        return f"Forbidden: bot is not a member of the {chat_type} chat"

    def _new_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _stored(self, chat_id: int, message_id: Any) -> _Stored | None:
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            return None
        return self._chat_messages.get(chat_id, {}).get(message_id)

    # ----------------------------------------------------------------------------- sending rules

    def _check_deliverable(self, chat_id: int, method: str) -> None:
        """Blocks, injected failures and flood limits, in that order (lock held)."""
        if chat_id in self._forbidden:
            raise ApiError(403, self._forbidden[chat_id])
        if method != "sendChatAction":
            self._refuse_during_penalty(chat_id, method)
        try:
            self._apply_injected(chat_id, method)
        except ApiError as exc:
            if exc.status == 429:
                self._penalize(chat_id, exc)
            raise
        if method.startswith("send") and method != "sendChatAction":
            self._apply_rate_limits(chat_id)

    def _refuse_during_penalty(self, chat_id: int, method: str) -> None:
        now = self.clock()
        until = max(self._chat_penalty.get(chat_id, float("-inf")), self._global_penalty)
        if now < until:
            self._penalty_sends.append((chat_id, method))
            retry_after = max(1, math.ceil(until - now))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _penalize(self, chat_id: int | None, error: ApiError) -> None:
        """Start the penalty a 429 announces: for `chat_id`, or for all chats when None."""
        until = self.clock() + float((error.parameters or {}).get("retry_after", 1))
        if chat_id is None:
            self._global_penalty = max(self._global_penalty, until)
        else:
            self._chat_penalty[chat_id] = max(self._chat_penalty.get(chat_id, until), until)

    def _apply_injected(self, chat_id: int, method: str) -> None:
        queue = self._failures.get(chat_id)
        if not queue:
            return
        for failure in list(queue):
            if failure.methods is not None:
                if method not in failure.methods:
                    continue
            elif method == "sendChatAction" or not method.startswith(("send", "edit")):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.remove(failure)
            raise self._failure_error(chat_id, failure)

    def _failure_error(self, chat_id: int, failure: _Failure) -> Exception:
        kind = failure.kind
        if kind == "retry_after":
            return ApiError(
                429,
                f"Too Many Requests: retry after {failure.retry_after}",
                {"retry_after": failure.retry_after},
            )
        if kind == "blocked":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if kind == "kicked":
            chat_type = self._chats.get(chat_id, {}).get("type")
            place = "supergroup" if chat_type == "supergroup" else "group"
            return ApiError(403, f"Forbidden: bot was kicked from the {place} chat")
        if kind == "deactivated":
            return ApiError(403, "Forbidden: user is deactivated")
        if kind == "migrate":
            return ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": failure.new_chat_id},
            )
        if kind == "server":
            return ApiError(500, "Internal Server Error")
        if kind == "bad_gateway":
            return _BadGateway()
        if kind == "not_modified":
            return ApiError(400, NOT_MODIFIED)
        if kind == "cant_edit":
            return _bad_request("message can't be edited")
        return _bad_request("chat not found")

    def _apply_rate_limits(self, chat_id: int) -> None:
        now = self.clock()
        windows: list[tuple[deque[float], int, float]] = []
        if self.rate_limit is not None:
            limit, period = self.rate_limit
            windows.append((self._send_times, limit, period))
        if self.enforce_chat_limits:
            chat_type = self._chats.get(chat_id, {}).get("type", "private")
            limit, period = (1, 1.0) if chat_type == "private" else (20, 60.0)
            windows.append((self._chat_send_times.setdefault(chat_id, deque()), limit, period))
        for times, limit, period in windows:
            while times and times[0] <= now - period:
                times.popleft()
            if len(times) >= limit:
                wait = times[0] + period - now
                retry_after = max(1, math.ceil(wait))
                error = ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
                self._penalize(None if times is self._send_times else chat_id, error)
                raise error
        for times, _, _ in windows:
            times.append(now)

    def _render(
        self, text: Any, parse_mode: Any, entities: Any, *, caption: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        """Visible text and entities of a text or caption, validated like Telegram."""
        text = "" if text is None else str(text)
        mode = str(parse_mode).lower() if parse_mode else ""
        if mode == "html":
            try:
                plain, parsed = parse_html(text, strict_entities=self.strict_html_entities)
            except EntityParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from exc
        elif mode in ("", "markdown", "markdownv2"):
            plain, parsed = text, list(entities) if isinstance(entities, list) else []
        else:
            raise _bad_request("unsupported parse_mode")
        if caption:
            if utf16_len(plain) > MAX_CAPTION_LENGTH:
                raise _bad_request("message caption is too long")
        else:
            if not plain.strip():
                raise _bad_request("message text is empty")
            if utf16_len(plain) > MAX_MESSAGE_LENGTH:
                raise _bad_request("message is too long")
        return plain, parsed

    def _validate_markup(self, markup: Any, *, inline_only: bool) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise _bad_request("inline keyboard expected")
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise _bad_request("can't parse inline keyboard button: must be an Object")
                if not isinstance(button.get("text"), str) or not button["text"]:
                    raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
                if not INLINE_BUTTON_ACTIONS & button.keys():
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                        raise _bad_request("BUTTON_DATA_INVALID")
                if "url" in button and _normalize_url(str(button["url"])) is None:
                    raise _bad_request(
                        f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL"
                    )
        return markup

    def _check_reply(self, chat_id: int, reply_parameters: Any) -> dict[str, Any] | None:
        if not isinstance(reply_parameters, dict):
            return None
        target_chat = reply_parameters.get("chat_id", chat_id)
        target = self._stored(
            target_chat if isinstance(target_chat, int) else chat_id,
            reply_parameters.get("message_id"),
        )
        if target is None or target.deleted:
            if reply_parameters.get("allow_sending_without_reply"):
                return None
            raise _bad_request("message to be replied not found")
        return target.json

    def _accept(self, sent: SentMessage, message_json: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_messages.setdefault(sent.chat_id, {})
        stored = chat.get(sent.message_id)
        if stored is None:
            chat[sent.message_id] = _Stored(from_bot=True, json=message_json, sent=sent)
        else:
            stored.json = message_json
            stored.sent = sent
        if sent.edited:
            self._edits.setdefault((sent.chat_id, sent.message_id), []).append(sent)
        self._messages.append(sent)
        self._notify()
        return message_json

    def _message_json(self, sent: SentMessage, reply_to: dict[str, Any] | None) -> dict:
        message: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": sent.date,
            "chat": self._chat_json(sent.chat_id),
        }
        if self._chats[sent.chat_id]["type"] == "channel":
            message["sender_chat"] = self._chat_json(sent.chat_id)
        else:
            message["from"] = dict(self.bot_user)
        if sent.message_thread_id is not None:
            message["message_thread_id"] = sent.message_thread_id
        if reply_to is not None:
            message["reply_to_message"] = {
                k: v for k, v in reply_to.items() if k != "reply_to_message"
            }
        if sent.edited:
            message["edit_date"] = int(time.time())
        if sent.document is not None:
            message["document"] = {
                "file_id": sent.document.file_id,
                "file_unique_id": sent.document.file_unique_id,
                "file_name": sent.document.file_name,
                "mime_type": sent.document.mime_type,
                "file_size": len(sent.document.content),
            }
            if sent.plain_text:
                message["caption"] = sent.plain_text
                if sent.entities:
                    message["caption_entities"] = sent.entities
        else:
            message["text"] = sent.plain_text
            if sent.entities:
                message["entities"] = sent.entities
            if sent.link_preview_options:
                message["link_preview_options"] = sent.link_preview_options
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        if sent.protect_content:
            message["has_protected_content"] = True
        return message

    def _register_file(self, content: bytes, file_name: str, mime_type: str | None) -> _File:
        self._next_file += 1
        number = self._next_file
        suffix = Path(file_name).suffix
        guessed = mimetypes.guess_type(file_name)[0]
        stored = _File(
            file_id=f"BQACAgIAAxkBAAI{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            file_name=file_name,
            content=content,
            mime_type=guessed or mime_type or "application/octet-stream",
            file_path=f"documents/file_{number}{suffix}",
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    # ----------------------------------------------------------------------------- methods

    def _true(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        return True

    def _get_me(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        with self._cond:
            self._webhook_url = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
            return True

    def _set_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        with self._cond:
            url = str(params.get("url") or "")
            if url and not url.startswith("https://"):
                raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            self._webhook_url = url
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._notify()
            return True

    def _get_webhook_info(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            return {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _get_updates(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> list:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), LONG_POLL_CAP_SECONDS)
        if not 1 <= limit <= 100:
            limit = 100
        with self._cond:
            if self._webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use "
                    "deleteWebhook to delete the webhook first",
                )
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = [str(kind) for kind in allowed]
            self._poll_generation += 1
            generation = self._poll_generation
            self._confirm(offset)
            deadline = time.monotonic() + timeout
            while True:
                if self._poll_generation != generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                self._drop_not_allowed()
                if self._updates or self._stopping:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._waiting_polls += 1
                self._notify()
                try:
                    self._cond.wait(remaining)
                finally:
                    self._waiting_polls -= 1
            batch = [dict(u) for u in self._updates[:limit]]
            self._served_update_ids.update(int(u["update_id"]) for u in batch)
            self._notify()
            return batch

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._notify()

    def _drop_not_allowed(self) -> None:
        def wanted(update: dict[str, Any]) -> bool:
            kinds = [k for k in update if k != "update_id"]
            if not kinds:
                return True
            if self._allowed_updates:
                return kinds[0] in self._allowed_updates
            return kinds[0] not in DEFAULT_EXCLUDED_UPDATES

        self._updates = [u for u in self._updates if wanted(u)]

    def _set_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME.match(
                str(command.get("command", ""))
            ):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            key = _commands_key(params.get("scope"), params.get("language_code") or "")
            self._commands[key] = [dict(c) for c in commands]
            self._notify()
            return True

    def _get_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> list:
        with self._cond:
            key = _commands_key(params.get("scope"), params.get("language_code") or "")
            return [dict(c) for c in self._commands.get(key, [])]

    def _delete_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        with self._cond:
            key = _commands_key(params.get("scope"), params.get("language_code") or "")
            self._commands.pop(key, None)
            self._notify()
            return True

    def _send_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            if "text" not in params:
                raise _bad_request("message text is empty")
            plain, entities = self._render(
                params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
            )
            markup = self._validate_markup(params.get("reply_markup"), inline_only=False)
            reply_to = self._check_reply(chat_id, params.get("reply_parameters"))
            self._check_deliverable(chat_id, "sendMessage")
            sent = SentMessage(
                chat_id=chat_id,
                message_id=self._new_message_id(chat_id),
                text=str(params["text"]),
                parse_mode=params.get("parse_mode"),
                plain_text=plain,
                entities=entities,
                reply_markup=markup,
                disable_notification=params.get("disable_notification"),
                link_preview_options=params.get("link_preview_options"),
                message_thread_id=params.get("message_thread_id"),
                edited=False,
                document=None,
                method="sendMessage",
                time=time.monotonic(),
                date=int(time.time()),
                protect_content=params.get("protect_content"),
                reply_parameters=params.get("reply_parameters"),
                params=dict(params),
            )
            return self._accept(sent, self._message_json(sent, reply_to))

    def _send_document(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            document = params.get("document")
            upload = files.get("document")
            url: str | None = None
            existing: _File | None = None
            if upload is None and isinstance(document, str) and document.startswith("attach://"):
                upload = files.get(document[len("attach://") :])
            if upload is None:
                if isinstance(document, str) and document in self._files:
                    existing = self._files[document]
                elif isinstance(document, str) and document.startswith(("http://", "https://")):
                    url = document
                else:
                    raise _bad_request("wrong file identifier/HTTP URL specified")
            if upload is not None and not upload.content:
                raise _bad_request("file must be non-empty")
            caption = params.get("caption")
            plain, entities = self._render(
                caption, params.get("parse_mode"), params.get("caption_entities"), caption=True
            )
            markup = self._validate_markup(params.get("reply_markup"), inline_only=False)
            reply_to = self._check_reply(chat_id, params.get("reply_parameters"))
            self._check_deliverable(chat_id, "sendDocument")
            if upload is not None:
                stored = self._register_file(upload.content, upload.file_name, upload.content_type)
            elif existing is not None:
                stored = existing
            else:
                assert url is not None
                name = Path(urlsplit(url).path).name or "file"
                stored = self._register_file(b"", name, None)
            sent = SentMessage(
                chat_id=chat_id,
                message_id=self._new_message_id(chat_id),
                text=None if caption is None else str(caption),
                parse_mode=params.get("parse_mode"),
                plain_text=plain if caption is not None else None,
                entities=entities,
                reply_markup=markup,
                disable_notification=params.get("disable_notification"),
                link_preview_options=None,
                message_thread_id=params.get("message_thread_id"),
                edited=False,
                document=SentDocument(
                    file_id=stored.file_id,
                    file_unique_id=stored.file_unique_id,
                    file_name=stored.file_name,
                    content=stored.content,
                    mime_type=stored.mime_type,
                    url=url,
                ),
                method="sendDocument",
                time=time.monotonic(),
                date=int(time.time()),
                protect_content=params.get("protect_content"),
                reply_parameters=params.get("reply_parameters"),
                params=dict(params),
            )
            return self._accept(sent, self._message_json(sent, reply_to))

    def _editable(self, params: dict[str, Any]) -> tuple[int, _Stored]:
        if params.get("inline_message_id"):
            raise _bad_request("message to edit not found")
        chat_id = self._resolve_chat(params.get("chat_id"))
        if "message_id" not in params:
            raise _bad_request("message identifier is not specified")
        stored = self._stored(chat_id, params["message_id"])
        if stored is None or stored.deleted:
            raise _bad_request("message to edit not found")
        if not stored.from_bot or stored.sent is None:
            raise _bad_request("message can't be edited")
        return chat_id, stored

    def _edit_message_text(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        with self._cond:
            chat_id, stored = self._editable(params)
            current = stored.sent
            assert current is not None
            if "text" not in params:
                raise _bad_request("message text is empty")
            plain, entities = self._render(
                params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
            )
            markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
            if current.document is not None:
                raise _bad_request("there is no text in the message to edit")
            if (plain, entities, markup) == (
                current.plain_text,
                current.entities,
                current.reply_markup,
            ):
                raise ApiError(400, NOT_MODIFIED)
            self._check_deliverable(chat_id, "editMessageText")
            sent = dataclasses.replace(
                current,
                text=str(params["text"]),
                parse_mode=params.get("parse_mode"),
                plain_text=plain,
                entities=entities,
                reply_markup=markup,
                link_preview_options=params.get("link_preview_options"),
                edited=True,
                method="editMessageText",
                time=time.monotonic(),
                params=dict(params),
            )
            return self._accept(sent, self._message_json(sent, None))

    def _edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        with self._cond:
            chat_id, stored = self._editable(params)
            current = stored.sent
            assert current is not None
            markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
            if markup == current.reply_markup or (not markup and not current.reply_markup):
                raise ApiError(400, NOT_MODIFIED)
            self._check_deliverable(chat_id, "editMessageReplyMarkup")
            sent = dataclasses.replace(
                current,
                reply_markup=markup,
                edited=True,
                method="editMessageReplyMarkup",
                time=time.monotonic(),
                params=dict(params),
            )
            return self._accept(sent, self._message_json(sent, None))

    def _delete_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            stored = self._stored(chat_id, params.get("message_id"))
            if stored is None or stored.deleted:
                raise _bad_request("message to delete not found")
            if chat_id in self._forbidden:
                raise ApiError(403, self._forbidden[chat_id])
            stored.deleted = True
            if stored.sent is not None:
                stored.sent = dataclasses.replace(stored.sent, deleted=True)
            self._notify()
            return True

    def _answer_callback_query(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> bool:
        with self._cond:
            query = self._callbacks.get(str(params.get("callback_query_id")))
            if query is None or query["answered"]:
                raise ApiError(400, QUERY_INVALID)
            text = params.get("text")
            if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
                raise _bad_request("MESSAGE_TOO_LONG")
            query["answered"] = True
            self._callback_answers.append(dict(params))
            self._notify()
            return True

    def _get_file(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            stored = self._files.get(str(params.get("file_id")))
            if stored is None:
                raise _bad_request("invalid file_id")
            if len(stored.content) > MAX_DOWNLOAD_BYTES:
                raise _bad_request("file is too big")
            return {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content),
                "file_path": stored.file_path,
            }

    def _get_chat(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            info: dict[str, Any] = {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
            info.update(self._chats[chat_id])
            return info

    def _member_status(self, chat_id: int, user_id: int) -> str:
        if user_id == self.bot_id:
            return self._bot_status.get(chat_id, "member")
        if user_id in self._admins.get(chat_id, []):
            return "administrator"
        return self._members.get((chat_id, user_id), "member")

    def _get_chat_member(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            user_id = params.get("user_id")
            if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
                raise _bad_request("invalid user_id specified")
            return _member_json(self._member_status(chat_id, user_id), self._user_json(user_id))

    def _get_chat_administrators(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> list:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            if self._chats[chat_id]["type"] == "private":
                raise _bad_request("there are no administrators in the private chat")
            admins = [
                _member_json("administrator", self._user_json(uid))
                for uid in self._admins.get(chat_id, [])
            ]
            if self._bot_status.get(chat_id) in (
                "administrator",
                "creator",
            ) and self.bot_id not in (self._admins.get(chat_id, [])):
                admins.append(_member_json(self._bot_status[chat_id], dict(self.bot_user)))
            return admins

    def _send_chat_action(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            action = params.get("action")
            if action not in CHAT_ACTIONS:
                raise _bad_request("wrong parameter action in request")
            self._check_deliverable(chat_id, "sendChatAction")
            self._chat_actions.append((chat_id, str(action)))
            self._notify()
            return True


# --------------------------------------------------------------------------------------------
# Helpers


class _BadGateway(Exception):
    """Answer 502 with nginx's HTML page instead of a JSON envelope."""


_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _envelope_ok(result: Any) -> tuple[int, str, bytes]:
    body = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
    return 200, "application/json", body.encode("utf-8")


def _envelope_error(error: ApiError) -> tuple[int, str, bytes]:
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.status,
        "description": error.description,
    }
    if error.parameters:
        payload["parameters"] = error.parameters
    body = json.dumps(payload, ensure_ascii=False)
    return error.status, "application/json", body.encode("utf-8")


def _iter_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _iter_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _iter_strings(item)


def _infer_chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    if chat_id <= -1_000_000_000_000:
        return "supergroup"
    return "group"


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def _commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code


def _document_json(stored: _File) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": stored.file_name,
        "mime_type": stored.mime_type,
        "file_size": len(stored.content),
    }


def _member_json(status: str, user: dict[str, Any]) -> dict[str, Any]:
    """A ChatMember of `status` with every field the Bot API marks required."""
    member: dict[str, Any] = {"status": status, "user": dict(user)}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=True,
            can_edit_stories=True,
            can_delete_stories=True,
            can_pin_messages=True,
        )
    elif status == "restricted":
        member.update(
            is_member=True,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_react_to_messages=False,
            can_edit_tag=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            until_date=0,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member
