"""Everything the fake remembers, behind one lock, and the chats and users it knows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.fake_api.entities import utf16_len
from tests.support.fake_api.records import (
    CHAT_FIELDS,
    CHAT_TYPES,
    FIRST_UPDATE_ID,
    ApiError,
    Call,
    Failure,
    SentMessage,
    Stored,
    StoredFile,
    bad_request,
)

if TYPE_CHECKING:
    from tests.support.fake_api.wire import Server


class FakeState:
    """The state every part of the fake shares; `_cond` guards all of it."""

    token: str
    bot_id: int
    bot_user: dict[str, Any]
    rate_limit: tuple[int, float] | None
    enforce_chat_limits: bool
    strict_html_entities: bool
    strict_chats: bool
    clock: Callable[[], float]

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._server: Server | None = None
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
        self._chat_messages: dict[int, dict[int, Stored]] = {}
        self._next_message_id: dict[int, int] = {}
        self._edits: dict[tuple[int, int], list[SentMessage]] = {}

        self._admins: dict[int, list[int]] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._bot_status: dict[int, str] = {}
        self._forbidden: dict[int, str] = {}
        self._migrated: dict[int, int] = {}
        self._failures: dict[int, deque[Failure]] = {}
        self._send_times: deque[float] = deque()
        self._chat_send_times: dict[int, deque[float]] = {}

        self._callbacks: dict[str, dict[str, Any]] = {}
        self._callback_answers: list[dict[str, Any]] = []
        self._next_callback = 0
        self._chat_actions: list[tuple[int, str]] = []
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}

        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._next_file = 0

    def _notify(self) -> None:
        """Wake waiters; call with the lock held."""
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(event.set)

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
            inferred = chat_type or infer_chat_type(chat_id)
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
        return {key: chat[key] for key in CHAT_FIELDS if key in chat}

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
            raise bad_request("chat_id is empty")
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
            raise bad_request("chat not found")
        if check_migration and chat_id in self._migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        if chat_id not in self._chats:
            if self.strict_chats:
                raise bad_request("chat not found")
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

    def _stored(self, chat_id: int, message_id: Any) -> Stored | None:
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            return None
        return self._chat_messages.get(chat_id, {}).get(message_id)

    def _member_status(self, chat_id: int, user_id: int) -> str:
        if user_id == self.bot_id:
            return self._bot_status.get(chat_id, "member")
        if user_id in self._admins.get(chat_id, []):
            return "administrator"
        return self._members.get((chat_id, user_id), "member")

    def _register_file(self, content: bytes, file_name: str, mime_type: str | None) -> StoredFile:
        self._next_file += 1
        number = self._next_file
        suffix = Path(file_name).suffix
        guessed = mimetypes.guess_type(file_name)[0]
        stored = StoredFile(
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


def infer_chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    if chat_id <= -1_000_000_000_000:
        return "supergroup"
    return "group"


def command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code


def document_json(stored: StoredFile) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": stored.file_name,
        "mime_type": stored.mime_type,
        "file_size": len(stored.content),
    }


def member_json(status: str, user: dict[str, Any]) -> dict[str, Any]:
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
