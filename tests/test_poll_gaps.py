"""No source is polled more often than POLL_MIN_INTERVAL allows: not by jitter, not by burst
mode, not while a slow feed holds the cycle up."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.app import Runtime
from bot.pipeline.poller import Poller
from bot.pipeline.topics import TopicCache
from bot.push.burst import BurstRule
from bot.push.hints import ScheduleHints
from bot.sources.fetch import Fetcher
from bot.sources.schedule import Clamp
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Source, utcnow
from bot.storage.push import PushStore
from bot.storage.store import Store
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer, RequestInfo, Response, retry_after
from tests.support.harness import Entry, make_settings, rss, wait_until, write_sources

MINIMUM = 120.0  # POLL_MIN_INTERVAL at its usual value: jitter applies from 60 s up
CHAT = 7


@pytest.fixture
async def poller(tmp_path: Path) -> AsyncIterator[Poller]:
    store = Store(make_engine(f"sqlite:///{tmp_path / 'gaps.db'}"))
    upgrade_database(store.engine)
    fetcher = Fetcher(user_agent="test", allow_private=True)
    hints = ScheduleHints(PushStore(store), min_interval=MINIMUM)
    polling = Poller(
        store,
        fetcher,
        TopicCache(None),
        default_interval=MINIMUM,
        clamp=Clamp(MINIMUM, 6 * 3600.0),
        full_text=False,
        hints=hints,
    )
    yield polling
    polling.close()
    await fetcher.aclose()
    store.engine.dispose()


def add_source(store: Store, url: str, interval: float | None = None) -> int:
    with store.session() as session:
        source = Source(url=url, name=url, is_global=True, initialized=True, interval=interval)
        session.add(source)
        session.commit()
        assert source.id is not None
        return source.id


async def scheduled_wait(poller: Poller, source_id: int) -> float:
    """Poll the source now; seconds from the poll's start to its next check."""
    source = poller.store.get_source(source_id)
    assert source is not None
    started = utcnow()
    await poller.poll_source(source)
    polled = poller.store.get_source(source_id)
    assert polled is not None
    return (polled.next_check_at.replace(tzinfo=UTC) - started).total_seconds()


async def test_jitter_never_schedules_a_check_under_the_minimum(
    poller: Poller, feeds: FeedServer
) -> None:
    feeds.set("/a.xml", rss([Entry("Old news", "https://a.test/old")]), etag=False)
    at_minimum = add_source(poller.store, feeds.url("/a.xml"))
    bursting = add_source(poller.store, feeds.url("/a.xml") + "?burst", interval=3600.0)
    assert poller.hints is not None
    poller.hints.bursting_sources = {bursting}
    # Jitter is +-10 %: twenty draws all above the interval would be a 1 in a million chance.
    waits = [await scheduled_wait(poller, source) for source in (at_minimum, bursting) * 20]
    assert min(waits) >= MINIMUM
    assert max(waits) > MINIMUM * 1.02  # still spread out, only never below the minimum


async def test_burst_mode_keeps_a_failing_sources_backoff(
    poller: Poller, feeds: FeedServer
) -> None:
    feeds.set_handler("/busy.xml", lambda _request: retry_after("600"))
    source_id = add_source(poller.store, feeds.url("/busy.xml"))
    with poller.store.session() as session:  # its last good poll was an hour ago
        an_hour_ago = utcnow() - timedelta(hours=1)
        session.exec(
            update(Source).where(col(Source.id) == source_id).values(last_success_at=an_hour_ago)
        )
        session.commit()
    assert await scheduled_wait(poller, source_id) >= 600  # the host's Retry-After

    assert poller.hints is not None
    poller.hints.push_store.hasten({source_id}, MINIMUM, utcnow())
    source = poller.store.get_source(source_id)
    assert source is not None
    assert source.next_check_at.replace(tzinfo=UTC) > utcnow() + timedelta(seconds=590)


# -- a whole bot at real speed -------------------------------------------------------------

INTERVAL = 2.0  # POLL_INTERVAL
FLOOR = 1.5  # POLL_MIN_INTERVAL, the interval of bursting sources
SLOW = 2.5  # seconds the slow feed takes to answer: longer than the interval
TOLERANCE = 0.05  # seconds; a double poll comes within a tick (0.1 s) of the first one


