"""Day-before reminders of announced meetings, topics that reach their end, and the wrap-up
sent the next morning. One pass per call of `send_due`, with the clock passed in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.delivery.sender import Sender, retry_after_seconds
from bot.delivery.timing import in_quiet, zone
from bot.events.lifecycle import has_ended
from bot.render import event_texts
from bot.render.i18n import t
from bot.storage.events import EventStore
from bot.storage.models import Chat, Topic, utcnow

log = logging.getLogger(__name__)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _morning(now: datetime, chat: Chat) -> bool:
    """The chat's digest time has come today, and it is not quiet there."""
    local = now.astimezone(zone(chat.timezone))
    if local.time() < _clock(chat.digest_time or "08:00"):
        return False
    return not in_quiet(now, chat.timezone, chat.quiet_start, chat.quiet_end)


class Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"  # throttled or a network fault: the next pass tries again
    DROPPED = "dropped"  # the chat is gone or Telegram refuses the message itself


class EventNotifier:
    def __init__(
        self,
        events: EventStore,
        bot: Bot,
        sender: Sender,
        *,
        now: Callable[[], datetime] = utcnow,
        on_topics_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.events = events
        self.bot = bot
        self.sender = sender
        self.now = now
        self.on_topics_changed = on_topics_changed

    async def send_due(self, now: datetime | None = None) -> int:
        """End topics whose last day is over, then send due wrap-ups and reminders."""
        moment = now or self.now()
        sent = await self._lifecycle(moment)
        return sent + await self._reminders(moment)

    async def _reminders(self, now: datetime) -> int:
        today = now.astimezone(UTC).date()
        due = await asyncio.to_thread(self.events.unreminded, today, today + timedelta(days=2))
        sent = 0
        for event, chat in due:
            local_today = now.astimezone(zone(chat.timezone)).date()
            if event.start - local_today != timedelta(days=1) or not _morning(now, chat):
                continue
            if not await asyncio.to_thread(self.events.mark_reminded, event.id or 0):
                continue
            text = event_texts.reminder(event, chat.language)
            outcome = await self._send(chat, text)
            if outcome is Outcome.RETRY:
                await asyncio.to_thread(self.events.unmark_reminded, event.id or 0)
            sent += outcome is Outcome.SENT
        return sent

    async def _lifecycle(self, now: datetime) -> int:
        sent = 0
        for topic, chat in await asyncio.to_thread(self.events.watched_until):
            local_today = now.astimezone(zone(chat.timezone)).date()
            if topic.ended_at is None:
                await self._maybe_end(topic, local_today, now)
                continue
            if topic.ends_on is not None and local_today > topic.ends_on and _morning(now, chat):
                sent += await self._wrapup(topic, chat)
        return sent

    async def _maybe_end(self, topic: Topic, local_today: date, now: datetime) -> None:
        assert topic.id is not None
        ends_on = topic.ends_on
        if topic.until_event:
            soonest = await asyncio.to_thread(self.events.soonest_end, topic.id, local_today)
            ends_on = soonest or ends_on
        changes: dict[str, object] = {}
        if ends_on != topic.ends_on:
            changes["ends_on"] = ends_on
        if has_ended(ends_on, local_today):
            changes.update(active=False, ended_at=now)
        if changes:
            await asyncio.to_thread(
                self.events.store.update_topic, topic.chat_id, topic.id, **changes
            )
            if "ended_at" in changes:
                self.on_topics_changed()

    async def _wrapup(self, topic: Topic, chat: Chat) -> int:
        assert topic.id is not None and topic.ends_on is not None
        days = await asyncio.to_thread(self.events.event_days, topic.id) or (
            topic.ends_on,
            topic.ends_on,
        )
        tz = zone(chat.timezone)
        since = datetime.combine(days[0], time(0), tzinfo=tz)
        until = datetime.combine(days[1] + timedelta(days=1), time(0), tzinfo=tz)
        stories = await asyncio.to_thread(
            self.events.stories_between, chat.id, topic.id, since, until
        )
        updated = await asyncio.to_thread(
            self.events.store.update_topic, chat.id, topic.id, wrapup_sent=True
        )
        if updated is None:
            return 0
        text = event_texts.wrapup(topic.query, days, stories, chat.language)
        button = InlineKeyboardButton(
            t(chat.language, "events.keep_watching"), callback_data=f"ev:keep:{topic.id}"
        )
        outcome = await self._send(chat, text, InlineKeyboardMarkup([[button]]))
        if outcome is Outcome.RETRY:
            await asyncio.to_thread(
                self.events.store.update_topic, chat.id, topic.id, wrapup_sent=False
            )
        return int(outcome is Outcome.SENT)

    async def _send(
        self, chat: Chat, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> Outcome:
        """Marked before it is sent, so two passes cannot both send it; a send that may work
        later is unmarked by the caller (RETRY)."""
        if not await self.sender.take_slot():
            return Outcome.RETRY
        try:
            await self.bot.send_message(
                chat.id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except RetryAfter as exc:
            self.sender.pause(retry_after_seconds(exc))
            return Outcome.RETRY
        except Forbidden:
            await asyncio.to_thread(self.events.store.deactivate_chat, chat.id)
            return Outcome.DROPPED
        except BadRequest as exc:
            log.info("event message for chat %s refused: %s", chat.id, exc)
            return Outcome.DROPPED
        except TelegramError as exc:
            log.info("event message for chat %s failed, tried again later: %s", chat.id, exc)
            return Outcome.RETRY
        return Outcome.SENT
