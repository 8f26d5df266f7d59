"""The alert delay a user sees, from the outbox: publication (or first sight, when earlier or
undated) to Telegram accepting the alert."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Histogram

from bot.storage.models import utcnow
from bot.storage.push import PushStore


class DelayObserver:
    """Feeds `summit_alert_delay_seconds` with the alerts sent since it last looked. Runs in
    the process that sends (the bot role), so each alert is observed once."""

    def __init__(
        self, push_store: PushStore, histogram: Histogram, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.push_store = push_store
        self.histogram = histogram
        self.since = clock()
        self._lock = asyncio.Lock()

    async def observe(self) -> int:
        async with self._lock:
            alerts = await asyncio.to_thread(self.push_store.sent_alerts, self.since)
            for alert in alerts:
                self.histogram.observe(alert.delay_seconds)
            if alerts:
                self.since = alerts[-1].sent_at
            return len(alerts)
