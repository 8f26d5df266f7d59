"""Alerts in the reader's language: translations fetched before sending, never holding it up.

The sender asks `prepare` about each pass's rows. A row whose chat wants translations and whose
item is in another language gets its stored translation, or is held back while one is fetched,
for at most `wait` seconds from when it was first seen; then it goes out as it is. Requests
for the same item and language are one request, whichever chats want it; they are sent in
batches, one call at a time, at most `rate` calls a second. After a failure the service is
left alone for `cooldown` seconds, so alerts are not held for a service that is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.language.clean import clean_translation
from bot.language.detect import normalize_code
from bot.language.service import LibreTranslate, TranslateError, Unsupported
from bot.render.format import AlertView
from bot.storage.models import Chat, Delivery, Translation, utcnow
from bot.storage.store import Store
from bot.storage.translations import Key, TranslationStore

log = logging.getLogger(__name__)

MEMORY = 5000  # translations kept in memory, besides the table
UNSUPPORTED_FOR = 3600.0  # a language pair the service lacks is not asked about again for this


@dataclass(frozen=True, slots=True)
class AlertTranslation:
    title: str
    summary: str
    source: str  # the item's language
    target: str


@dataclass
class TranslationStats:
    translated: int = 0  # items translated by the service
    cached: int = 0  # alerts that used a stored translation
    failed: int = 0  # calls that failed
    late: int = 0  # alerts sent untranslated because their translation did not come in time
    unsupported: int = 0  # items in a language pair the service lacks
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Wanted:
    key: Key
    source: str
    title: str
    summary: str


def wanted_target(chat: Chat | None) -> str | None:
    if chat is None or not chat.translate:
        return None
    return normalize_code(chat.translate_to or chat.language)


class AlertTranslator:
    def __init__(
        self,
        service: LibreTranslate,
        store: TranslationStore,
        *,
        wait: float = 4.0,
        rate: float = 2.0,
        batch: int = 16,
        cooldown: float = 30.0,
        on_ready: Callable[[], None] = lambda: None,
        on_event: Callable[[str], None] = lambda _kind: None,
    ) -> None:
        self.service = service
        self.store = store
        self.wait = wait
        self.spacing = 1.0 / rate
        self.batch = batch
        self.cooldown = cooldown
        self.on_ready = on_ready
        self.on_event = on_event
        self.stats = TranslationStats()
        self._memory: dict[Key, AlertTranslation] = {}
        self._queue: dict[Key, _Wanted] = {}
        self._in_flight: set[Key] = set()
        self._first_seen: dict[int, float] = {}
        self._unsupported: dict[tuple[str, str], float] = {}
        self._quiet_until = 0.0
        self._last_call = -1e9
        self._worker: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        await self.service.close()

    # -- what the sender asks ------------------------------------------------------------

    async def prepare(self, rows: list[Delivery]) -> tuple[dict[int, AlertTranslation], set[int]]:
        """Translations for the rows that have one now, and the ids of rows to hold back."""
        chats = await asyncio.to_thread(self.store.chats, {row.chat_id for row in rows})
        wanted: dict[int, _Wanted] = {}
        for row in rows:
            want = self._wanted(row, chats.get(row.chat_id))
            if want is not None and row.id is not None:
                wanted[row.id] = want
        if not wanted:
            return {}, set()
        known = await self._known({want.key for want in wanted.values()})
        ready: dict[int, AlertTranslation] = {}
        held: set[int] = set()
        now = time.monotonic()
        for row_id, want in wanted.items():
            found = known.get(want.key)
            if found is not None:
                ready[row_id] = found
                self.stats.cached += 1
                self._first_seen.pop(row_id, None)
            elif self._may_wait(row_id, want, now):
                held.add(row_id)
            else:
                self._first_seen.pop(row_id, None)
        if len(self._first_seen) > 10_000:
            self._first_seen = {k: v for k, v in self._first_seen.items() if now - v < self.wait}
        return ready, held

    async def stored(self, rows: list[Delivery]) -> dict[int, AlertTranslation]:
        """Translations already at hand, for alerts being edited: never asks the service."""
        chats = await asyncio.to_thread(self.store.chats, {row.chat_id for row in rows})
        wanted = {
            row.id: want
            for row in rows
            if row.id is not None and (want := self._wanted(row, chats.get(row.chat_id)))
        }
        known = await self._known({want.key for want in wanted.values()})
        return {row_id: known[w.key] for row_id, w in wanted.items() if w.key in known}

    def _wanted(self, row: Delivery, chat: Chat | None) -> _Wanted | None:
        target = wanted_target(chat)
        if target is None or not row.view:
            return None
        view = AlertView.from_json(row.view)
        source = normalize_code(view.source_lang)
        if source is None or source == target:
            return None
        return _Wanted((row.item_id, target), source, view.title, view.summary)

    async def _known(self, keys: set[Key]) -> dict[Key, AlertTranslation]:
        found = {key: self._memory[key] for key in keys if key in self._memory}
        missing = keys - set(found)
        if missing:
            for key, row in (await asyncio.to_thread(self.store.get, missing)).items():
                found[key] = self._remember(
                    key, AlertTranslation(row.title, row.summary, row.source, row.target)
                )
        return found

    def _remember(self, key: Key, translation: AlertTranslation) -> AlertTranslation:
        if len(self._memory) >= MEMORY:
            self._memory.pop(next(iter(self._memory)))
        self._memory[key] = translation
        return translation

    def _may_wait(self, row_id: int, want: _Wanted, now: float) -> bool:
        """Whether the row is held for its translation (asking for it if need be)."""
        pair = (want.source, want.key[1])
        if now < self._unsupported.get(pair, 0.0):
            self.stats.unsupported += 1
            return False
        first = self._first_seen.setdefault(row_id, now)
        if now - first >= self.wait:
            self.stats.late += 1
            self.on_event("late")
            return False
        if want.key in self._queue or want.key in self._in_flight:
            return True
        if now < self._quiet_until:
            return False
        self._queue[want.key] = want
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return True

    # -- calls to the service ------------------------------------------------------------

    async def _drain(self) -> None:
        while self._queue:
            first = next(iter(self._queue.values()))
            pair = (first.source, first.key[1])
            group = [w for w in self._queue.values() if (w.source, w.key[1]) == pair]
            group = group[: self.batch]
            for want in group:
                del self._queue[want.key]
                self._in_flight.add(want.key)
            try:
                await asyncio.sleep(max(0.0, self._last_call + self.spacing - time.monotonic()))
                self._last_call = time.monotonic()
                await self._call(group, *pair)
            except Exception:
                log.exception("translation batch failed")
            finally:
                self._in_flight.difference_update(want.key for want in group)
                self.on_ready()

    async def _call(self, group: list[_Wanted], source: str, target: str) -> None:
        texts = [text for want in group for text in (want.title, want.summary)]
        try:
            pairs = await self.service.languages()
            if pairs is not None and target not in pairs.get(source, set()):
                raise Unsupported(f"{source} -> {target}")
            output = await asyncio.wait_for(
                self.service.translate(texts, source, target), self.wait
            )
        except Unsupported:
            self._unsupported[(source, target)] = time.monotonic() + UNSUPPORTED_FOR
            return
        except (TranslateError, TimeoutError) as exc:
            self._failed(str(exc) or "timed out")
            return
        rows = []
        for index, want in enumerate(group):
            title = clean_translation(want.title, output[2 * index])
            summary = clean_translation(want.summary, output[2 * index + 1])
            self._remember(want.key, AlertTranslation(title, summary, source, target))
            rows.append(Translation(item_id=want.key[0], target=target, source=source,
                                    title=title, summary=summary))  # fmt: skip
        self.stats.translated += len(rows)
        self.on_event("translated")
        await asyncio.to_thread(self.store.put, rows)

    def _failed(self, reason: str) -> None:
        self.stats.failed += 1
        self.stats.last_error = reason[:200]
        self.stats.last_error_at = utcnow()
        self._quiet_until = time.monotonic() + self.cooldown
        self.on_event("failed")
        log.warning("translation service failed: %s", reason)


def build_translator(
    settings: Settings,
    store: Store,
    *,
    on_ready: Callable[[], None],
    on_event: Callable[[str], None],
) -> AlertTranslator | None:
    """The translator the settings ask for, or None when TRANSLATE_URL is not set."""
    if not settings.translate_url:
        return None
    service = LibreTranslate(
        settings.translate_url, settings.translate_api_key, timeout=settings.translate_wait
    )
    return AlertTranslator(
        service,
        TranslationStore(store),
        wait=settings.translate_wait,
        rate=settings.translate_rate,
        on_ready=on_ready,
        on_event=on_event,
    )
