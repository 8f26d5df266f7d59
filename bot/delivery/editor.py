"""Threads a story in the chat: when copies arrive or the headline changes, the alert already
sent is edited ("Also reported by …") instead of sending another message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.delivery.render import alert_buttons, render_alert
from bot.delivery.sender import Sender, retry_after_seconds
from bot.storage.models import Delivery, utcnow
from bot.storage.store import Store

log = logging.getLogger(__name__)

# Telegram answers these when an edit can never succeed; the alert simply stays as it is.
_FINAL = ("not modified", "can't be edited", "message to edit not found", "message_id_invalid")


class StoryEditor:
    def __init__(
        self,
        store: Store,
        bot: Bot,
        sender: Sender,
        *,
        interval: float = 180.0,
        batch: int = 100,
        on_event: Callable[[str], None] = lambda _kind: None,
    ) -> None:
        self.store = store
        self.bot = bot
        self.sender = sender
        self.interval = interval
        self.batch = batch
        self.on_event = on_event

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.edit_due(stop)
            except Exception:
                log.exception("story edit pass failed; retrying shortly")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.5, min(self.interval, 5.0)))

    async def edit_due(self, stop: asyncio.Event | None = None) -> int:
        """Edit each changed alert at most once per `interval`."""
        before = utcnow() - timedelta(seconds=self.interval)
        rows = await asyncio.to_thread(self.store.due_edits, before, self.batch)
        if not rows:
            return 0
        stories = await asyncio.to_thread(
            self.store.stories, [row.story_id for row in rows if row.story_id is not None]
        )
        translator = self.sender.translator
        translations = await translator.stored(rows) if translator is not None else {}
        edited = 0
        for row in rows:
            if not await self.sender.take_slot(stop):
                break
            story = stories.get(row.story_id) if row.story_id is not None else None
            translation = translations.get(row.id) if row.id is not None else None
            text = render_alert(row, story, translation)
            edited += await self.edit_one(row, text, translated=translation is not None)
        return edited

    async def edit_one(self, row: Delivery, text: str, *, translated: bool = False) -> int:
        assert row.id is not None and row.message_id is not None
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=row.chat_id,
                message_id=row.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=alert_buttons(row, translated=translated),
                link_preview_options=LinkPreviewOptions(url=row.link) if row.link else None,
            )
        except RetryAfter as exc:
            self.sender.pause(retry_after_seconds(exc))
            self.on_event("retry_after")
            return 0
        except Forbidden:
            await asyncio.to_thread(self.store.deactivate_chat, row.chat_id)
            return 0
        except BadRequest as exc:
            final = any(reason in exc.message.lower() for reason in _FINAL)
            await asyncio.to_thread(self.store.mark_edited, row.id, done=final)
            if not final:
                log.info("edit of alert %s refused: %s", row.id, exc.message)
            return 0
        except TelegramError as exc:
            # Tried again after the interval; the alert itself was delivered already.
            log.info("edit of alert %s failed: %s", row.id, exc)
            await asyncio.to_thread(self.store.mark_edited, row.id, done=False)
            return 0
        await asyncio.to_thread(self.store.mark_edited, row.id)
        self.on_event("edited")
        return 1
