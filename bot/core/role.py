"""The parts both long-running roles, the bot (`bot.app`) and a scaled worker
(`bot.scale.worker`), build from `Settings`: the database, the fetcher, the metrics, the
schedule hints, the poller and the health listener."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from bot.config import Settings, load_configured_aliases
from bot.core import make_fetcher
from bot.observability import HealthServer, Metrics, RequestRoute
from bot.pipeline.lanes import IngestLane
from bot.pipeline.poller import FeedHandler, Poller, PollOutcome, RetiredHandler
from bot.pipeline.topics import TopicCache
from bot.push.hints import ScheduleHints
from bot.push.subscriber import HubDiscovery
from bot.sources.articles import ArticleFetcher
from bot.sources.fetch import Fetcher
from bot.sources.schedule import Clamp
from bot.storage.db import make_engine
from bot.storage.models import utcnow
from bot.storage.push import PushStore
from bot.storage.store import Store


class Role(ABC):
    """One long-running process: a subclass adds what its role runs, builds `poller` with
    `build_poller`, and stops with `close` last."""

    poller: Poller
    tick_at_most = 15.0  # seconds between looks for due sources, at most

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.store = Store(self.engine)
        self.aliases_file, self.aliases = load_configured_aliases(settings)
        self.fetcher = fetcher if fetcher is not None else make_fetcher(settings)
        self.metrics = Metrics()
        self.articles = ArticleFetcher(self.fetcher)
        self.push_store = PushStore(self.store)
        self.hints = ScheduleHints(
            self.push_store,
            min_interval=settings.poll_min_interval,
            safety_interval=settings.push_safety_interval,
        )
        self.health_server: HealthServer | None = None

    @property
    def poll_tick(self) -> float:
        """How often due sources are looked for: often enough for the shortest interval."""
        return max(0.5, min(self.settings.poll_interval / 2, self.tick_at_most))

    def build_poller(
        self,
        topics: TopicCache,
        *,
        on_enqueued: Callable[[], None],
        on_retired: RetiredHandler,
        on_feed: FeedHandler | None,
        lane: IngestLane | None = None,
    ) -> Poller:
        settings = self.settings
        return Poller(
            self.store,
            self.fetcher,
            topics,
            default_interval=settings.poll_interval,
            clamp=Clamp(settings.poll_min_interval, settings.poll_max_interval),
            articles=self.articles,
            full_text=settings.full_text,
            full_text_per_poll=settings.full_text_per_poll,
            story_window=timedelta(days=settings.story_window_days),
            on_enqueued=on_enqueued,
            on_retired=on_retired,
            lane=lane,
            hints=self.hints,
            on_feed=on_feed,
        )

    def hub_discovery(self, on_new: Callable[[], None]) -> HubDiscovery:
        """Notes the WebSub hubs that polled feeds name."""
        return HubDiscovery(
            self.push_store, allow_private=self.settings.allow_private_networks, on_new=on_new
        )

    def serve_health(
        self, request_routes: Mapping[str, RequestRoute] | None = None
    ) -> HealthServer | None:
        """The /healthz and /metrics listener, when HEALTH_PORT is set."""
        if self.settings.health_port:
            self.health_server = HealthServer(
                self.metrics,
                self.health,
                self.refresh_gauges,
                port=self.settings.health_port,
                request_routes=request_routes,
                max_body=self.settings.fetch_max_bytes,
            )
        return self.health_server

    def record(self, outcome: PollOutcome) -> None:
        self.metrics.polls.labels(outcome.status).inc()
        if outcome.error_kind:
            self.metrics.fetch_errors.labels(outcome.error_kind).inc()
        self.metrics.items_seen.inc(outcome.new_items)
        self.metrics.matches.inc(outcome.alerts)

    async def database_state(self) -> str:
        try:
            await asyncio.wait_for(asyncio.to_thread(self.store.ping), 5)
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    def last_poll_age(self) -> float | None:
        """Seconds since the last poll cycle (or refresh job) ended; None before the first."""
        last = self.poller.last_cycle_at
        return round((utcnow() - last).total_seconds(), 1) if last is not None else None

    @abstractmethod
    async def health(self) -> dict[str, Any]: ...

    async def refresh_gauges(self) -> None:
        await self.metrics.refresh_from(self.store, self.poller.last_cycle_at)

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def close(self) -> None:
        """Close what every role opened: the poller's threads, the fetcher, the database."""
        self.poller.close()
        await self.fetcher.aclose()
        self.engine.dispose()
