"""Sends what waits: digests when their moment comes, and alerts held through quiet hours."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.delivery.render import story_outlets
from bot.delivery.sender import Sender, retry_after_seconds
from bot.delivery.timing import digest_due, in_quiet
from bot.render.digest import DigestEntry, compose_digest
from bot.render.format import AlertView
from bot.render.i18n import tn
from bot.storage.models import Chat, Delivery, Story, utcnow
from bot.storage.store import Store

log = logging.getLogger(__name__)


def entry_of(row: Delivery, story: Story | None) -> DigestEntry:
    view = AlertView.from_json(row.view) if row.view else None
    return DigestEntry(
        title=(story.title if story else None) or (view.title if view else row.link),
        url=row.link,
        source_name=view.source_name if view else "",
        outlets=max(1, len(story_outlets(story))),
        published=view.published if view else None,
        topic=view.topic if view else "",
    )


class BatchSender:
    def __init__(
        self,
        store: Store,
        bot: Bot,
        sender: Sender,
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.bot = bot
        self.sender = sender
        self.now = now

    async def send_due(self, now: datetime | None = None) -> int:
        """One pass over every chat with waiting alerts; returns the messages sent."""
        moment = now or self.now()
        waiting = await asyncio.to_thread(self.store.waiting)
        if not waiting:
            return 0
        chats = await asyncio.to_thread(self.store.chats, waiting)
        sent = 0
        for chat_id, rows in waiting.items():
            chat = chats.get(chat_id)
            if chat is None or not chat.active:
                continue
            quiet = in_quiet(moment, chat.timezone, chat.quiet_start, chat.quiet_end)
            if quiet and chat.quiet_mode == "hold":
                continue
            due = [row for row, mode in rows if row.status == "held"]
            digest = [(row, mode) for row, mode in rows if row.status == "digest"]
            for mode in ("hourly", "daily"):
                batch = [row for row, row_mode in digest if row_mode == mode]
                if batch and digest_due(
                    mode,
                    min(row.created_at for row in batch),
                    moment,
                    chat.timezone,
                    chat.digest_time,
                ):
                    due += batch
            # A topic switched back to instant releases what it kept.
            due += [row for row, mode in digest if mode == "instant"]
            if due:
                sent += await self._send_batch(chat, due, silent=quiet)
        return sent

    async def _send_batch(self, chat: Chat, rows: list[Delivery], *, silent: bool) -> int:
        stories = await asyncio.to_thread(
            self.store.stories, [row.story_id for row in rows if row.story_id is not None]
        )
        entries = [
            entry_of(row, stories.get(row.story_id) if row.story_id else None) for row in rows
        ]
        held = all(row.status == "held" for row in rows)
        header = tn(chat.language, "digest.held" if held else "digest.title", len(rows))
        last_id = None
        try:
            for text in compose_digest(header, entries, chat.language):
                if not await self.sender.take_slot():
                    return 0
                message = await self.bot.send_message(
                    chat.id,
                    text,
                    parse_mode=ParseMode.HTML,
                    disable_notification=silent or None,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                last_id = message.message_id
        except RetryAfter as exc:
            self.sender.pause(retry_after_seconds(exc))
            return 0
        except Forbidden:
            await asyncio.to_thread(self.store.deactivate_chat, chat.id)
            return 0
        except TelegramError as exc:
            log.info("digest for chat %s failed, kept for the next pass: %s", chat.id, exc)
            return 0
        assert last_id is not None
        await asyncio.to_thread(
            self.store.mark_batch_sent, [row.id for row in rows if row.id is not None], last_id
        )
        return 1
