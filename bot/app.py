"""The composition root: builds every part from Settings, starts them, and stops them in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from bot.config import USER_AGENT, Settings, load_sources
from bot.core import SHUTDOWN_GRACE
from bot.core.role import Role
from bot.delivery.batches import BatchSender
from bot.delivery.editor import StoryEditor
from bot.delivery.flood import FloodControl
from bot.delivery.notices import tell_source_gone
from bot.delivery.reminders import EventNotifier
from bot.delivery.sender import Sender
from bot.delivery.translate import build_translator
from bot.domain import FetchResult
from bot.pipeline.lanes import ProcessLane
from bot.pipeline.topics import TopicCache
from bot.poll_health import PollHealth
from bot.push.latency import DelayObserver
from bot.push.subscriber import CALLBACK_PREFIX, HubDiscovery, WebSubSubscriber
from bot.storage.db import is_shared
from bot.storage.events import EventStore
from bot.storage.migrate import upgrade_database
from bot.storage.models import Source, utcnow
from bot.telegram.context import CONTEXT_TYPES, BotContext, Services
from bot.telegram.events import calendar_route
from bot.telegram.limiter import FloodLimiter
from bot.telegram.manage import publish_commands
from bot.telegram.routes import register
from bot.telegram.updates import ChatOrderedUpdates

log = logging.getLogger(__name__)

RETENTION_EVERY = 6 * 3600.0
BATCH_EVERY = 20.0  # digests and held alerts are looked at this often


def build_application(
    settings: Settings, limiter: FloodLimiter | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application: every call to Telegram goes through one `FloodLimiter`, and
    chats' updates are handled side by side, each chat's in order. Handlers get a `BotContext`."""
    return (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .context_types(CONTEXT_TYPES)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_file_url)
        .rate_limiter(limiter or FloodLimiter())
        .concurrent_updates(ChatOrderedUpdates())
        .connection_pool_size(64)
        .build()
    )


