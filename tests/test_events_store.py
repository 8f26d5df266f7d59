"""Stored meetings: one event for many outlets, a moved date, caps, pages and escaping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.events import AnnouncedEvent, DateSpan
from bot.events.extract import extract_events
from bot.render import event_texts
from bot.storage.db import make_engine
from bot.storage.events import MAX_EVENTS_PER_TOPIC, EventStore
from bot.storage.migrate import upgrade_database
from bot.storage.store import Store

ANNOUNCED = datetime(2025, 11, 28, 9, tzinfo=UTC)


@pytest.fixture
def events(database_url: str) -> Iterator[EventStore]:
    engine = make_engine(database_url)
    upgrade_database(engine)
    store = Store(engine)
    store.ensure_chat(1)
    store.add_topic(1, "Putin Modi summit")
    yield EventStore(store)
    engine.dispose()


def report(text: str, outlet: str, published: datetime = ANNOUNCED) -> list[AnnouncedEvent]:
    from bot import defaults
    from bot.match import load_aliases

    aliases = load_aliases(defaults.ALIASES)
    return extract_events(
        "", text, published, aliases=aliases, url=f"https://{outlet}/a", outlet=outlet
    )


def test_outlets_reporting_one_meeting_make_one_event_and_a_later_report_moves_it(
    events: EventStore,
) -> None:
    topic = events.store.list_topics(1)[0].id
    assert topic is not None
    first = report("Putin will visit New Delhi on December 4–5 for a summit with Modi.", "tass.ru")
    second = report(
        "Russian President Vladimir Putin will hold talks with Narendra Modi in New Delhi on "
        "December 4.",
        "thehindu.com",
        ANNOUNCED + timedelta(hours=3),
    )
    russian = report("Путин посетит Нью-Дели 4–5 декабря для переговоров с Моди.", "1tv.ru")
    events.record(topic, 1, first)
    events.record(topic, 1, second)
    events.record(topic, 1, russian)
    [event], total = events.upcoming(1, date(2025, 12, 1))
    assert total == 1 and json.loads(event.outlets) == ["tass.ru", "thehindu.com", "1tv.ru"]
    assert (event.start, event.end) == (date(2025, 12, 4), date(2025, 12, 5))

    moved = report(
        "Putin's visit to New Delhi will now take place on December 10–11, the Kremlin said, "
        "for the summit with Modi.",
        "reuters.com",
        ANNOUNCED + timedelta(days=3),
    )
    [recorded] = events.record(topic, 1, moved)
    assert recorded.moved and not recorded.new
    [event], _ = events.upcoming(1, date(2025, 12, 1))
    assert (event.start, event.end, event.moved_from) == (
        date(2025, 12, 10),
        date(2025, 12, 11),
        date(2025, 12, 4),
    )
    line = event_texts.upcoming_line(event, "en")
    assert "moved from 2025-12-04" in line and "4 outlets" in line

    stale = report("Putin will visit New Delhi on December 4 for the summit.", "old.test")
    events.record(topic, 1, stale)  # an older report does not move it back
    [event], _ = events.upcoming(1, date(2025, 12, 1))
    assert event.start == date(2025, 12, 10)


def test_a_feed_announcing_everything_is_capped_and_paged(events: EventStore) -> None:
    topic = events.store.list_topics(1)[0].id
    assert topic is not None
    for n in range(MAX_EVENTS_PER_TOPIC + 30):
        day = ANNOUNCED + timedelta(days=2 * n + 1)
        span = DateSpan(day.date(), day.date())
        event = AnnouncedEvent("forum", span, f"Town{n}", (), "x", ANNOUNCED, "", "o.test")
        events.record(topic, 1, [event])
    first_page, total = events.upcoming(1, ANNOUNCED.date(), limit=8)
    assert total == MAX_EVENTS_PER_TOPIC and len(first_page) == 8
    assert [e.start for e in first_page] == sorted(e.start for e in first_page)
    text = event_texts.upcoming(first_page, total, 0, "en")
    assert f"8 of {MAX_EVENTS_PER_TOPIC} shown" in text


def test_feed_text_is_escaped_in_replies(events: EventStore) -> None:
    topic = events.store.list_topics(1)[0].id
    assert topic is not None
    span = DateSpan(date(2025, 12, 4), date(2025, 12, 4))
    hostile = AnnouncedEvent(
        "summit",
        span,
        "<b>Delhi</b>",
        ("<i>Putin</i>",),
        "x",
        ANNOUNCED,
        'javascript:alert("x")',
        "<script>",
    )
    events.record(topic, 1, [hostile])
    [event], _ = events.upcoming(1, date(2025, 12, 1))
    for text in (event_texts.upcoming_line(event, "ru"), event_texts.reminder(event, "en")):
        assert "<b>Delhi</b>" not in text and "&lt;b&gt;Delhi&lt;/b&gt;" in text
        assert "<script>" not in text and "<i>" not in text and "javascript:" not in text


def test_calendar_secrets_are_private_and_revocable(events: EventStore) -> None:
    secret = events.calendar_secret(1)
    assert len(secret) >= 32 and events.calendar_secret(1) == secret
    assert events.chat_for_secret(secret) == 1
    fresh = events.calendar_secret(1, reset=True)
    assert fresh != secret and events.chat_for_secret(secret) is None
    assert events.chat_for_secret(fresh) == 1
    assert events.chat_for_secret("") is None and events.chat_for_secret("x" * 500) is None


def test_the_wrap_up_names_an_alert_without_a_story_by_its_item(events: EventStore) -> None:
    from bot.storage.models import Delivery, Item, Source

    topic = events.store.list_topics(1)[0].id
    assert topic is not None
    on_the_day = datetime(2025, 12, 5, 11, tzinfo=UTC)
    with events.store.session() as session:
        source = Source(url="https://outlet.test/feed.xml", name="Outlet")
        session.add(source)
        session.flush()
        assert source.id is not None
        item = Item(
            source_id=source.id,
            title="Putin and Modi sign 29 agreements",
            url="https://outlet.test/deals",
            published=on_the_day,
        )
        session.add(item)
        session.flush()
        assert item.id is not None
        # rendered only when sent: the outbox row keeps no text of its own
        session.add(Delivery(chat_id=1, item_id=item.id, topic_id=topic, text=""))
        session.commit()
    stories = events.stories_between(
        1, topic, on_the_day - timedelta(days=1), on_the_day + timedelta(days=1)
    )
    assert stories == [("Putin and Modi sign 29 agreements", "https://outlet.test/deals", 1)]
