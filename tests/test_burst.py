"""Burst mode: a topic's matches arriving at several times their usual rate make the sources
behind them (and its news-search feeds) polled at POLL_MIN_INTERVAL, until the burst ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.pipeline.poller import Poller
from bot.pipeline.topics import TopicCache
from bot.push.burst import BurstRule
from bot.push.hints import ScheduleHints
from bot.push.status import speed_report
from bot.render import push_texts
from bot.sources.fetch import Fetcher
from bot.sources.schedule import Clamp
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Delivery, Item, Source, Story, utcnow
from bot.storage.push import PushStore
from bot.storage.store import Store
from tests.support.feedserver import FeedServer
from tests.support.harness import Entry, rss

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
USUAL = 3600.0  # each source's own interval
MINIMUM = 120.0  # POLL_MIN_INTERVAL


def test_the_rule_wants_several_times_the_usual_rate() -> None:
    rule = BurstRule()
    quiet = [(1, T0 - 5 * MINUTE), (1, T0 - 2 * MINUTE)]
    assert rule.bursting(quiet, T0) == set()  # two matches are not yet a burst
    breaking = [*quiet, (1, T0 - MINUTE)]
    assert rule.bursting(breaking, T0) == {1}
    # A topic matching every half hour all day needs four times that: more than 3 at once.
    steady = [(2, T0 - 31 * MINUTE - k * 30 * MINUTE) for k in range(48)]
    recent = [(2, T0 - k * MINUTE) for k in range(3)]
    assert rule.bursting(steady + recent, T0) == set()
    assert rule.bursting(steady + recent + [(2, T0), (2, T0)], T0) == {2}
    # It ends by itself once the matches slide out of the window.
    assert rule.bursting(breaking, T0 + 31 * MINUTE) == set()


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def world(
    tmp_path: Path, feeds: FeedServer
) -> AsyncIterator[tuple[Store, Poller, ScheduleHints, Clock, dict[str, int]]]:
    store = Store(make_engine(f"sqlite:///{tmp_path / 'burst.db'}"))
    upgrade_database(store.engine)
    store.ensure_chat(7)
    topic = store.add_topic(7, "Putin Modi summit")
    body = rss([Entry("Old news", "https://a.test/old")])
    feeds.set("/a.xml", body)
    feeds.set("/b.xml", body)
    feeds.set("/search.xml", body)
    feeds.set("/slow.xml", body, headers={"Cache-Control": "max-age=600"})
    ids: dict[str, int] = {}
    with store.session() as session:
        for name in ("a", "b", "slow", "search"):
            url = feeds.url(f"/{name}.xml")
            source = Source(url=url, name=name, is_global=True, initialized=True)
            if name == "search":
                source.kind, source.topic_id = "search", topic.id
            session.add(source)
            session.flush()
            assert source.id is not None
            ids[name] = source.id
        session.commit()
    clock = Clock()
    hints = ScheduleHints(PushStore(store), min_interval=MINIMUM, clock=clock)
    fetcher = Fetcher(user_agent="test", allow_private=True)
    poller = Poller(
        store,
        fetcher,
        TopicCache(None),
        default_interval=USUAL,
        clamp=Clamp(MINIMUM, 6 * 3600.0),
        full_text=False,
        hints=hints,
    )
    ids["topic"] = topic.id or 0
    yield store, poller, hints, clock, ids
    poller.close()
    await fetcher.aclose()
    store.engine.dispose()


def matched(store: Store, topic_id: int, source_id: int, at: datetime, n: int) -> None:
    """An alert for the topic on a story first carried by `source_id`, queued at `at`."""
    with store.session() as session:
        story = Story(title=f"Story {n}", url=f"https://a.test/{n}")
        session.add(story)
        session.flush()
        item = Item(source_id=source_id, title=story.title, url=story.url, story_id=story.id)
        session.add(item)
        session.flush()
        assert item.id is not None
        session.add(
            Delivery(
                chat_id=7,
                item_id=item.id,
                topic_id=topic_id,
                story_id=story.id,
                text="alert",
                status="sent",
                created_at=at,
            )
        )
        session.commit()


async def next_wait(store: Store, poller: Poller, source_id: int) -> float:
    """Poll the source now; seconds until its next check as scheduled."""
    source = store.get_source(source_id)
    assert source is not None
    await poller.poll_source(source)
    polled = store.get_source(source_id)
    assert polled is not None
    next_check = polled.next_check_at.replace(tzinfo=UTC)
    return (next_check - utcnow()).total_seconds()


async def test_faster_polling_starts_with_a_burst_and_ends_with_it(
    world: tuple[Store, Poller, ScheduleHints, Clock, dict[str, int]],
) -> None:
    store, poller, hints, clock, ids = world
    hints.read()
    assert not hints.bursting_topics
    for name in ("a", "b", "slow", "search"):
        assert await next_wait(store, poller, ids[name]) > USUAL * 0.85

    # Three stories for the topic within ten minutes, first carried by source a.
    for n in range(3):
        matched(store, ids["topic"], ids["a"], clock.now - (10 - n) * MINUTE, n)
    hints.read()
    assert hints.bursting_topics == {ids["topic"]}
    assert hints.bursting_sources == {ids["a"], ids["search"]}
    # The next checks already scheduled an hour away are brought forward at once...
    source_a = store.get_source(ids["a"])
    assert source_a is not None
    assert source_a.next_check_at.replace(tzinfo=UTC) < utcnow() + timedelta(seconds=MINIMUM)
    # ...and the sources behind the burst are polled at the minimum interval, the others not.
    assert await next_wait(store, poller, ids["a"]) < MINIMUM * 1.15
    assert await next_wait(store, poller, ids["search"]) < MINIMUM * 1.15
    assert await next_wait(store, poller, ids["b"]) > USUAL * 0.85

    # A host that asks for ten minutes between requests still gets them, burst or not.
    matched(store, ids["topic"], ids["slow"], clock.now - MINUTE, 9)
    hints.read()
    assert ids["slow"] in hints.bursting_sources
    assert await next_wait(store, poller, ids["slow"]) > 600 * 0.85

    # /status tells the chat.
    report = speed_report(PushStore(store), store.list_topics(7), list(ids.values()), now=clock.now)
    assert report.bursting_topics == ["Putin Modi summit"]
    assert report.sources[ids["a"]].bursting and not report.sources[ids["b"]].bursting
    header = push_texts.burst_header(report, MINIMUM, "en")
    assert "Burst mode" in header and "every 2 min" in header
    assert "checked every 2 min" in push_texts.source_notes(report, MINIMUM, "en")[ids["a"]]

    # Forty minutes later, with no new matches, the burst is over: the usual rhythm again.
    clock.now += 40 * MINUTE
    hints.read()
    assert not hints.bursting_topics and not hints.bursting_sources
    assert await next_wait(store, poller, ids["a"]) > USUAL * 0.85
    source_a = store.get_source(ids["a"])
    assert source_a is not None and source_a.current_interval == USUAL
    later = speed_report(PushStore(store), store.list_topics(7), [ids["a"]], now=clock.now)
    assert later.bursting_topics == [] and push_texts.burst_header(later, MINIMUM) == ""


async def test_a_burst_never_polls_sooner_than_the_feed_asks(
    world: tuple[Store, Poller, ScheduleHints, Clock, dict[str, int]], feeds: FeedServer
) -> None:
    store, poller, hints, clock, ids = world
    ttl = 30  # minutes, in the feed itself: a 304 answer does not repeat it
    body = rss([Entry("Old news", "https://a.test/old")])
    feeds.set("/ttl.xml", body.replace("</description>", f"</description><ttl>{ttl}</ttl>", 1))
    with store.session() as session:
        source = Source(url=feeds.url("/ttl.xml"), name="ttl", is_global=True, initialized=True)
        session.add(source)
        session.commit()
        assert source.id is not None
        ids["ttl"] = source.id
    hints.read()
    for name in ("a", "ttl"):
        assert await next_wait(store, poller, ids[name]) > USUAL * 0.85
    polled = store.get_source(ids["ttl"])
    assert polled is not None and polled.server_floor == ttl * 60

    for n in range(3):
        source_id = ids["a"] if n < 2 else ids["ttl"]
        matched(store, ids["topic"], source_id, clock.now - (10 - n) * MINUTE, n)
    hints.read()
    assert {ids["a"], ids["ttl"]} <= hints.bursting_sources
    # Brought forward at once: a to the minimum interval, the ttl feed only to its ttl.
    first = {name: store.get_source(ids[name]) for name in ("a", "ttl")}
    soon = {
        name: (source.next_check_at.replace(tzinfo=UTC) - utcnow()).total_seconds()
        for name, source in first.items()
        if source is not None
    }
    assert soon["a"] < MINIMUM * 1.15
    assert ttl * 60 * 0.95 < soon["ttl"] < USUAL * 0.85

    # Polled during the burst, the feed answers 304 without its ttl: the floor still holds.
    hits = feeds.hits("/ttl.xml")
    assert await next_wait(store, poller, ids["ttl"]) > ttl * 60 * 0.85
    assert feeds.hits("/ttl.xml") == hits + 1
    polled = store.get_source(ids["ttl"])
    assert polled is not None and polled.not_modified_count == 1
    assert polled.server_floor == ttl * 60
    assert await next_wait(store, poller, ids["a"]) < MINIMUM * 1.15

    # /status says how often each is really checked.
    report = speed_report(PushStore(store), store.list_topics(7), list(ids.values()), now=clock.now)
    notes = push_texts.source_notes(report, MINIMUM, "en")
    assert "checked every 2 min" in notes[ids["a"]]
    assert "checked every 30 min" in notes[ids["ttl"]]