HEADLINES = [
    "grain corridor reopens at Odesa port",
    "parliament votes on new energy budget",
    "refugees cross into Poland by train overnight",
    "central bank raises interest rate sharply",
    "football league cancels weekend fixtures",
    "drone factory opens near Lviv",
    "farmers plant wheat despite shelling",
    "orchestra tours Europe to raise funds",
    "railway engineers repair Kharkiv bridge",
    "hospital ship docks with medical supplies",
    "schools move lessons online for winter",
    "exporters sign sunflower oil contracts",
]


class FastTicks(Runtime):
    @property
    def poll_tick(self) -> float:
        return 0.1


class Outlet:
    """A feed that gains a matching story every second and notes when it was requested."""

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self.began = time.monotonic()
        self.requests: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, _request: RequestInfo) -> Response:
        with self._lock:
            self.requests.append(time.monotonic())
        count = int(time.monotonic() - self.began) + 1
        now = datetime.now(UTC)
        entries = [
            Entry(
                f"Ukraine: {HEADLINES[n % len(HEADLINES)]} ({self.name} {n})",
                f"https://{self.name}.test/ukraine/{n}",
                published=now - timedelta(seconds=count - n),
            )
            for n in range(count)
        ]
        time.sleep(self.delay)
        return Response(200, rss(entries[::-1]).encode(), {"Content-Type": "application/rss+xml"})


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(sorted(times))]


async def watch(predicate: Callable[[], bool], until: float) -> bool:
    seen = False
    while time.monotonic() < until:
        seen = seen or predicate()
        await asyncio.sleep(0.05)
    return seen


@pytest.mark.timeout(90)
async def test_no_feed_is_requested_twice_within_the_minimum_interval(
    fake: FakeTelegram, feeds: FeedServer, tmp_path: Path
) -> None:
    outlets = {"fast": Outlet("fast"), "slow": Outlet("slow", delay=SLOW)}
    quiet: list[float] = []
    for name, outlet in outlets.items():
        feeds.set_handler(f"/{name}.xml", outlet)

    def quiet_feed(_request: RequestInfo) -> Response:
        quiet.append(time.monotonic())
        body = rss([Entry("Cricket final", "https://quiet.test/c")]).encode()
        return Response(200, body, {"Content-Type": "application/rss+xml"})

    feeds.set_handler("/quiet.xml", quiet_feed)
    urls = {name: feeds.url(f"/{name}.xml") for name in ("fast", "slow", "quiet")}
    settings = make_settings(
        fake=fake,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        sources_file=write_sources(tmp_path / "sources.toml", urls),
        poll_interval=INTERVAL,
        poll_min_interval=FLOOR,
    )
    runtime = FastTicks(settings)
    # Any topic with a match in the last minute is breaking: burst mode is on all along.
    runtime.hints.rule = BurstRule(
        window=timedelta(minutes=1), baseline=timedelta(minutes=10), factor=1.0, min_matches=1
    )
    runtime.hints.refresh_every = 0.2
    await runtime.start()
    try:
        runtime.store.ensure_chat(CHAT)
        runtime.store.add_topic(CHAT, "Ukraine")
        assert await wait_until(lambda: len(fake.sent_to(CHAT)) >= 2, timeout=30)
        bursting = await watch(
            lambda: len(runtime.hints.bursting_sources) >= 2, time.monotonic() + 15
        )
    finally:
        await runtime.stop()

    assert bursting, "burst mode never covered both outlets"
    requests = {**{name: o.requests for name, o in outlets.items()}, "quiet": quiet}
    t0 = min(min(times) for times in requests.values())
    seen = {name: [round(t - t0, 2) for t in times] for name, times in requests.items()}
    assert len(requests["fast"]) >= 6 and len(requests["slow"]) >= 4, seen
    smallest = {name: min(gaps(times)) for name, times in requests.items()}
    assert all(gap >= FLOOR - TOLERANCE for gap in smallest.values()), seen
    # The slow feed is checked again only an interval after its last answer came.
    assert smallest["slow"] >= SLOW + FLOOR - TOLERANCE, seen
