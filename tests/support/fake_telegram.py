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
This module keeps the server's core (start, stop, dispatch); the HTML parser, the sending
rules and the methods are in `tests/support/fake_api/`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tests.support.fake_api.entities import EntityParseError, parse_html, utf16_len
from tests.support.fake_api.messages import MessageMethods
from tests.support.fake_api.methods import BotMethods
from tests.support.fake_api.observing import Observing, Predicate
from tests.support.fake_api.records import (
    BAD_GATEWAY_HTML,
    STRING_PARAMS,
    TOKEN_FORMAT,
    ApiError,
    BadGateway,
    Call,
    SentDocument,
    SentMessage,
    UploadedFile,
    bad_request,
    envelope_error,
    envelope_ok,
)
from tests.support.fake_api.scripting import Scripting
from tests.support.fake_api.wire import Server, iter_strings, load_spec, parse_body

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext import ApplicationBuilder


__all__ = [
    "DEFAULT_SPEC_PATH",
    "ApiError",
    "Call",
    "EntityParseError",
    "FakeTelegram",
    "Predicate",
    "SentDocument",
    "SentMessage",
    "UploadedFile",
    "parse_html",
    "utf16_len",
]

DEFAULT_SPEC_PATH = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "eval"
    / "telegram-bot-api"
    / "bot-api-spec"
    / "api.json"
)
"""The Bot API spec (PaulSonOfLars/telegram-bot-api-spec) beside the checkout, if present."""


class FakeTelegram(Scripting, Observing, MessageMethods, BotMethods):
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
        if not TOKEN_FORMAT.match(token):
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
        self._spec = load_spec(str(spec_path)) if spec_path is not None else None
        self.clock = clock  # drives the flood-limit windows; tests may pass a fake clock

        super().__init__()

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
        self._server = Server(self)
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
            return envelope_error(ApiError(404, "Not Found"))
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            status = 401 if TOKEN_FORMAT.match(token) else 404
            return envelope_error(
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
                raw, files, typed = parse_body(content_type, body, parts.query)
            except (ValueError, UnicodeDecodeError) as exc:
                raise bad_request(f"can't parse request body: {exc}") from exc
            params = raw if typed else self._decode_params(spec_method, raw)
            if canonical is None and spec_method is None:
                raise ApiError(404, "Not Found")
            if spec_method is not None:
                self._validate_against_spec(spec_method, params, files)
            if canonical is None:
                result = self._unimplemented(name, spec_method)
            else:
                result = self._handlers[canonical](params, files)
            response = envelope_ok(result)
        except BadGateway:
            status, description = 502, "Bad Gateway"
            response = (502, "text/html", BAD_GATEWAY_HTML)
        except ApiError as exc:
            status, description = exc.status, exc.description
            response = envelope_error(exc)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test
            status, description = 500, f"Internal Server Error: {exc!r}"
            with self._cond:
                self._internal_errors.append(f"{name}: {exc!r}")
            response = envelope_error(ApiError(500, description))
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
            return envelope_error(ApiError(404, "Not Found"))
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
            for value in iter_strings(params)
            if value.startswith("attach://")
        }
        for name in list(params) + [f for f in files if f not in attached]:
            if name not in known:
                raise bad_request(f'unknown parameter "{name}" for method {spec_method["name"]}')
        for spec_field in spec_method.get("fields", []):
            name = spec_field["name"]
            if spec_field["required"] and name not in params and name not in files:
                raise bad_request(f"{name} is required")

    def _unimplemented(self, name: str, spec_method: dict[str, Any] | None) -> Any:
        if spec_method is not None and spec_method.get("returns") == ["Boolean"]:
            return True
        raise ApiError(501, f"Not Implemented: FakeTelegram does not support {name}")