class Runtime(Role):
    """Everything one process runs: Telegram updates, the poll schedule and the sender.

    With `poll_locally=False` (`--role bot` in scaled mode) it polls nothing: workers do, and
    their NOTIFYs on PostgreSQL wake the sender as soon as they wrote alerts.
    """

    def __init__(self, settings: Settings, *, poll_locally: bool = True) -> None:
        super().__init__(settings)
        self.poll_locally = poll_locally
        self.flood = FloodControl()
        self.application = build_application(
            settings,
            FloodLimiter(
                self.flood, on_retry_after=lambda: self.metrics.record_send_event("retry_after")
            ),
        )
        self.poll_health = PollHealth()
        self._build_delivery()
        self.delays = DelayObserver(self.push_store, self.metrics.alert_delay)
        # Scaled mode: deliveries go to the workers' queue (see `start`).
        self.push_queue: Callable[[Source, FetchResult], Awaitable[None]] | None = None
        self._queue_app: Any = None
        self.subscriber, discovery = self._websub(settings)
        self.poller = self.build_poller(
            TopicCache(self.aliases),
            on_enqueued=self.sender.wake,
            on_retired=self.tell_source_gone,
            on_feed=discovery.note if discovery is not None else None,
            lane=self._process_lane(),
        )
        self.services = Services(
            self.store,
            settings,
            self.aliases,
            fetcher=self.fetcher,
            articles=self.articles,
            translator=self.sender.translator,
        )
        register(self.application, self.services)
        routes = {CALLBACK_PREFIX: self.subscriber.handle} if self.subscriber else {}
        if (health_server := self.serve_health(routes)) is not None:
            health_server.routes["/calendar/"] = calendar_route(
                EventStore(self.store), lambda: self.services.clock()
            )
        self._stop = asyncio.Event()
        self._push_task: asyncio.Task[None] | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._editor_task: asyncio.Task[None] | None = None
        self._listener_task: asyncio.Task[None] | None = None
        self._started = False

    def _build_delivery(self) -> None:
        """The sender and what sends through it: story edits, translations, digests and
        event reminders."""
        bot = self.application.bot
        on_event = self.metrics.record_send_event
        self.sender = Sender(self.store, bot, on_event=on_event)
        self.editor = StoryEditor(
            self.store,
            bot,
            self.sender,
            interval=self.settings.story_edit_interval,
            on_event=on_event,
        )
        self.sender.translator = build_translator(
            self.settings,
            self.store,
            on_ready=self.sender.wake,
            on_event=self.metrics.record_translation_event,
        )
        self.batches = BatchSender(self.store, bot, self.sender)
        self.event_notices = EventNotifier(EventStore(self.store), bot, self.sender)

    def _process_lane(self) -> ProcessLane | None:
        """Feeds read and claimed in a helper process, when other processes can open the
        database too (INGEST_PROCESS)."""
        settings = self.settings
        if not (settings.ingest_process and is_shared(settings.database_url)):
            return None
        return ProcessLane(
            settings.database_url,
            aliases_file=self.aliases_file,
            story_window=timedelta(days=settings.story_window_days),
        )

    def _websub(self, settings: Settings) -> tuple[WebSubSubscriber | None, HubDiscovery | None]:
        """The WebSub subscriber, when PUBLIC_URL names where hubs reach the health listener."""
        if not settings.public_url:
            return None, None
        if not settings.health_port:
            log.warning("PUBLIC_URL is set but HEALTH_PORT is not: WebSub push stays off")
            return None, None
        subscriber = WebSubSubscriber(
            self.push_store,
            public_url=settings.public_url,
            ingest=self.ingest_pushed,
            allow_private=settings.allow_private_networks,
            user_agent=USER_AGENT,
            timeout=settings.fetch_timeout,
            verify_timeout=settings.websub_verify_timeout,
        )
        return subscriber, self.hub_discovery(on_new=subscriber.wake)

    async def _queue_deliveries(self) -> None:
        """Scaled mode: the bot role takes hubs' deliveries, workers read them."""
        from bot.scale.queue import ensure_queue_schema, make_app, queue_pushed

        await asyncio.to_thread(ensure_queue_schema, self.engine)
        self._queue_app = make_app(self.settings.database_url, pool_size=2)
        await self._queue_app.open_async()
        app = self._queue_app

        async def queue(source: Source, result: FetchResult) -> None:
            assert source.id is not None
            await queue_pushed(app, source.id, result.body, result.headers.get("content-type", ""))

        self.push_queue = queue

    async def ingest_pushed(self, source: Source, result: FetchResult) -> None:
        """A hub's delivery: read and claimed here, or by a worker in scaled mode."""
        if self.push_queue is not None:
            await self.push_queue(source, result)
            return
        self.record(await self.poller.ingest_pushed(source, result))

    async def start(self) -> None:
        await asyncio.to_thread(upgrade_database, self.engine)
        await asyncio.to_thread(
            self.store.sync_global_sources, load_sources(self.settings.sources_file)
        )
        await self.application.initialize()
        await self.application.start()
        await publish_commands(self.application.bot, self.settings)  # the menu (setMyCommands)
        await self._start_updates()
        job_queue = self.application.job_queue
        assert job_queue is not None
        once = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        if self.poll_locally:
            job_queue.run_repeating(
                self._poll_job, interval=self.poll_tick, first=0.1, name="poll", job_kwargs=once
            )
        else:
            from bot.scale.notify import listen_outbox
            from bot.scale.pg import conninfo

            self._listener_task = asyncio.create_task(
                listen_outbox(conninfo(self.settings.database_url), self.sender.wake),
                name="outbox-listener",
            )
            if self.subscriber is not None:
                await self._queue_deliveries()
        job_queue.run_repeating(
            self._batch_job, interval=BATCH_EVERY, first=1, name="batches", job_kwargs=once
        )
        job_queue.run_repeating(
            self._retention_job,
            interval=RETENTION_EVERY,
            first=60,
            name="retention",
            job_kwargs=once,
        )
        self._sender_task = asyncio.create_task(self.sender.run(self._stop), name="sender")
        self._editor_task = asyncio.create_task(self.editor.run(self._stop), name="editor")
        if self.subscriber is not None:
            self._push_task = asyncio.create_task(self.subscriber.run(self._stop), name="websub")
        if self.health_server is not None:
            await self.health_server.start()
        self._started = True
        log.info("Summit Watch is running")

    async def _start_updates(self) -> None:
        updater = self.application.updater
        assert updater is not None
        if self.settings.webhook_url:
            url_path = self.settings.webhook_url.rstrip("/").rsplit("/", 1)[-1]
            await updater.start_webhook(
                listen=self.settings.webhook_listen,
                port=self.settings.webhook_port,
                url_path=url_path,
                webhook_url=self.settings.webhook_url,
                secret_token=self.settings.webhook_secret or None,
                allowed_updates=Update.ALL_TYPES,
            )
            return
        await updater.start_polling(
            poll_interval=0.0,
            timeout=int(self.settings.telegram_poll_timeout),
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )

    async def tell_source_gone(self, source: Source, chats: set[int]) -> None:
        await tell_source_gone(self.application.bot, self.store, source, chats)

    async def _poll_job(self, _context: BotContext) -> None:
        try:
            outcomes = await self.poller.poll_due()
        except OperationalError as exc:
            # The database is away; the next tick tries again, so one line is enough.
            log.warning("poll cycle skipped, database unavailable: %s", type(exc.orig).__name__)
            return
        self.poll_health.record_cycle(outcome.status for outcome in outcomes)
        for outcome in outcomes:
            self.record(outcome)

    async def _batch_job(self, _context: BotContext) -> None:
        try:
            await self.batches.send_due()
            await self.event_notices.send_due()
        except OperationalError as exc:
            log.warning("digests skipped, database unavailable: %s", type(exc.orig).__name__)

    async def _retention_job(self, _context: BotContext) -> None:
        cutoff = utcnow() - timedelta(days=self.settings.retention_days)
        window = utcnow() - timedelta(days=self.settings.story_window_days)
        await asyncio.to_thread(self.store.prune_story_bands, window)
        removed = await asyncio.to_thread(self.store.prune_items, cutoff)
        if self.sender.translator is not None:
            await asyncio.to_thread(self.sender.translator.store.prune, cutoff)
        if removed:
            log.info("pruned %d items older than %d days", removed, self.settings.retention_days)

    async def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {"database": await self.database_state()}
        job_queue = self.application.job_queue
        scheduler_alive = bool(job_queue is not None and job_queue.scheduler.running)
        report["scheduler"] = "ok" if scheduler_alive else "stopped"
        report["last_poll_age_seconds"] = self.last_poll_age()
        problem = self.poll_health.problem(self.poller.lane.deaths_in_a_row)
        report["polling"] = problem or "ok"
        report["ok"] = report["database"] == "ok" and scheduler_alive and problem is None
        return report

    async def refresh_gauges(self) -> None:
        await super().refresh_gauges()
        await self.delays.observe()

    async def stop(self) -> None:
        """Stop taking work, let sends in flight finish, and close everything."""
        if not self._started:
            await self.close()
            return
        self._started = False
        self._stop.set()
        self.sender.wake()
        if self._listener_task is not None:
            self._listener_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener_task
        if self.health_server is not None:
            await self.health_server.stop()
        if self._push_task is not None:
            self._push_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._push_task
        if self.subscriber is not None:
            await self.subscriber.aclose()
        if self._queue_app is not None:
            with suppress(Exception):
                await self._queue_app.close_async()
        updater = self.application.updater
        if updater is not None and updater.running:
            with suppress(Exception):
                await asyncio.wait_for(updater.stop(), SHUTDOWN_GRACE / 2)
        tasks = [task for task in (self._sender_task, self._editor_task) if task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE / 2)
            if pending:
                log.warning("sends still in flight at shutdown stay queued")
                for task in pending:
                    task.cancel()
        self.flood.close()  # replies still waiting for a turn would hold up the stop
        with suppress(Exception):
            await self.application.stop()
        with suppress(Exception):
            await self.application.shutdown()
        if self.sender.translator is not None:
            await self.sender.translator.close()
        await self.close()
