"""What the poll schedule learns from push and burst mode: which sources a hub pushes (polled
only as a safety net) and which serve a bursting topic (polled at POLL_MIN_INTERVAL)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.push.burst import BurstRule
from bot.storage.models import utcnow
from bot.storage.push import PushStore

log = logging.getLogger(__name__)

REFRESH_EVERY = 20.0  # seconds between reads of the subscriptions and the match rates
SAFETY_INTERVAL = 3600.0


@dataclass
class ScheduleHints:
    push_store: PushStore
    min_interval: float
    safety_interval: float = SAFETY_INTERVAL
    rule: BurstRule = field(default_factory=BurstRule)
    clock: Callable[[], datetime] = utcnow
    refresh_every: float = REFRESH_EVERY
    pushed: set[int] = field(default_factory=set)
    bursting_topics: set[int] = field(default_factory=set)
    bursting_sources: set[int] = field(default_factory=set)
    _read_at: float = -1e9
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self, *, force: bool = False) -> None:
        """Read the state again, at most every `refresh_every` seconds unless forced."""
        if not force and time.monotonic() - self._read_at < self.refresh_every:
            return
        async with self._lock:
            if not force and time.monotonic() - self._read_at < self.refresh_every:
                return
            await asyncio.to_thread(self.read)
            self._read_at = time.monotonic()

    def read(self) -> None:
        now = self.clock()
        pushed = self.push_store.pushed_sources()
        topics = self.rule.decide(
            self.push_store.match_counts(now, self.rule.window, self.rule.baseline)
        )
        sources: set[int] = set()
        if topics:
            # The outlets that carried the topic over the whole baseline, not only the window:
            # the next report of a breaking story often comes from another outlet.
            found = self.push_store.story_sources(
                topics, now - self.rule.window - self.rule.baseline
            )
            sources = set().union(*found.values())
        started = sources - self.bursting_sources
        if started:
            moved = self.push_store.hasten(started, self.min_interval, now)
            log.info("burst mode for topics %s: %d sources polled sooner", sorted(topics), moved)
        elif self.bursting_topics and not topics:
            log.info("burst mode ended")
        self.pushed, self.bursting_topics, self.bursting_sources = pushed, topics, sources

    def interval(self, source_id: int, interval: float, floor: float | None = None) -> float:
        """The next interval of a source, as the schedule computed it, adjusted: bursting
        sources at the minimum (never under the server's own floor), pushed ones at least at
        the safety-net interval."""
        if source_id in self.bursting_sources:
            return min(interval, max(self.min_interval, floor or 0.0))
        if source_id in self.pushed:
            return max(interval, self.safety_interval)
        return interval

    async def missed(self, source_id: int) -> None:
        """A poll found entries the source's hub never pushed: the hub is silent or lossy, so
        the source goes back to its usual polling until the hub delivers again."""
        if source_id not in self.pushed:
            return
        self.pushed.discard(source_id)
        log.info("source %s: its hub missed entries; polling takes over", source_id)
        await asyncio.to_thread(self.push_store.distrust, source_id)
