"""`summit-watch run --role worker`: refreshes sources from the job queue, any number at once.

A worker runs three things on one event loop:

- a procrastinate worker that takes `refresh_source` jobs (WORKER_CONCURRENCY at a time) and
  runs the usual pipeline for one source (`Poller`): fetch, parse, extract, dedup, match,
  outbox rows, in the same transactions as the single-process bot;
- the deferrer, which queues a job for every due source (one worker at a time does it, see
  `queue.lease_due_sources`) and puts back the jobs of workers that died (`recover_stalled`);
- the notifier, which tells the bot about new outbox rows (`notify`).

With HEALTH_PORT set it serves /healthz and /metrics of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from typing import Any

from procrastinate.jobs import Job
from prometheus_client import Counter, Gauge
from sqlalchemy.exc import OperationalError
from telegram import Bot
from telegram.error import TelegramError

from bot.config import Settings
from bot.core import SHUTDOWN_GRACE, fetcher_options
from bot.core.role import Role
from bot.delivery.notices import tell_source_gone
from bot.domain import FetchResult
from bot.pipeline.topics import TopicCache
from bot.scale.hosts import HostSlots, SharedHostLimiter
from bot.scale.notify import OutboxNotifier
from bot.scale.pg import conninfo
from bot.scale.queue import (
    DEFER_BATCH,
    QUEUE,
    SOURCE_LEASE,
    ensure_queue_schema,
    lease_due_sources,
    make_app,
    queue_refreshes,
    recover_stalled,
)
from bot.sources.fetch import Fetcher
from bot.sources.hosts import LocalHostLimiter
from bot.storage.migrate import upgrade_database
from bot.storage.models import Source, utcnow

log = logging.getLogger(__name__)

TOPICS_MAX_AGE = 1.0  # seconds a worker matches with a cached copy of the active topics
RESTART_DELAY = 2.0
DEFER_EVERY = 2.0  # seconds between deferrer passes at most
RUNNING_LINE = "Summit Watch is running (worker)"


class WorkerRuntime(Role):
    """Everything one worker process runs."""

    tick_at_most = DEFER_EVERY  # due sources are a cheap indexed query: every few seconds

    def __init__(self, settings: Settings) -> None:
        self.slots = HostSlots(conninfo(settings.database_url), settings.fetch_per_host)
        hosts = SharedHostLimiter(self.slots, LocalHostLimiter(settings.fetch_per_host))
        super().__init__(settings, Fetcher(host_limiter=hosts, **fetcher_options(settings)))
        self.app = make_app(settings.database_url)
        self.notifier = OutboxNotifier(self._execute)
        self.topics = TopicCache(self.aliases)
        # The bot role subscribes; workers note the hubs their polls find.
        discovery = self.hub_discovery(on_new=lambda: None) if settings.public_url else None
        self.poller = self.build_poller(
            self.topics,
            on_enqueued=self.notifier.poke,
            on_retired=self.tell_source_gone,
            on_feed=discovery.note if discovery is not None else None,
        )
        self.bot: Bot | None = None
        if settings.telegram_bot_token:
            self.bot = Bot(
                settings.telegram_bot_token,
                base_url=settings.telegram_base_url,
                base_file_url=settings.telegram_file_url,
            )
        registry = self.metrics.registry
        self.jobs_queued = Counter(
            "summit_jobs_queued", "Refresh jobs this worker's deferrer queued", registry=registry
        )
        self.jobs_recovered = Counter(
            "summit_jobs_recovered", "Jobs of dead workers queued again", registry=registry
        )
        self.jobs_running = Gauge(
            "summit_jobs_running", "Refresh jobs running in this worker", registry=registry
        )
        self.host_waits = Gauge(
            "summit_host_slot_waits",
            "Times a request found every shared slot of its host taken",
            registry=registry,
        )
        self.serve_health()
        self.worker_id: int | None = None
        self.refreshes = 0
        self._stop = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._side_tasks: list[asyncio.Task[None]] = []
        self._topics_at = -1e9
        self._topics_lock = asyncio.Lock()
        self._bot_ready = False
        self._started = False

    async def start(self) -> None:
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # procrastinate logs two lines per job at INFO: too many for thousands of sources.
            logging.getLogger("procrastinate").setLevel(logging.WARNING)
        await asyncio.to_thread(upgrade_database, self.engine)
        await asyncio.to_thread(ensure_queue_schema, self.engine)
        await self.app.open_async()
        self._worker_task = asyncio.create_task(self._run_worker(), name="queue-worker")
        self._side_tasks = [
            asyncio.create_task(self._defer_loop(), name="deferrer"),
            asyncio.create_task(self.notifier.run(self._stop), name="notifier"),
        ]
        if self.health_server is not None:
            await self.health_server.start()
        self._started = True
        log.info(RUNNING_LINE)

    async def _execute(self, query: Any) -> None:
        await self.app.connector.execute_query_async(query)

    # -- taking jobs ----------------------------------------------------------------------

    async def _run_worker(self) -> None:
        """The procrastinate worker; started again if it stops by itself (a lost database)."""
        while not self._stop.is_set():
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE],
                    name="summit-watch",
                    concurrency=self.settings.worker_concurrency,
                    install_signal_handlers=False,
                    delete_jobs="always",
                    additional_context={"refresh": self.refresh, "pushed": self.ingest_pushed},
                    fetch_job_polling_interval=1.0,
                    update_heartbeat_interval=self.settings.worker_heartbeat,
                    stalled_worker_timeout=self.settings.worker_stalled_after,
                    shutdown_graceful_timeout=SHUTDOWN_GRACE,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the job worker stopped (%s); starting it again", type(exc).__name__)
            if not self._stop.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), RESTART_DELAY)

    async def refresh(self, source_id: int, job: Job) -> str:
        """One job: refresh one source with the usual pipeline."""
        self.worker_id = job.worker_id
        source = await asyncio.to_thread(self.store.get_source, source_id)
        if source is None or source.retired:
            return "gone"
        await self._fresh_topics()
        await self.hints.refresh()
        self.jobs_running.inc()
        try:
            # One bad source records its error instead of failing the job.
            outcome = await self.poller.poll_safely(source)
        finally:
            self.jobs_running.dec()
        self.record(outcome)
        self.refreshes += 1
        self.poller.last_cycle_at = utcnow()
        return outcome.status

    async def ingest_pushed(self, source_id: int, body: bytes, content_type: str) -> str:
        """One job: a WebSub delivery the bot role accepted, read like a poll's body."""
        source = await asyncio.to_thread(self.store.get_source, source_id)
        if source is None or source.retired:
            return "gone"
        result = FetchResult(source.url, source.url, 200, body, {"content-type": content_type})
        outcome = await self.poller.ingest_pushed(source, result)
        self.record(outcome)
        return outcome.status

    async def _fresh_topics(self) -> None:
        """Match against active topics at most TOPICS_MAX_AGE old (one query for many jobs)."""
        if time.monotonic() - self._topics_at < TOPICS_MAX_AGE:
            return
        async with self._topics_lock:
            if time.monotonic() - self._topics_at < TOPICS_MAX_AGE:
                return
            active = await asyncio.to_thread(self.store.active_topics)
            self.topics.refresh(active)
            self._topics_at = time.monotonic()

    # -- queueing jobs --------------------------------------------------------------------

    async def _defer_loop(self) -> None:
        recovery_every = max(1.0, self.settings.worker_stalled_after / 4)
        next_recovery = 0.0
        database_down = False
        while not self._stop.is_set():
            leased: list[int] | None = None
            try:
                leased = await asyncio.to_thread(
                    lease_due_sources, self.engine, utcnow(), lease=SOURCE_LEASE
                )
                if leased:
                    self.jobs_queued.inc(await queue_refreshes(self.app, leased))
                if time.monotonic() >= next_recovery:
                    next_recovery = time.monotonic() + recovery_every
                    recovered = await recover_stalled(
                        self.app, stalled_after=self.settings.worker_stalled_after
                    )
                    self.jobs_recovered.inc(recovered)
                if database_down:
                    log.info("deferrer: database reachable again")
                    database_down = False
            except Exception as exc:
                if not database_down:
                    log.warning("deferrer pass skipped: %s", type(exc).__name__)
                database_down = isinstance(exc, OperationalError) or database_down
            if leased is not None and len(leased) >= DEFER_BATCH:
                continue  # a backlog: queue the next batch at once
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_tick)

    # -- the rest -------------------------------------------------------------------------

    async def tell_source_gone(self, source: Source, chats: set[int]) -> None:
        if self.bot is None:
            log.info("source %s is gone; no token to tell its %d chats", source.url, len(chats))
            return
        try:
            if not self._bot_ready:
                await self.bot.initialize()
                self._bot_ready = True
            await tell_source_gone(self.bot, self.store, source, chats)
        except TelegramError as exc:
            log.info("could not reach Telegram to tell chats a source is gone: %s", exc)

    async def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {"role": "worker", "worker_id": self.worker_id}
        report["database"] = await self.database_state()
        alive = self._worker_task is not None and not self._worker_task.done()
        report["worker"] = "ok" if alive else "stopped"
        report["refreshes"] = self.refreshes
        report["last_refresh_age_seconds"] = self.last_poll_age()
        report["ok"] = report["database"] == "ok" and alive
        return report

    async def refresh_gauges(self) -> None:
        await super().refresh_gauges()
        self.host_waits.set(self.slots.waits)

    async def stop(self) -> None:
        """Let jobs in flight finish (up to SHUTDOWN_GRACE), then close everything."""
        self._stop.set()
        if self.health_server is not None:
            await self.health_server.stop()
        if self._worker_task is not None:
            self._worker_task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._worker_task, SHUTDOWN_GRACE + 2)
        for task in self._side_tasks:
            task.cancel()
        await asyncio.gather(*self._side_tasks, return_exceptions=True)
        if self._started:
            with suppress(Exception):
                await self.app.close_async()
        if self._bot_ready and self.bot is not None:
            with suppress(Exception):
                await self.bot.shutdown()
        await self.slots.aclose()
        await self.close()
