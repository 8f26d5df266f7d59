"""The real bot process under kill -9, SIGTERM and a database outage.

Each test runs `python -m bot run` against the fake Bot API and a local feed server, and
checks the delivery guarantees of the README: an alert is never lost, a crash repeats at most
the sends that were in flight, a graceful stop repeats nothing, and the bot rides out a
PostgreSQL outage without a restart.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import shlex
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.delivery.sender import Sender
from bot.storage.db import make_engine, normalize_database_url
from bot.storage.migrate import upgrade_database
from bot.storage.models import Delivery, Source
from bot.storage.store import Store
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import Entry, rss, wait_until, write_sources
from tests.support.process import BotProcess, bot_env

QUERY = "Putin Modi summit"
OLD = Entry("Putin and Modi plan a summit next year", "https://outlet-a.test/old-summit")
NEWS = Entry(
    "Modi and Putin hold summit in New Delhi",
    "https://outlet-a.test/world/putin-modi-summit",
    description="<p>The two leaders signed agreements on trade and energy.</p>",
)
LATER = Entry(
    "Putin and Modi summit ends with an energy deal",
    "https://outlet-a.test/world/putin-modi-energy-deal",
)

CHATS = 60
FIRST_CHAT = 5001
SENDS_PER_SECOND = 10  # the fake's global flood limit: a fan-out to CHATS takes seconds
STOP_AFTER = 15  # accepted alerts before the process is killed or stopped: mid fan-out
MAX_IN_FLIGHT: int = inspect.signature(Sender).parameters["max_in_flight"].default
SHUTDOWN_BOUND = 10.0
OUTAGE_SECONDS = 30.0

PG_BIN = os.environ.get("PG_BIN", "")
PG_DATA = os.environ.get("PG_DATA", "")


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/a.xml", rss([OLD], title="Outlet A"))
    return feeds


@pytest.fixture
def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> Iterator[BotProcess]:
    """A bot process (not started) on the test database, with cwd=tmp_path so no .env applies."""
    sources = write_sources(tmp_path / "sources.toml", {"Outlet A": feeds.url("/a.xml")})
    env = bot_env(fake=fake, database_url=database_url, sources_file=sources)
    with BotProcess(env, cwd=tmp_path, log_path=tmp_path / "bot.log") as process:
        yield process


@contextmanager
def open_store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    try:
        yield Store(engine)
    finally:
        engine.dispose()


def seed_chats(store: Store, count: int) -> list[int]:
    """`count` private chats watching QUERY, written before the bot starts."""
    upgrade_database(store.engine)
    chats = list(range(FIRST_CHAT, FIRST_CHAT + count))
    for chat_id in chats:
        store.ensure_chat(chat_id)
        store.add_topic(chat_id, QUERY)
    return chats


def sources_ready(store: Store) -> bool:
    """Every source had its first poll (which records what is there without alerting)."""
    try:
        with store.session() as session:
            sources = session.exec(select(Source)).all()
    except Exception:  # tables not created yet, or the database is down
        return False
    return bool(sources) and all(s.initialized and s.polls >= 1 for s in sources)


def sent_chats(store: Store) -> set[int]:
    """Chats whose alert the database records as accepted by Telegram."""
    with store.session() as session:
        rows = session.exec(select(Delivery.chat_id).where(col(Delivery.status) == "sent"))
        return set(rows.all())


def alert_copies(fake: FakeTelegram, chats: list[int]) -> Counter[int]:
    """Accepted alerts per chat (alerts carry the 🔎 topic line; replies to commands do not)."""
    wanted = set(chats)
    return Counter(
        m.chat_id
        for m in fake.messages
        if m.chat_id in wanted and m.method == "sendMessage" and "🔎" in (m.text or "")
    )


async def start_fan_out(bot: BotProcess, store: Store, feeds: FeedServer) -> None:
    bot.start()
    await bot.wait_running()
    assert await wait_until(lambda: sources_ready(store), 30), "the first poll never happened"
    feeds.set("/a.xml", rss([NEWS, OLD], title="Outlet A"))


async def finish_after_restart(
    bot: BotProcess, store: Store, fake: FakeTelegram, chats: list[int]
) -> Counter[int]:
    """Restart the bot and wait until every chat has its alert and nothing is queued."""
    bot.start()
    await bot.wait_running()
    everyone = await fake.await_for(lambda f: len(alert_copies(f, chats)) == len(chats), 60)
    assert everyone, f"{len(chats) - len(alert_copies(fake, chats))} chats never got the alert"
    assert await wait_until(lambda: store.outbox_backlog() == 0, 30), "the outbox never drained"
    return alert_copies(fake, chats)


async def test_kill_9_mid_fan_out_repeats_only_sends_in_flight(
    bot: BotProcess, fake: FakeTelegram, feeds: FeedServer, database_url: str
) -> None:
    with open_store(database_url) as store:
        chats = seed_chats(store, CHATS)
        fake.rate_limit = (SENDS_PER_SECOND, 1.0)
        await start_fan_out(bot, store, feeds)

        mid = await fake.await_for(lambda f: sum(alert_copies(f, chats).values()) >= STOP_AFTER, 30)
        assert mid, "the fan-out did not start"
        bot.kill()
        # Let the fake finish any request that reached it before the process died.
        await asyncio.sleep(0.2)
        recorded = sent_chats(store)
        accepted = set(alert_copies(fake, chats))
        assert len(recorded) < len(chats), "the kill came after the fan-out, not in the middle"
        assert recorded <= accepted, "a send was recorded that Telegram never accepted"
        in_flight = accepted - recorded  # accepted by Telegram, not yet recorded

        copies = await finish_after_restart(bot, store, fake, chats)
        repeated = {chat for chat, n in copies.items() if n > 1}
        print(
            f"kill -9 after {len(accepted)} accepted alerts: {len(recorded)} recorded, "
            f"{len(in_flight)} in flight; after restart {len(repeated)} chats got a second copy"
        )
        assert set(copies.values()) <= {1, 2}, "an alert went out three times"
        assert repeated == in_flight, "only the sends in flight at the kill may repeat"
        assert len(repeated) <= MAX_IN_FLIGHT
        assert store.outbox_backlog() == 0
        assert await bot.terminate(SHUTDOWN_BOUND) == 0


async def test_sigterm_mid_fan_out_exits_promptly_and_repeats_nothing(
    bot: BotProcess, fake: FakeTelegram, feeds: FeedServer, database_url: str
) -> None:
    with open_store(database_url) as store:
        chats = seed_chats(store, CHATS)
        fake.rate_limit = (SENDS_PER_SECOND, 1.0)
        await start_fan_out(bot, store, feeds)

        mid = await fake.await_for(lambda f: sum(alert_copies(f, chats).values()) >= STOP_AFTER, 30)
        assert mid, "the fan-out did not start"
        started = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        code = await bot.wait_exit(SHUTDOWN_BOUND)
        took = time.monotonic() - started
        assert code is not None, f"the bot still ran {SHUTDOWN_BOUND:.0f}s after SIGTERM"
        assert code == 0
        assert "shutting down" in bot.current_log()

        recorded = sent_chats(store)
        accepted = set(alert_copies(fake, chats))
        assert len(recorded) < len(chats), "the stop came after the fan-out, not in the middle"
        # A graceful stop lets the sends in flight finish and records them.
        assert recorded == accepted

        copies = await finish_after_restart(bot, store, fake, chats)
        print(
            f"SIGTERM after {len(accepted)} accepted alerts: exited with {code} in {took:.2f}s; "
            f"after restart {sum(n > 1 for n in copies.values())} chats got a second copy"
        )
        assert set(copies.values()) == {1}, "a graceful restart repeated alerts"
        assert store.outbox_backlog() == 0
        assert await bot.terminate(SHUTDOWN_BOUND) == 0


# -- PostgreSQL outage -------------------------------------------------------------------------


def as_postgres(command: list[str]) -> list[str]:
    """The server belongs to the postgres user when the tests run as root (see tests/run.sh)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def pg_ctl(*args: str) -> subprocess.CompletedProcess[str]:
    command = as_postgres([str(Path(PG_BIN) / "pg_ctl"), "-D", PG_DATA, *args])
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def server_options() -> str:
    """The options the running server was started with, from postmaster.opts (minus -D)."""
    words = shlex.split(Path(PG_DATA, "postmaster.opts").read_text(encoding="utf-8"))
    options: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word == "-D":
            skip = True
        elif not word.startswith("-D"):
            options.append(word)
    return shlex.join(options)


