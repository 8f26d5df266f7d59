"""Fetched feeds are read and stored in a helper process: alerts come out as before, and a
helper that dies is replaced without losing or repeating an alert."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, update
from sqlmodel import select

from bot.config import USER_AGENT, SourceSpec
from bot.pipeline.lanes import ProcessLane, ThreadLane
from bot.pipeline.poller import Poller
from bot.pipeline.topics import TopicCache
from bot.sources.fetch import Fetcher
from bot.storage.db import is_shared, make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Delivery, Item, Source, utcnow
from bot.storage.store import Store
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

CHAT = 4242
OLD = Entry("Parliament debates the budget", "https://outlet.test/budget")


def summit(n: int) -> Entry:
    """A story of its own: words no other story here shares, beyond the topic's."""
    words = [f"w{n}x{k}" for k in range(12)]
    return Entry(
        f"Putin and Modi summit: {' '.join(words[:4])}",
        f"https://outlet.test/summit/{n}",
        description=" ".join(words[4:]),
    )


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/a.xml", rss([OLD], title="Outlet A"))
    return feeds


@pytest.fixture
async def bot(
    request: pytest.FixtureRequest,
    fake: FakeTelegram,
    feeds: FeedServer,
    database_url: str,
    tmp_path: Path,
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(tmp_path / "sources.toml", {"Outlet A": feeds.url("/a.xml")})
    settings = make_settings(
        fake=fake,
        database_url=database_url,
        sources_file=sources,
        ingest_process=getattr(request, "param", True),
    )
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    await under_test.wait_polls(1)
    yield under_test
    await under_test.stop()


def alerts(fake: FakeTelegram) -> list[str]:
    return [m.text for m in fake.sent_to(CHAT) if "🔎" in m.text]


@pytest.mark.parametrize("bot", [True, False], ids=["helper-process", "one-process"], indirect=True)
async def test_a_new_story_alerts_once_with_or_without_the_helper(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    assert bot.runtime is not None
    lane = bot.runtime.poller.lane
    await bot.command(CHAT, "/watch Putin Modi summit")
    feeds.set("/a.xml", rss([summit(1), OLD], title="Outlet A"))
    assert await wait_until(lambda: len(alerts(fake)) >= 1)
    await bot.wait_polls(2)

    assert len(alerts(fake)) == 1
    assert "w1x0" in alerts(fake)[0]
    if bot.settings.ingest_process:
        assert isinstance(lane, ProcessLane)
        assert (await lane.usage()).pid != os.getpid()
    else:
        assert isinstance(lane, ThreadLane)


async def test_a_helper_killed_between_polls_is_replaced_and_the_source_stays_healthy(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    assert bot.runtime is not None
    lane = bot.runtime.poller.lane
    assert isinstance(lane, ProcessLane)
    await bot.command(CHAT, "/watch Putin Modi summit")
    first = await lane.usage()
    os.kill(first.pid, signal.SIGKILL)

    feeds.set("/a.xml", rss([summit(2), OLD], title="Outlet A"))
    assert await wait_until(lambda: len(alerts(fake)) >= 1)
    await bot.wait_polls(2)

    assert len(alerts(fake)) == 1
    assert (await lane.usage()).pid != first.pid
    assert lane.starts == 2
    # The call that met the dead helper was made again on the new one: no poll failed.
    assert all(source.error_streak == 0 and not source.last_error for source in bot.sources())


async def test_a_helper_killed_in_the_middle_of_a_cycle_loses_and_repeats_no_alert(
    feeds: FeedServer, database_url: str
) -> None:
    engine = make_engine(database_url)
    upgrade_database(engine)
    store = Store(engine)
    paths = [f"/f{n}.xml" for n in range(40)]
    for path in paths:
        feeds.set(path, rss([OLD], title=path))
    store.sync_global_sources([SourceSpec(url=feeds.url(path)) for path in paths])
    store.ensure_chat(CHAT)
    store.add_topic(CHAT, "Putin Modi summit")
    lane = ProcessLane(database_url)
    async with Fetcher(user_agent=USER_AGENT, allow_private=True, per_host=10) as fetcher:
        poller = Poller(store, fetcher, TopicCache(None), default_interval=1.0, lane=lane)
        try:
            await poller.poll_due()  # first polls: nothing alerts
            for n, path in enumerate(paths):
                feeds.set(path, rss([summit(n), OLD], title=path))
            with store.session() as session:
                session.exec(update(Source).values(next_check_at=utcnow()))  # type: ignore[call-overload]
                session.commit()
            helper = await lane.usage()
            with engine.connect() as connection:
                items_before = connection.execute(select(func.count()).select_from(Item)).one()[0]

            def items_now() -> int:
                with engine.connect() as connection:
                    return int(connection.execute(select(func.count()).select_from(Item)).one()[0])

            cycle = asyncio.create_task(poller.poll_due())
            assert await wait_until(lambda: items_now() > items_before, 30, 0.005)
            os.kill(helper.pid, signal.SIGKILL)
            outcomes = await cycle
        finally:
            poller.close()

    assert lane.starts == 2
    assert {o.status for o in outcomes} <= {"ok", "not_modified"}, outcomes
    with store.reading() as session:
        stories = session.exec(select(Delivery.story_id).where(Delivery.chat_id == CHAT)).all()
        bad = [s for s in session.exec(select(Source)).all() if s.error_streak]
    assert sorted(stories) == sorted(set(stories)), "a story was queued twice"
    assert len(stories) == len(paths), "a story was lost"
    assert bad == []
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "shared"),
    [
        ("sqlite:///data/summit-watch.db", True),
        ("sqlite:////tmp/x.db", True),
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("sqlite:///file:x?mode=memory&uri=true", False),
        ("postgres://u:p@db/summit", True),
    ],
)
def test_only_a_database_another_process_can_open_gets_the_helper(url: str, shared: bool) -> None:
    assert is_shared(url) is shared
