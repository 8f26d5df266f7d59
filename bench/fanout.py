"""Fan-out benchmark: one story queued for many private chats, drained by the real sender.

The real PTB bot from `bot.app.build_application` talks to the fake Bot API from
`tests/support/fake_telegram.py`, which enforces a global flood limit (30 sends in any 1 s
window by default) and answers 429 with `retry_after` above it. The real `Sender` drains the
outbox. The bench reports the sustained rate, the time to the last delivery, the 429s, and
every chat that got no message or more than one.

Run from the repository root::

    python -m bench.fanout                  # 5,000 chats, SQLite in a temp dir (~3 minutes)
    python -m bench.fanout --chats 600      # a quick run
    python -m bench.fanout --database-url postgresql://user:pass@host/postgres

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import select
from telegram.constants import ParseMode
from telegram.error import RetryAfter

from bot import domain
from bot.app import build_application
from bot.config import Settings
from bot.delivery.sender import MAX_RATE, Sender
from bot.render.format import AlertView, format_alert
from bot.storage.db import is_sqlite, make_engine, normalize_database_url
from bot.storage.migrate import upgrade_database
from bot.storage.models import Chat, Delivery, Source
from bot.storage.store import OutboxRow, Store
from tests.support.fake_telegram import FakeTelegram

TARGET_RATE = 28.0
FIRST_CHAT_ID = 100_000_001
# Other Store methods the sender calls on each pass (timed when they exist).
SENDER_READS = frozenset({"chats", "stories", "hold"})
ENQUEUE_CHUNK = 500  # rows per INSERT: SQLite allows at most 32,766 bound parameters
STORY = domain.Item(
    source_url="https://outlet.example/feed.xml",
    source_name="Outlet Example",
    title="Putin's visit: Modi and Putin hold summit in New Delhi",
    url="https://outlet.example/world/putin-modi-summit",
    guid="https://outlet.example/world/putin-modi-summit",
    published=datetime(2025, 12, 5, 9, 30, tzinfo=UTC),
    text="",
    summary=(
        "Russian President Vladimir Putin and Indian Prime Minister Narendra Modi held a summit "
        "in New Delhi on Friday. The two leaders signed agreements on trade and energy."
    ),
)


# ------------------------------------------------------------------------------ database


@contextlib.contextmanager
def fresh_database(url: str | None) -> Iterator[tuple[str, str]]:
    """Yield (url, label) of an empty database, removed afterwards.

    Without a URL: SQLite in a temp dir. With a PostgreSQL URL: a new database is created on
    that server (the URL's own database is only used to connect) and dropped at the end.
    """
    if url is None:
        with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'summit-watch.db'}", "SQLite (temp dir)"
        return
    if is_sqlite(url):
        database = make_url(url).database or ""
        if database and database != ":memory:" and Path(database).exists():
            raise SystemExit(f"{database} exists; the bench needs a new, empty database")
        yield url, "SQLite"
        return
    admin_url = make_url(normalize_database_url(url))
    name = f"sw_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False), "PostgreSQL"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def chat_ids(count: int) -> list[int]:
    return [FIRST_CHAT_ID + i for i in range(count)]


def alert_text() -> str:
    return format_alert(
        AlertView(
            title=STORY.title,
            url=STORY.url,
            summary=STORY.summary,
            source_name=STORY.source_name,
            published=STORY.published,
            topic="Putin Modi summit",
            matched_terms=("putin", "modi", "summit"),
        )
    )


def seed(store: Store, chats: list[int]) -> int:
    """Chats, one source and one story, and one queued alert per chat; returns the item id."""
    with store.session() as session:
        source = Source(url=STORY.source_url, name=STORY.source_name, is_global=True)
        session.add(source)
        session.add_all(Chat(id=chat_id, type="private", title="") for chat_id in chats)
        session.commit()
        assert source.id is not None
        source_id = source.id
    claimed = store.claim_new_items(source_id, [(STORY, [f"bench:{uuid.uuid4().hex}"])]).claimed
    item_id = claimed[0].id
    message = alert_text()
    rows = [OutboxRow(chat_id, item_id, None, None, message, STORY.url) for chat_id in chats]
    queued = sum(
        store.enqueue(rows[i : i + ENQUEUE_CHUNK]) for i in range(0, len(rows), ENQUEUE_CHUNK)
    )
    if queued != len(chats):
        raise RuntimeError(f"queued {queued} alerts for {len(chats)} chats")
    return item_id


def outbox_status(store: Store) -> dict[str, int]:
    with store.session() as session:
        rows = session.exec(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    return {status: int(count) for status, count in rows}


# ------------------------------------------------------------------------------ measurement


@dataclass
class DbTimings:
    """Calls to Store methods and the time spent in them (in worker threads)."""

    calls: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def instrument(self, store: Store, names: list[str]) -> None:
        for name in names:
            method = getattr(store, name, None)
            if callable(method):
                setattr(store, name, self._timed(name, method))

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed


@dataclass
class LoopLag:
    """How late a 10 ms sleep wakes up: a busy event loop delays every send."""

    worst: float = 0.0
    total: float = 0.0
    samples: int = 0

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await asyncio.sleep(0.01)
            late = time.monotonic() - started - 0.01
            self.worst = max(self.worst, late)
            self.total += late
            self.samples += 1

    @property
    def mean(self) -> float:
        return self.total / self.samples if self.samples else 0.0


@dataclass
class SenderRun:
    chats: int
    pacing: float
    started: float
    drained: float | None
    accepted_times: list[float]
    count_429: int
    per_chat: Counter[int]
    statuses: dict[str, int]
    db: DbTimings
    lag: LoopLag
    sender_stats: dict[str, int]

    @property
    def first(self) -> float:
        return self.accepted_times[0] if self.accepted_times else self.started

    @property
    def last(self) -> float:
        return self.accepted_times[-1] if self.accepted_times else self.started

    @property
    def sustained_rate(self) -> float:
        span = self.last - self.first
        return len(self.accepted_times) / span if span > 0 else 0.0

    @property
    def time_to_last(self) -> float:
        return self.last - self.started

    def lost(self, wanted: list[int]) -> int:
        return sum(1 for chat_id in wanted if self.per_chat[chat_id] == 0)

    def doubled(self) -> int:
        return sum(1 for count in self.per_chat.values() if count > 1)

    def tightest(self, limit: int) -> float | None:
        """The shortest time spanned by limit + 1 consecutive accepted sends.

        The fake refuses a send when `limit` others arrived less than a window before it, so
        how far this stays above the window is the margin the pacing kept.
        """
        times = self.accepted_times
        spans = [times[k + limit] - times[k] for k in range(len(times) - limit)]
        return min(spans) if spans else None

    def stalls(self, threshold: float = 0.5) -> tuple[int, float, float]:
        """Gaps between accepted sends longer than `threshold`: count, total, longest."""
        gaps = [b - a for a, b in zip(self.accepted_times, self.accepted_times[1:], strict=False)]
        long = [gap for gap in gaps if gap > threshold]
        return len(long), sum(long), max(gaps, default=0.0)


async def run_sender(
    fake: FakeTelegram,
    database_url: str,
    chats: list[int],
    timeout: float,
    max_rate: float | None = None,
) -> SenderRun:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token=fake.token,
        telegram_api_url=fake.base_url,
        database_url=database_url,
    )
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        store = Store(engine)
        seed(store, chats)
        db = DbTimings()
        db.instrument(
            store,
            [
                name
                for name in dir(Store)
                if name.startswith(("mark_", "due_", "next_due")) or name in SENDER_READS
            ],
        )
        application = build_application(settings)
        await application.initialize()
        sender = (
            Sender(store, application.bot)
            if max_rate is None
            else Sender(store, application.bot, max_rate=max_rate)
        )
        stop, lag_stop = asyncio.Event(), asyncio.Event()
        lag = LoopLag()
        lag_task = asyncio.create_task(lag.watch(lag_stop))
        started = time.monotonic()
        task = asyncio.create_task(sender.run(stop), name="sender")
        sender.wake()
        drained = await wait_drained(store, sender, fake, len(chats), started, timeout)
        stop.set()
        sender.wake()
        await asyncio.wait_for(task, 30)
        lag_stop.set()
        await lag_task
        await application.shutdown()
        statuses = await asyncio.to_thread(outbox_status, store)
    finally:
        engine.dispose()
    calls = fake.calls_for("sendMessage")
    return SenderRun(
        chats=len(chats),
        pacing=MAX_RATE if max_rate is None else max_rate,
        started=started,
        drained=drained,
        accepted_times=sorted(call.time for call in calls if call.ok),
        count_429=sum(1 for call in calls if call.status == 429),
        per_chat=Counter(m.chat_id for m in fake.messages if m.method == "sendMessage"),
        statuses=statuses,
        db=db,
        lag=lag,
        sender_stats=dict(vars(sender.stats)),
    )


async def wait_drained(
    store: Store, sender: Sender, fake: FakeTelegram, chats: int, started: float, timeout: float
) -> float | None:
    """Wait until no alert is pending; returns when that was seen, or None on timeout."""
    deadline = started + timeout
    next_report = started + 15.0
    tick = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        tick += 1
        now = time.monotonic()
        if now >= next_report:
            accepted = sum(1 for call in fake.calls_for("sendMessage") if call.ok)
            print(
                f"  … {now - started:6.1f} s: {accepted} sent, {fake.count_429} × 429",
                file=sys.stderr,
                flush=True,
            )
            next_report += 15.0
        # Counting the backlog is a query; ask only when it is likely to be done.
        likely = sender.stats.sent >= chats or tick % 25 == 0
        if likely and await asyncio.to_thread(store.outbox_backlog) == 0:
            return time.monotonic()
    return None


# ------------------------------------------------------------------------------ naive baseline


@dataclass
class NaiveRun:
    chats: int
    accepted: int
    count_429: int
    seconds: float


async def run_naive(rate_limit: tuple[int, float], count: int) -> NaiveRun:
    """Send one by one with a plain Bot (no rate limiter, no retry); 429s are just counted."""
    message = alert_text()
    accepted = rejected = 0
    with FakeTelegram(rate_limit=rate_limit) as fake:
        async with fake.make_bot() as bot:
            started = time.monotonic()
            for chat_id in chat_ids(count):
                try:
                    await bot.send_message(chat_id=chat_id, text=message, parse_mode=ParseMode.HTML)
                    accepted += 1
                except RetryAfter:
                    rejected += 1
            seconds = time.monotonic() - started
    return NaiveRun(count, accepted, rejected, seconds)


# ------------------------------------------------------------------------------ report


def report(
    run: SenderRun,
    naive: NaiveRun | None,
    chats: list[int],
    rate_limit: tuple[int, float],
    database: str,
) -> None:
    limit_rate = rate_limit[0] / rate_limit[1]
    theoretical = len(chats) / limit_rate
    rate = run.sustained_rate
    lost, doubled = run.lost(chats), run.doubled()
    stalls, stalled, longest = run.stalls()
    tightest = run.tightest(rate_limit[0])
    ok = rate >= TARGET_RATE and lost == 0 and doubled == 0 and run.drained is not None
    rows: list[tuple[str, str]] = [
        ("chats (private), one alert each", f"{len(chats)}"),
        ("database", database),
        ("flood limit (fake Bot API)", f"{rate_limit[0]} sends / {rate_limit[1]:g} s"),
        ("theoretical time at the limit", f"{theoretical:.1f} s"),
        ("sender: own pacing", f"{run.pacing:g} sends/s"),
        ("sender: time to last delivery", f"{run.time_to_last:.1f} s"),
        ("sender: sustained rate", f"{rate:.2f} msg/s"),
        ("sender: ratio to the limit", f"{rate / limit_rate:.1%}"),
        ("sender: 429 received", f"{run.count_429}"),
        ("sender: lost (no message)", f"{lost}"),
        ("sender: sent twice", f"{doubled}"),
        ("sender: gaps > 0.5 s", f"{stalls} ({stalled:.1f} s), longest {longest:.2f} s"),
        (
            f"sender: tightest {rate_limit[0] + 1} sends",
            "n/a" if tightest is None else f"{tightest:.3f} s (the window: {rate_limit[1]:g} s)",
        ),
        ("outbox rows by status", ", ".join(f"{k} {v}" for k, v in sorted(run.statuses.items()))),
        (
            "event loop lag",
            f"mean {run.lag.mean * 1000:.1f} ms, worst {run.lag.worst * 1000:.0f} ms",
        ),
    ]
    for name in sorted(run.db.calls):
        calls, seconds = run.db.calls[name], run.db.seconds[name]
        rows.append(
            (f"db: {name}", f"{calls} calls, {seconds:.1f} s, {seconds / calls * 1000:.1f} ms each")
        )
    if naive is not None:
        rows.append(
            (
                f"naive loop ({naive.chats} chats, no limiter)",
                f"{naive.accepted} sent, {naive.count_429} × 429 "
                f"({naive.count_429 / naive.chats:.0%} refused, lost), {naive.seconds:.1f} s",
            )
        )
    if run.drained is None:
        rows.append(("TIMED OUT", "the outbox was not drained; figures are partial"))
    rows.append(
        (
            f"target ≥ {TARGET_RATE:g} msg/s, none lost/doubled",
            "met" if ok else "MISSED",
        )
    )
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--chats", type=int, default=5000, help="private chats (default 5000)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server to run on (a fresh database is created and dropped); "
        "default: SQLite in a temp dir",
    )
    parser.add_argument("--limit", type=int, default=30, help="sends allowed per window (30)")
    parser.add_argument("--window", type=float, default=1.0, help="window in seconds (1.0)")
    parser.add_argument(
        "--naive", type=int, default=300, help="chats for the naive baseline loop (0 skips)"
    )
    parser.add_argument(
        "--max-rate",
        type=float,
        default=None,
        help="the sender's own pacing in sends per second (default: the sender's default)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="give up after this many seconds"
    )
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> None:
    rate_limit = (args.limit, args.window)
    chats = chat_ids(args.chats)
    timeout = args.timeout or 120.0 + 3 * args.chats * args.window / args.limit
    naive = await run_naive(rate_limit, min(args.naive, args.chats)) if args.naive > 0 else None
    expected = len(chats) * args.window / args.limit
    print(
        f"fan-out of one alert to {len(chats)} chats (limit {args.limit}/{args.window:g} s, "
        f"~{expected:.0f} s)…",
        file=sys.stderr,
        flush=True,
    )
    with (
        fresh_database(args.database_url) as (url, label),
        FakeTelegram(rate_limit=rate_limit) as fake,
    ):
        run = await run_sender(fake, url, chats, timeout, args.max_rate)
        internal = fake.internal_errors
    report(run, naive, chats, rate_limit, label)
    if internal:
        print(f"fake Bot API internal errors: {internal[:3]}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Each 429 is logged with a traceback by PTB's limiter; the bench counts them instead.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
