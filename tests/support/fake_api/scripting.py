"""What a test does to the fake: users' messages, button presses, chat setup."""

from __future__ import annotations

import time
from typing import Any

from tests.support.fake_api.records import (
    DEFAULT_GROUP_USER_ID,
    MEMBER_STATUSES,
    Stored,
)
from tests.support.fake_api.state import FakeState, command_entities, document_json, member_json


class Scripting(FakeState):
    """Incoming updates and the chats' setup, as a test scripts them."""

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
            entities = command_entities(text)
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
            self._chat_messages.setdefault(chat_id, {})[message_id] = Stored(
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
                        "old_chat_member": member_json(old_status, self.bot_user),
                        "new_chat_member": member_json(new_status, self.bot_user),
                    }
                }
            )

    def upload_file(self, content: bytes, file_name: str) -> dict[str, Any]:
        """Register a file for getFile and download; returns a Document dict."""
        with self._cond:
            stored = self._register_file(content, file_name, None)
            return document_json(stored)

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
