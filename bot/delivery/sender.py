"""The sender drains the outbox. A row is marked sent only after Telegram accepted it."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.delivery.render import alert_buttons, render_alert
from bot.delivery.timing import in_quiet
from bot.delivery.translate import AlertTranslation, AlertTranslator
from bot.storage.models import Delivery, Story, utcnow
from bot.storage.store import Store

log = logging.getLogger(__name__)

PRIVATE_SPACING = 1.0  # Telegram: about one message per second to the same chat
MAX_RATE = 29.0  # sends per second over all chats: Telegram allows about 30
MAX_BAD_REQUESTS = 5
MAX_BACKOFF = 3600.0
_TAG = re.compile(r"<[^>]+>")


def retry_after_seconds(exc: RetryAfter) -> float:
    value = exc._retry_after if hasattr(exc, "_retry_after") else exc.retry_after
    if isinstance(value, timedelta):
        return max(0.0, value.total_seconds())
    return max(0.0, float(value))


def plain_text(html_text: str) -> str:
    return html.unescape(_TAG.sub("", html_text))


def send_backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 2.0 * (2**attempts))


@dataclass(frozen=True, slots=True)
class Prepared:
    ready: dict[int, AlertTranslation]
    held: set[int]


@dataclass
class SenderStats:
    sent: int = 0
    retry_after: int = 0
    errors: int = 0
    blocked: int = 0
    migrated: int = 0


class Sender:
    def __init__(
        self,
        store: Store,
        bot: Bot,
        *,
        max_in_flight: int = 30,
        batch: int = 300,
        max_rate: float = MAX_RATE,
        on_event: Callable[[str], None] = lambda _kind: None,
        translator: AlertTranslator | None = None,
    ) -> None:
        self.store = store
        self.bot = bot
        self.translator = translator
        self.max_in_flight = max_in_flight
        self.batch = batch
        self.on_event = on_event
        self.stats = SenderStats()
        self._wake = asyncio.Event()
        self._paused_until = 0.0
        self._last_sent: dict[int, float] = {}
        self._in_flight: set[int] = set()
        # Sends start evenly spaced, at most max_rate a second, so a fan-out stays under the
        # flood limit instead of bursting into 429s and the pauses they impose.
        self._spacing = 1.0 / max_rate
        self._slot_lock = asyncio.Lock()
        self._next_slot = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; sends in flight finish, everything else stays queued."""
        while not stop.is_set():
            try:
                sent = await self.send_due(stop)
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            pause = max(0.0, self._paused_until - time.monotonic())
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=pause or 1.0, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """One pass over due rows: at most one row per chat, paced per chat."""
        if time.monotonic() < self._paused_until:
            return 0
        rows = await asyncio.to_thread(self.store.due_deliveries, utcnow(), self.batch)
        now = time.monotonic()
        if len(self._last_sent) > 10_000:
            # Entries older than the spacing no longer hold anything back.
            self._last_sent = {
                chat: at for chat, at in self._last_sent.items() if now - at < PRIVATE_SPACING
            }
        picked: list[Delivery] = []
        chats: set[int] = set()
        for row in rows:
            if row.chat_id in chats or row.chat_id in self._in_flight:
                continue
            if row.chat_id > 0 and now - self._last_sent.get(row.chat_id, -1e9) < PRIVATE_SPACING:
                continue
            chats.add(row.chat_id)
            picked.append(row)
        if not picked:
            return 0
        picked, silent = await self._apply_quiet_hours(picked)
        translations = await self._translations(picked)
        picked = [row for row in picked if row.id not in translations.held]
        semaphore = asyncio.Semaphore(self.max_in_flight)
        stories = await asyncio.to_thread(
            self.store.stories, [row.story_id for row in picked if row.story_id is not None]
        )

        async def guarded(row: Delivery) -> bool:
            async with semaphore:
                if not await self.take_slot(stop):
                    return False
                story = stories.get(row.story_id) if row.story_id is not None else None
                translation = translations.ready.get(row.id) if row.id is not None else None
                return await self.send_one(
                    row, story, silent=row.chat_id in silent, translation=translation
                )

        results = await asyncio.gather(*(guarded(row) for row in picked))
        return sum(results)

    async def _translations(self, rows: list[Delivery]) -> Prepared:
        """Translations ready for these rows, and the rows held back while one is fetched."""
        if self.translator is None or not rows:
            return Prepared({}, set())
        try:
            return Prepared(*await self.translator.prepare(rows))
        except Exception:  # alerts go out as they are rather than not at all
            log.exception("preparing translations failed")
            return Prepared({}, set())

    async def _apply_quiet_hours(self, rows: list[Delivery]) -> tuple[list[Delivery], set[int]]:
        """Chats in their quiet hours get alerts without sound, or hold them for later."""
        chats = await asyncio.to_thread(self.store.chats, {row.chat_id for row in rows})
        now = utcnow()
        quiet = {
            chat_id
            for chat_id, chat in chats.items()
            if in_quiet(now, chat.timezone, chat.quiet_start, chat.quiet_end)
        }
        if not quiet:
            return rows, set()
        sending = []
        for row in rows:
            if row.chat_id in quiet and chats[row.chat_id].quiet_mode == "hold":
                assert row.id is not None
                await asyncio.to_thread(self.store.hold, row.id)
            else:
                sending.append(row)
        return sending, quiet

    def _halted(self, stop: asyncio.Event | None) -> bool:
        return (stop is not None and stop.is_set()) or time.monotonic() < self._paused_until

    def pause(self, seconds: float) -> None:
        """Hold every send and edit for `seconds` (Telegram's retry_after)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def take_slot(self, stop: asyncio.Event | None = None) -> bool:
        """Wait for the next send slot; False if sending should stop instead.

        Slots are `spacing` apart on a fixed schedule, so waking a little late each time
        does not slow sending down, and a send that starts late moves the schedule along,
        so sends never bunch up by more than a quarter of the spacing. When the event loop
        stalled for longer than a spacing (e.g. garbage collection), the previous send may
        be leaving only now, so the next one waits a full spacing more.
        """
        async with self._slot_lock:
            stalled = False
            while True:
                if self._halted(stop):
                    return False
                slot = max(self._next_slot, time.monotonic())
                wait = slot - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
                woke = time.monotonic()
                if stalled or woke - slot <= self._spacing:
                    if self._halted(stop):
                        return False
                    break
                stalled = True  # wait once more, never twice: a slow loop still sends
                self._next_slot = woke + self._spacing
            started = time.monotonic()
            self._next_slot = max(slot, started - self._spacing / 4) + self._spacing
            return True

    async def send_one(
        self,
        row: Delivery,
        story: Story | None = None,
        *,
        silent: bool = False,
        translation: AlertTranslation | None = None,
    ) -> bool:
        assert row.id is not None
        self._in_flight.add(row.chat_id)
        try:
            text = render_alert(row, story, translation)
            rendered = story.updated_at if story is not None else None
            message = await self._send(
                row, text, ParseMode.HTML, silent=silent, translated=translation is not None
            )
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            self.stats.retry_after += 1
            self.on_event("retry_after")
            self.pause(wait)
            await asyncio.to_thread(
                self.store.mark_retry,
                row.id,
                at=utcnow() + timedelta(seconds=wait),
                error=str(exc),
                attempt=False,
            )
            return False
        except Forbidden as exc:
            self.stats.blocked += 1
            self.on_event("forbidden")
            log.info("chat %s blocked or removed the bot: %s", row.chat_id, exc.message)
            await asyncio.to_thread(self.store.deactivate_chat, row.chat_id)
            return False
        except ChatMigrated as exc:
            self.stats.migrated += 1
            self.on_event("migrated")
            await asyncio.to_thread(self.store.migrate_chat, row.chat_id, int(exc.new_chat_id))
            self.wake()
            return False
        except BadRequest as exc:
            return await self._bad_request(row, exc, text)
        except (NetworkError, TelegramError) as exc:
            # Timeouts land here too: the message may have gone out, but losing one is worse.
            self.stats.errors += 1
            self.on_event("network")
            await asyncio.to_thread(
                self.store.mark_retry,
                row.id,
                at=utcnow() + timedelta(seconds=send_backoff(row.attempts)),
                error=str(exc),
                attempt=True,
            )
            return False
        finally:
            self._in_flight.discard(row.chat_id)
            self._last_sent[row.chat_id] = time.monotonic()
        await asyncio.to_thread(self.store.mark_sent, row.id, message.message_id, rendered)
        self.stats.sent += 1
        self.on_event("sent")
        return True

    async def _send(
        self,
        row: Delivery,
        text: str,
        parse_mode: str | None,
        *,
        thread: bool = True,
        silent: bool = False,
        translated: bool = False,
    ) -> Message:
        return await self.bot.send_message(
            chat_id=row.chat_id,
            text=text,
            parse_mode=parse_mode,
            disable_notification=silent or None,
            message_thread_id=row.thread_id if thread else None,
            link_preview_options=LinkPreviewOptions(url=row.link) if row.link else None,
            reply_markup=alert_buttons(row, translated=translated),
        )

    async def _bad_request(self, row: Delivery, exc: BadRequest, rendered: str) -> bool:
        """`rendered` is the alert as it was just rendered: a fallback sends that, not the
        text stored when the item was claimed (the story may have grown since)."""
        assert row.id is not None
        self.stats.errors += 1
        self.on_event("bad_request")
        reason = exc.message.lower()
        if "chat not found" in reason or "bot was kicked" in reason:
            await asyncio.to_thread(self.store.deactivate_chat, row.chat_id)
            return False
        fallback: tuple[str, str | None, bool] | None = None
        if "can't parse entities" in reason:
            # Our HTML was refused; the reader still gets the alert as plain text.
            fallback = (plain_text(rendered), None, True)
        elif "thread not found" in reason:
            # The forum topic was deleted; the chat itself still gets its alerts.
            fallback = (rendered, ParseMode.HTML, False)
        if fallback is not None:
            if not await self.take_slot():
                # A flood-limit pause began: try again after it, without counting an attempt.
                pause = max(0.0, self._paused_until - time.monotonic())
                await asyncio.to_thread(
                    self.store.mark_retry,
                    row.id,
                    at=utcnow() + timedelta(seconds=pause),
                    error=exc.message,
                    attempt=False,
                )
                return False
            text, parse_mode, thread = fallback
            try:
                message = await self._send(row, text, parse_mode, thread=thread)
            except TelegramError as second:
                exc = second if isinstance(second, BadRequest) else exc
            else:
                await asyncio.to_thread(self.store.mark_sent, row.id, message.message_id)
                self.stats.sent += 1
                self.on_event("sent")
                return True
        if row.attempts + 1 >= MAX_BAD_REQUESTS:
            log.warning("delivery %s failed for good: %s", row.id, exc.message)
            await asyncio.to_thread(self.store.mark_failed, row.id, exc.message)
            return False
        await asyncio.to_thread(
            self.store.mark_retry,
            row.id,
            at=utcnow() + timedelta(seconds=send_backoff(row.attempts)),
            error=exc.message,
            attempt=True,
        )
        return False
