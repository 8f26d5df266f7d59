"""The other Bot API methods: the bot, webhooks and getUpdates, commands, chats."""

from __future__ import annotations

import time
from typing import Any

from tests.support.fake_api.limits import SendingRules
from tests.support.fake_api.records import (
    CHAT_ACTIONS,
    COMMAND_NAME,
    DEFAULT_EXCLUDED_UPDATES,
    LONG_POLL_CAP_SECONDS,
    MAX_CALLBACK_ANSWER_LENGTH,
    QUERY_INVALID,
    ApiError,
    UploadedFile,
    bad_request,
)
from tests.support.fake_api.state import commands_key, member_json


class BotMethods(SendingRules):
    """getMe, webhooks, getUpdates, *MyCommands, answerCallbackQuery, getChat*, chat actions."""

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
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
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
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_NAME.match(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            key = commands_key(params.get("scope"), params.get("language_code") or "")
            self._commands[key] = [dict(c) for c in commands]
            self._notify()
            return True

    def _get_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> list:
        with self._cond:
            key = commands_key(params.get("scope"), params.get("language_code") or "")
            return [dict(c) for c in self._commands.get(key, [])]

    def _delete_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        with self._cond:
            key = commands_key(params.get("scope"), params.get("language_code") or "")
            self._commands.pop(key, None)
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
                raise bad_request("MESSAGE_TOO_LONG")
            query["answered"] = True
            self._callback_answers.append(dict(params))
            self._notify()
            return True

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

    def _get_chat_member(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            user_id = params.get("user_id")
            if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
                raise bad_request("invalid user_id specified")
            return member_json(self._member_status(chat_id, user_id), self._user_json(user_id))

    def _get_chat_administrators(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> list:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            if self._chats[chat_id]["type"] == "private":
                raise bad_request("there are no administrators in the private chat")
            admins = [
                member_json("administrator", self._user_json(uid))
                for uid in self._admins.get(chat_id, [])
            ]
            if self._bot_status.get(chat_id) in (
                "administrator",
                "creator",
            ) and self.bot_id not in (self._admins.get(chat_id, [])):
                admins.append(member_json(self._bot_status[chat_id], dict(self.bot_user)))
            return admins

    def _send_chat_action(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            action = params.get("action")
            if action not in CHAT_ACTIONS:
                raise bad_request("wrong parameter action in request")
            self._check_deliverable(chat_id, "sendChatAction")
            self._chat_actions.append((chat_id, str(action)))
            self._notify()
            return True
