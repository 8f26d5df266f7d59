"""Scaled mode: one `--role bot` process and three `--role worker` processes on PostgreSQL.

Every process is the real `python -m bot run --role …` against the fake Bot API and local feed
servers that record, per feed and per host, how many requests are in flight at once. The tests
check that every source is refreshed on its schedule and never by two workers at once, that
FETCH_PER_HOST holds across workers, that near-copies of a story refreshed by different
workers at the same moment give one alert per chat and a threading edit, and that a worker
killed with SIGKILL in the middle of a job loses nothing: its job is run by another.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Source
from bot.storage.store import Store
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer, RequestInfo, Response
from tests.support.harness import Entry, rss, wait_until, write_sources
from tests.support.process import REPO_ROOT, BotProcess, bot_env

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
needs_postgresql = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="scaled mode needs PostgreSQL (set TEST_DATABASE_URL)"
)

QUERY = "Putin Modi summit"
CHATS = [7001, 7002, 7003]
WORKERS = 3
COLUMN = (
    "India and Russia have kept their partnership steady for seven decades, and the summit "
    "between Vladimir Putin and Narendra Modi in New Delhi showed why. The two leaders agreed "
    "to expand trade in national currencies, to build new nuclear reactors and to deepen "
    "defence cooperation despite pressure from Washington. Analysts say the meeting signals "
    "that New Delhi will not choose sides between the great powers."
)
ORIGINAL = Entry(
    "Why the Putin–Modi summit matters for Asia",
    "https://blitz.test/columns/putin-modi-summit",
    f"<p>{COLUMN}</p>",
)
SYNDICATED = Entry(
    "Why Putin-Modi summit matters for Asia | QOSHE",
    "https://qoshe.test/blitz/why-putin-modi-summit-matters?utm_source=rss",
    f"<p>We use cookies. Accept all cookies</p><p>{COLUMN}</p><p>Read more at Blitz</p>",
)

DISTINCT_STORIES = [
    (
        "Putin and Modi summit opens with a trade pact",
        "Negotiators finalized tariff schedules for fertilizer, medicines and machinery.",
    ),
    (
        "Modi hosts Putin: summit talks turn to nuclear reactors",
        "Rosatom engineers presented plans for six additional units at Kudankulam.",
    ),
    (
        "Summit of Putin and Modi: defence deals under scrutiny",
        "Analysts questioned delivery timelines for air defence batteries and frigates.",
    ),
    (
        "Putin, Modi summit ends; rupee-rouble settlement expanded",
        "Central banks agreed to widen the currency swap line, lowering reliance on dollars.",
    ),
    (
        "Putin Modi summit: Arctic shipping route on agenda",
        "Indian shipowners may join Northern Sea Route convoys starting next summer.",
    ),
]

# -- feeds that record what is in flight ----------------------------------------------------


@dataclass
class Traffic:
    """Requests per feed and per host: how many at once at most, and when each began."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: Counter[str] = field(default_factory=Counter)
    most_at_once: Counter[str] = field(default_factory=Counter)
    host_in_flight: Counter[str] = field(default_factory=Counter)
    host_most_at_once: Counter[str] = field(default_factory=Counter)
    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    spans: list[tuple[str, float, float]] = field(default_factory=list)  # route, began, ended
    delays: dict[str, float] = field(default_factory=dict)
    held: dict[str, threading.Event] = field(default_factory=dict)

    def hits(self, route: str) -> int:
        with self.lock:
            return len(self.starts[route])

    def serve(self, server: FeedServer, route: str, body: str, *, delay: float = 0.0) -> None:
        """Serve `body` at `route` (with an ETag and 304 answers), each answer after `delay`."""
        data = body.encode("utf-8")
        tag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        host = server.host
        self.delays.setdefault(route, delay)

        def handler(request: RequestInfo) -> Response:
            with self.lock:
                self.in_flight[route] += 1
                self.most_at_once[route] = max(self.most_at_once[route], self.in_flight[route])
                self.host_in_flight[host] += 1
                self.host_most_at_once[host] = max(
                    self.host_most_at_once[host], self.host_in_flight[host]
                )
                began = time.monotonic()
                self.starts[route].append(began)
                gate = self.held.get(route)
                pause = self.delays.get(route, 0.0)
            try:
                if gate is not None:
                    gate.wait(120)
                elif pause:
                    time.sleep(pause)
                headers = {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": tag}
                if request.headers.get("if-none-match") == tag:
                    return Response(304, b"", headers)
                return Response(200, data, headers)
            finally:
                with self.lock:
                    self.in_flight[route] -= 1
                    self.host_in_flight[host] -= 1
                    self.spans.append((route, began, time.monotonic()))

        server.set_handler(route, handler)

    def overlapped(self, first: str, second: str, since: float) -> bool:
        """Whether requests for the two routes begun after `since` were ever in flight together."""
        with self.lock:
            a = [(b, e) for r, b, e in self.spans if r == first and b >= since]
            z = [(b, e) for r, b, e in self.spans if r == second and b >= since]
        return any(b1 < e2 and b2 < e1 for b1, e1 in a for b2, e2 in z)

    def hold(self, route: str) -> threading.Event:
        """Requests for `route` wait from now on until the returned event is set."""
        gate = threading.Event()
        with self.lock:
            self.held[route] = gate
        return gate

    def release(self, route: str) -> None:
        with self.lock:
            gate = self.held.pop(route, None)
        if gate is not None:
            gate.set()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def other_host() -> Iterator[FeedServer]:
    """A second feed server on another loopback address: another host for politeness."""
    with FeedServer(host="127.0.0.2") as server:
        yield server


# -- the processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    bot: BotProcess
    workers: list[BotProcess]
    health_ports: list[int]

    async def start(self) -> None:
        self.bot.start()
        for worker in self.workers:
            worker.start()
        await self.bot.wait_running(60)
        for worker in self.workers:
            await worker.wait_running(60)

    def logs(self) -> str:
        return "\n".join(
            f"----- {name} -----\n{process.log()}"
            for name, process in [("bot", self.bot)]
            + [(f"worker {n}", w) for n, w in enumerate(self.workers, 1)]
        )


@contextmanager
def cluster(
    *, fake: FakeTelegram, database_url: str, sources_file: Path, tmp_path: Path, **env: str
) -> Iterator[Cluster]:
    base = bot_env(fake=fake, database_url=database_url, sources_file=sources_file)
    base.update({"FULL_TEXT": "false", "NEWS_SEARCH": "false", "STORY_EDIT_INTERVAL": "1"})
    base.update({"WORKER_HEARTBEAT": "1", "WORKER_STALLED_AFTER": "5", "FETCH_TIMEOUT": "60"})
    base.update({key.upper(): value for key, value in env.items()})
    ports = [free_port() for _ in range(WORKERS)]
    with ExitStack() as stack:
        bot = stack.enter_context(
            BotProcess(
                base, cwd=tmp_path, log_path=tmp_path / "bot.log", args=["run", "--role", "bot"]
            )
        )
        workers = [
            stack.enter_context(
                BotProcess(
                    {**base, "HEALTH_PORT": str(port)},
                    cwd=tmp_path,
                    log_path=tmp_path / f"worker{n}.log",
                    args=["run", "--role", "worker"],
                )
            )
            for n, port in enumerate(ports, 1)
        ]
        running = Cluster(bot, workers, ports)
        try:
            yield running
        except BaseException:
            print(running.logs(), flush=True)
            raise


@contextmanager
def open_store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    try:
        yield Store(engine)
    finally:
        engine.dispose()


def seed_chats(store: Store) -> None:
    upgrade_database(store.engine)
    for chat_id in CHATS:
        store.ensure_chat(chat_id)
        store.add_topic(chat_id, QUERY)


def sources(store: Store) -> list[Source]:
    try:
        with store.session() as session:
            return list(session.exec(select(Source)).all())
    except Exception:
        return []


def all_initialized(store: Store, count: int) -> bool:
    found = sources(store)
    return len(found) == count and all(s.initialized for s in found)


def alerts(fake: FakeTelegram, chat_id: int) -> list:  # type: ignore[type-arg]
    return [m for m in fake.sent_to(chat_id) if m.method == "sendMessage" and "🔎" in m.text]


def get_json(port: int, path: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return json.loads(answer.read())


def polls_counted(port: int) -> float:
    """The worker's summit_polls counter, all results together, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    found = re.findall(r"^summit_polls_total\{[^}]*\} ([0-9.e+]+)$", metrics, re.MULTILINE)
    return sum(float(value) for value in found)


def queue_rows(database_url: str, statement: str, **params: object) -> list[tuple]:  # type: ignore[type-arg]
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(statement), params)]
    finally:
        engine.dispose()


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    assert await wait_until(predicate, timeout, step=0.1), f"{what} (after {timeout:.0f}s)"


# -- the tests --------------------------------------------------------------------------------


def test_worker_role_needs_postgresql(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key.upper() != "DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'bot.db'}"
    env["TELEGRAM_BOT_TOKEN"] = "123:abc"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--role", "worker"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs PostgreSQL" in lines[0]


@needs_postgresql
@pytest.mark.timeout(240)
async def test_sources_refresh_on_schedule_never_twice_at_once_and_hosts_stay_polite(
    fake: FakeTelegram,
    feeds: FeedServer,
    other_host: FeedServer,
    traffic: Traffic,
    database_url: str,
    tmp_path: Path,
) -> None:
    quick = [f"/quick{n}.xml" for n in range(6)]
    slow = [f"/slow{n}.xml" for n in range(4)]
    urls = {}
    for route in quick:
        traffic.serve(feeds, route, rss([], title=route), delay=0.2)
        urls[route] = feeds.url(route)
    for route in slow:
        traffic.serve(other_host, route, rss([], title=route), delay=0.6)
        urls[route] = other_host.url(route)
    sources_file = write_sources(tmp_path / "sources.toml", urls)
    with (
        open_store(database_url) as store,
        cluster(
            fake=fake,
            database_url=database_url,
            sources_file=sources_file,
            tmp_path=tmp_path,
            FETCH_PER_HOST="2",
            WORKER_CONCURRENCY="4",
        ) as running,
    ):
        await running.start()
        await wait_for(lambda: all_initialized(store, len(urls)), 60, "first polls")
        start = {route: traffic.hits(route) for route in urls}
        await wait_for(
            lambda: all(traffic.hits(route) >= start[route] + 5 for route in urls),
            120,
            "every source refreshed five more times",
        )
        per_worker = [await asyncio.to_thread(polls_counted, p) for p in running.health_ports]
        health = [await asyncio.to_thread(get_json, p, "/healthz") for p in running.health_ports]

        with traffic.lock:
            most = dict(traffic.most_at_once)
            hosts = dict(traffic.host_most_at_once)
            starts = {route: list(traffic.starts[route]) for route in urls}
        print(f"refreshes per worker {per_worker}; most at once per host {hosts}")
        assert all(most[route] == 1 for route in urls), f"a feed was fetched twice at once: {most}"
        assert hosts[other_host.host] <= 2, "FETCH_PER_HOST=2 was exceeded across workers"
        assert hosts[feeds.host] <= 2
        assert hosts[other_host.host] == 2, "the busy host never had two requests at once"
        # On schedule, never ahead of it: one refresh per POLL_INTERVAL (1 s) at most.
        gaps = [b - a for route in quick for a, b in itertools.pairwise(starts[route])]
        assert min(gaps) >= 0.9, f"a quick source was refreshed {min(gaps):.2f}s after the last"
        assert all(count > 0 for count in per_worker), "a worker got no job"
        assert all(report["ok"] and report["role"] == "worker" for report in health)
        failing = [(s.url, s.last_error) for s in sources(store) if s.last_error]
        assert not failing, f"sources failed: {failing}"
        assert all(s.polls >= 5 for s in sources(store))
        assert "Traceback" not in running.logs()


@needs_postgresql
@pytest.mark.timeout(240)
async def test_copies_refreshed_by_different_workers_give_one_alert_and_an_edit(
    fake: FakeTelegram, feeds: FeedServer, traffic: Traffic, database_url: str, tmp_path: Path
) -> None:
    outlets = {"Blitz": "/blitz.xml", "QOSHE": "/qoshe.xml"}
    for name, route in outlets.items():
        traffic.serve(feeds, route, rss([], title=name), delay=0.3)
    sources_file = write_sources(
        tmp_path / "sources.toml", {name: feeds.url(route) for name, route in outlets.items()}
    )
    with (
        open_store(database_url) as store,
        cluster(
            fake=fake,
            database_url=database_url,
            sources_file=sources_file,
            tmp_path=tmp_path,
            # One job per worker at a time: two refreshes in flight together are on two workers.
            WORKER_CONCURRENCY="1",
            FETCH_PER_HOST="4",
        ) as running,
    ):
        seed_chats(store)
        await running.start()
        await wait_for(lambda: all_initialized(store, 2), 60, "first polls")

        # Both copies appear at once, so both sources are refreshed in the same round.
        changed = time.monotonic()
        traffic.serve(feeds, "/blitz.xml", rss([ORIGINAL], title="Blitz"), delay=0.3)
        traffic.serve(feeds, "/qoshe.xml", rss([SYNDICATED], title="QOSHE"), delay=0.3)

        def threaded(chat: int) -> bool:
            sent = alerts(fake, chat)
            current = fake.message(chat, sent[0].message_id) if sent else None
            return current is not None and "Also reported by" in current.text

        await wait_for(
            lambda: all(threaded(chat) for chat in CHATS),
            60,
            "an alert with its threading edit in every chat",
        )
        with traffic.lock:
            before = {route: len(traffic.starts[route]) for route in outlets.values()}
        await wait_for(
            lambda: all(traffic.hits(r) >= before[r] + 3 for r in outlets.values()),
            60,
            "more refreshes",
        )
        for chat in CHATS:
            sent = alerts(fake, chat)
            assert len(sent) == 1, f"chat {chat} got {len(sent)} alerts for one story"
            current = fake.message(chat, sent[0].message_id)
            assert current is not None and "Also reported by" in current.text
            # Edited once; or sent with it already, when the second copy was folded in first.
            assert len(fake.edits_of(chat, sent[0].message_id)) <= 1
        assert traffic.most_at_once["/blitz.xml"] == traffic.most_at_once["/qoshe.xml"] == 1
        # With one job per worker, copies fetched at the same time were on two workers.
        print(f"copies fetched at once: {traffic.overlapped('/blitz.xml', '/qoshe.xml', changed)}")
        assert store.outbox_backlog() == 0


@needs_postgresql
@pytest.mark.timeout(240)
async def test_a_worker_killed_mid_job_loses_nothing(
    fake: FakeTelegram, feeds: FeedServer, traffic: Traffic, database_url: str, tmp_path: Path
) -> None:
    steady = [f"/steady{n}.xml" for n in range(4)]
    routes = [*steady, "/slow.xml"]
    for route in routes:
        traffic.serve(feeds, route, rss([], title=route), delay=0.05)
    sources_file = write_sources(
        tmp_path / "sources.toml", {route: feeds.url(route) for route in routes}
    )
    with (
        open_store(database_url) as store,
        cluster(
            fake=fake,
            database_url=database_url,
            sources_file=sources_file,
            tmp_path=tmp_path,
            WORKER_CONCURRENCY="2",
            FETCH_PER_HOST="8",
        ) as running,
    ):
        seed_chats(store)
        await running.start()
        await wait_for(lambda: all_initialized(store, len(routes)), 60, "first polls")
        slow_id = next(s.id for s in sources(store) if s.url.endswith("/slow.xml"))

        # A new story at the slow feed, whose answer now hangs: a job is in flight.
        gate = traffic.hold("/slow.xml")
        stories = {
            route: Entry(title, f"https://outlet.test{route.removesuffix('.xml')}/story", lead)
            for route, (title, lead) in zip(routes, DISTINCT_STORIES, strict=True)
        }
        traffic.serve(feeds, "/slow.xml", rss([stories["/slow.xml"]], title="Slow"))
        await wait_for(lambda: traffic.in_flight["/slow.xml"] == 1, 30, "the slow fetch began")
        doing = queue_rows(
            database_url,
            "SELECT worker_id FROM procrastinate_jobs WHERE lock = :lock AND status = 'doing'",
            lock=f"source-{slow_id}",
        )
        assert len(doing) == 1, f"expected one running job for the slow source, got {doing}"
        busy_id = doing[0][0]
        ids = [
            (await asyncio.to_thread(get_json, port, "/healthz"))["worker_id"]
            for port in running.health_ports
        ]
        assert busy_id in ids, f"job's worker {busy_id} is none of {ids}"
        victim = running.workers[ids.index(busy_id)]

        victim.kill()
        killed_at = time.monotonic()
        traffic.release("/slow.xml")  # its answer goes nowhere now
        gate.set()
        for route in steady:  # and the others carry on with new stories
            traffic.serve(feeds, route, rss([stories[route]], title=route), delay=0.05)

        def everything_delivered() -> bool:
            return all(len(alerts(fake, chat)) >= len(routes) for chat in CHATS)

        await wait_for(everything_delivered, 90, "every story delivered after the kill")
        print(f"every story delivered {time.monotonic() - killed_at:.1f}s after the kill")
        await wait_for(lambda: store.outbox_backlog() == 0, 30, "the outbox drained")
        await asyncio.sleep(2)  # anything doubled would show up by now
        for chat in CHATS:
            titles = Counter(
                next(e.title for e in stories.values() if e.title in m.text)
                for m in alerts(fake, chat)
            )
            assert set(titles) == {e.title for e in stories.values()}
            assert set(titles.values()) == {1}, f"chat {chat} got a story twice: {titles}"
        left = queue_rows(
            database_url,
            "SELECT count(*) FROM procrastinate_jobs WHERE worker_id = :id AND status = 'doing'",
            id=busy_id,
        )
        assert left[0][0] == 0, "the dead worker still holds a job"
        survivors = "".join(w.log() for w in running.workers if w is not victim)
        assert "queued again" in survivors
        for worker in running.workers:
            if worker is not victim:
                assert worker.alive