def start_server(options: str) -> None:
    log_file = str(Path(PG_DATA).parent / "log")
    started = pg_ctl("-l", log_file, "-w", "-t", "60", "-o", options, "start")
    assert started.returncode == 0, f"PostgreSQL did not start again: {started.stderr}"


def server_running() -> bool:
    return pg_ctl("status").returncode == 0


def forget_connections_to(database_url: str) -> None:
    """Drop the pooled connections of this process that the stopped server terminated.

    The `database_url` fixture keeps an engine, without pre-ping, to drop the test database
    afterwards; its idle connection died with the server and would fail that DROP.
    """
    server = make_url(normalize_database_url(database_url))
    for candidate in gc.get_objects():
        if (
            isinstance(candidate, Engine)
            and candidate.url.host == server.host
            and candidate.url.port == server.port
        ):
            candidate.dispose()


async def test_bot_rides_out_a_postgresql_outage(
    bot: BotProcess, fake: FakeTelegram, feeds: FeedServer, database_url: str
) -> None:
    if (
        not (PG_BIN and PG_DATA)
        or make_url(normalize_database_url(database_url)).get_backend_name() != "postgresql"
    ):
        pytest.skip(
            "needs the throwaway PostgreSQL of tests/run.sh (TEST_DATABASE_URL, PG_BIN, PG_DATA)"
        )
    chat = FIRST_CHAT
    with open_store(database_url) as store:
        bot.start()
        await bot.wait_running()
        assert await wait_until(lambda: sources_ready(store), 30), "the first poll never happened"
        fake.send_message(chat, f"/watch {QUERY}")
        assert await fake.await_for(lambda f: bool(f.sent_to(chat)), 15), "no reply to /watch"
        assert "Watching topic" in (fake.sent_to(chat)[0].text or "")
        before_outage = len(bot.current_log())

        options = server_options()
        try:
            stopped = pg_ctl("-m", "fast", "-w", "stop")
            assert stopped.returncode == 0, f"could not stop PostgreSQL: {stopped.stderr}"
            # A matching story appears while the database is down.
            feeds.set("/a.xml", rss([NEWS, OLD], title="Outlet A"))
            await asyncio.sleep(OUTAGE_SECONDS)
            assert bot.alive, "the bot died while the database was down"
            assert alert_copies(fake, [chat]) == Counter(), "an alert went out without a database"
        finally:
            if not server_running():
                start_server(options)
            forget_connections_to(database_url)

        outage_log = bot.current_log()[before_outage:]
        assert "OperationalError" in outage_log, "the bot never noticed the outage"
        got = await fake.await_for(lambda f: alert_copies(f, [chat])[chat] >= 1, 60)
        assert got, "no alert after the database came back"
        assert bot.alive and bot.starts == 1, "the bot needed a restart"

        # It keeps working: the next story arrives too, once.
        feeds.set("/a.xml", rss([LATER, NEWS, OLD], title="Outlet A"))
        assert await fake.await_for(lambda f: alert_copies(f, [chat])[chat] >= 2, 30)
        assert await wait_until(lambda: store.outbox_backlog() == 0, 30)
        assert alert_copies(fake, [chat])[chat] == 2
        assert await bot.terminate(SHUTDOWN_BOUND) == 0
