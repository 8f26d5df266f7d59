"""The Bot API methods that send, edit and delete messages, and their rendering."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.fake_api.entities import EntityParseError, normalize_url, parse_html, utf16_len
from tests.support.fake_api.limits import SendingRules
from tests.support.fake_api.records import (
    INLINE_BUTTON_ACTIONS,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_MESSAGE_LENGTH,
    NOT_MODIFIED,
    ApiError,
    SentDocument,
    SentMessage,
    Stored,
    StoredFile,
    UploadedFile,
    bad_request,
)


class MessageMethods(SendingRules):
    """sendMessage, sendDocument, editMessage*, deleteMessage and getFile."""

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
                raise bad_request(f"can't parse entities: {exc}") from exc
        elif mode in ("", "markdown", "markdownv2"):
            plain, parsed = text, list(entities) if isinstance(entities, list) else []
        else:
            raise bad_request("unsupported parse_mode")
        if caption:
            if utf16_len(plain) > MAX_CAPTION_LENGTH:
                raise bad_request("message caption is too long")
        else:
            if not plain.strip():
                raise bad_request("message text is empty")
            if utf16_len(plain) > MAX_MESSAGE_LENGTH:
                raise bad_request("message is too long")
        return plain, parsed

    def _validate_markup(self, markup: Any, *, inline_only: bool) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise bad_request("inline keyboard expected")
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise bad_request("can't parse inline keyboard button: must be an Object")
                if not isinstance(button.get("text"), str) or not button["text"]:
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                if not INLINE_BUTTON_ACTIONS & button.keys():
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button and normalize_url(str(button["url"])) is None:
                    raise bad_request(
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
            raise bad_request("message to be replied not found")
        return target.json

    def _accept(self, sent: SentMessage, message_json: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_messages.setdefault(sent.chat_id, {})
        stored = chat.get(sent.message_id)
        if stored is None:
            chat[sent.message_id] = Stored(from_bot=True, json=message_json, sent=sent)
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

    def _new_sent(
        self, chat_id: int, params: dict[str, Any], method: str, **content: Any
    ) -> SentMessage:
        """A new message in the chat, with what every send method shares taken from params."""
        return SentMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            parse_mode=params.get("parse_mode"),
            disable_notification=params.get("disable_notification"),
            message_thread_id=params.get("message_thread_id"),
            edited=False,
            method=method,
            time=time.monotonic(),
            date=int(time.time()),
            protect_content=params.get("protect_content"),
            reply_parameters=params.get("reply_parameters"),
            params=dict(params),
            **content,
        )

    def _send_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            if "text" not in params:
                raise bad_request("message text is empty")
            plain, entities = self._render(
                params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
            )
            markup = self._validate_markup(params.get("reply_markup"), inline_only=False)
            reply_to = self._check_reply(chat_id, params.get("reply_parameters"))
            self._check_deliverable(chat_id, "sendMessage")
            sent = self._new_sent(
                chat_id,
                params,
                "sendMessage",
                text=str(params["text"]),
                plain_text=plain,
                entities=entities,
                reply_markup=markup,
                link_preview_options=params.get("link_preview_options"),
                document=None,
            )
            return self._accept(sent, self._message_json(sent, reply_to))

    def _send_document(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            chat_id = self._resolve_chat(params.get("chat_id"))
            document = params.get("document")
            upload = files.get("document")
            url: str | None = None
            existing: StoredFile | None = None
            if upload is None and isinstance(document, str) and document.startswith("attach://"):
                upload = files.get(document[len("attach://") :])
            if upload is None:
                if isinstance(document, str) and document in self._files:
                    existing = self._files[document]
                elif isinstance(document, str) and document.startswith(("http://", "https://")):
                    url = document
                else:
                    raise bad_request("wrong file identifier/HTTP URL specified")
            if upload is not None and not upload.content:
                raise bad_request("file must be non-empty")
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
            sent = self._new_sent(
                chat_id,
                params,
                "sendDocument",
                text=None if caption is None else str(caption),
                plain_text=plain if caption is not None else None,
                entities=entities,
                reply_markup=markup,
                link_preview_options=None,
                document=SentDocument(
                    file_id=stored.file_id,
                    file_unique_id=stored.file_unique_id,
                    file_name=stored.file_name,
                    content=stored.content,
                    mime_type=stored.mime_type,
                    url=url,
                ),
            )
            return self._accept(sent, self._message_json(sent, reply_to))

    def _editable(self, params: dict[str, Any]) -> tuple[int, Stored]:
        if params.get("inline_message_id"):
            raise bad_request("message to edit not found")
        chat_id = self._resolve_chat(params.get("chat_id"))
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        stored = self._stored(chat_id, params["message_id"])
        if stored is None or stored.deleted:
            raise bad_request("message to edit not found")
        if not stored.from_bot or stored.sent is None:
            raise bad_request("message can't be edited")
        return chat_id, stored

    def _edit_message_text(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        with self._cond:
            chat_id, stored = self._editable(params)
            current = stored.sent
            assert current is not None
            if "text" not in params:
                raise bad_request("message text is empty")
            plain, entities = self._render(
                params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
            )
            markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
            if current.document is not None:
                raise bad_request("there is no text in the message to edit")
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
                raise bad_request("message to delete not found")
            if chat_id in self._forbidden:
                raise ApiError(403, self._forbidden[chat_id])
            stored.deleted = True
            if stored.sent is not None:
                stored.sent = dataclasses.replace(stored.sent, deleted=True)
            self._notify()
            return True

    def _get_file(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict:
        with self._cond:
            stored = self._files.get(str(params.get("file_id")))
            if stored is None:
                raise bad_request("invalid file_id")
            if len(stored.content) > MAX_DOWNLOAD_BYTES:
                raise bad_request("file is too big")
            return {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content),
                "file_path": stored.file_path,
            }
