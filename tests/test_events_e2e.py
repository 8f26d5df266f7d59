"""Announced meetings end to end: a feed item, /upcoming, /calendar, the reminder, and a
topic watched `until event` that stops and sends one wrap-up. Real PTB, fake Bot API."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar

from bot.storage.events import EventStore
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ANN = 5001
SEED = (
    "The Kremlin officially confirmed that President Vladimir Putin will visit New Delhi on "
    "December 4–5 for a high-level summit with Indian Prime Minister Narendra Modi."
)
ANNOUNCED = datetime(2025, 11, 28, 9, 30, tzinfo=UTC)
BEFORE = datetime(2025, 12, 1, 10, tzinfo=UTC)  # what "now" is for the chat's commands


def seed_item(n: int, outlet: str = "outlet.test") -> Entry:
    return Entry(
        "Putin to visit New Delhi for summit with Modi",
        f"https://{outlet}/{n}",
        f"<p>{SEED} Talks will cover energy and defence.</p>",
        published=ANNOUNCED + timedelta(minutes=n),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/a.xml", rss([], title="Outlet A"))
    feeds.set("/b.xml", rss([], title="Outlet B"))
    return feeds


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(
        tmp_path / "sources.toml", {"A": feeds.url("/a.xml"), "B": feeds.url("/b.xml")}
    )
    port = free_port()
    settings = make_settings(
        fake=fake,
        database_url=database_url,
        sources_file=sources,
        health_port=port,
        public_url=f"http://127.0.0.1:{port}",
    )
    under_test = BotUnderTest(settings, fake, feeds)
    runtime = await under_test.start()
    runtime.application.bot_data["services"].clock = lambda: BEFORE
    await under_test.wait_polls(1)
    yield under_test
    await under_test.stop()


async def announce(bot: BotUnderTest, feeds: FeedServer) -> None:
    feeds.set("/a.xml", rss([seed_item(1)], title="Outlet A"))
    feeds.set("/b.xml", rss([seed_item(2, "other.test")], title="Outlet B"))
    assert await wait_until(lambda: _outlets(bot) == 2)
    # The alert goes out before any command, so that a reply is not taken for it.
    assert await wait_until(lambda: any("🔎" in (m.text or "") for m in bot.fake.sent_to(ANN)))


def _outlets(bot: BotUnderTest) -> int:
    found, _ = EventStore(bot.store).upcoming(ANN, date(2025, 11, 28))
    return len(found) and len(json.loads(found[0].outlets))


async def test_seed_item_gives_an_event_listed_in_upcoming_and_the_calendar(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    assert "Watching topic #" in await bot.command(ANN, "/watch Putin Modi summit")
    assert "Watching topic #" in await bot.command(ANN, "/watch Putin Delhi")
    await announce(bot, feeds)

    [event], total = EventStore(bot.store).upcoming(ANN, BEFORE.date())
    assert total == 1  # two outlets and two topics, one meeting
    assert (event.start, event.end, event.place) == (
        date(2025, 12, 4),
        date(2025, 12, 5),
        "New Delhi",
    )
    assert {"Putin", "Modi"} <= set(json.loads(event.participants))

    listing = await bot.command(ANN, "/upcoming")
    assert "2025-12-04 – 2025-12-05" in listing and "New Delhi" in listing
    assert "Putin" in listing and "Modi" in listing and "2 outlets" in listing
    assert 'href="https://outlet.test/1"' in listing or 'href="https://other.test/2"' in listing

    topic = bot.store.list_topics(ANN)[0]
    assert "New Delhi" in await bot.command(ANN, f"/upcoming {topic.number}")
    assert "No topic" in await bot.command(ANN, "/upcoming 99999")

    fake.send_message(ANN, "/calendar")
    assert await wait_until(lambda: len(fake.documents_to(ANN)) == 1)
    sent = fake.documents_to(ANN)[0]
    assert sent.document is not None and sent.document.file_name.endswith(".ics")
    calendar = Calendar.from_ical(sent.document.content)
    [vevent] = calendar.walk("VEVENT")
    assert vevent.decoded("dtstart") == date(2025, 12, 4)
    assert vevent.decoded("dtend") == date(2025, 12, 6)  # exclusive end
    assert str(vevent.get("location")) == "New Delhi"
    uid = str(vevent.get("uid"))

    assert await wait_until(lambda: any("/calendar/" in (m.text or "") for m in fake.sent_to(ANN)))
    link = next(m.text for m in fake.sent_to(ANN) if "/calendar/" in (m.text or ""))
    url = link.split("<code>")[1].split("</code>")[0]
    async with httpx.AsyncClient() as client:
        served = await client.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/calendar")
        [again] = Calendar.from_ical(served.content).walk("VEVENT")
        assert str(again.get("uid")) == uid  # stable across downloads

        reset = await bot.command(ANN, "/calendar reset")
        assert "no longer works" in reset
        assert (await client.get(url)).status_code == 404
        new_url = reset.split("<code>")[1].split("</code>")[0]
        assert (await client.get(new_url)).status_code == 200
        assert (await client.get(new_url.replace(".ics", "x.ics"))).status_code == 404


async def test_reminder_the_day_before_once_and_until_event_ends_with_one_wrapup(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    watching = await bot.command(ANN, "/watch Putin Modi summit until event")
    assert "Alerts stop" in watching
    assert "YYYY-MM-DD" in await bot.command(ANN, "/watch BRICS until 2020-01-01")
    assert "YYYY-MM-DD" in await bot.command(ANN, "/watch BRICS until 31.12.2025")
    assert "Watching topic #" in await bot.command(ANN, "/watch Putin Delhi")  # finds it too
    await announce(bot, feeds)
    runtime = bot.runtime
    assert runtime is not None
    notices = runtime.event_notices

    assert await notices.send_due(datetime(2025, 12, 2, 9, tzinfo=UTC)) == 0  # two days before
    assert await notices.send_due(datetime(2025, 12, 3, 6, tzinfo=UTC)) == 0  # before 08:00
    fake.fail_next(
        ANN, kind="retry_after", methods=["sendMessage"]
    )  # throttled once: the reminder is not lost
    assert await notices.send_due(datetime(2025, 12, 3, 8, 5, tzinfo=UTC)) == 0
    await asyncio.sleep(1.5)  # the retry_after of 1 s
    assert await notices.send_due(datetime(2025, 12, 3, 8, 6, tzinfo=UTC)) == 1
    reminder = fake.sent_to(ANN)[-1].text or ""
    assert "starts tomorrow (2 outlets)" in reminder and "New Delhi" in reminder
    assert await notices.send_due(datetime(2025, 12, 3, 9, tzinfo=UTC)) == 0  # once, not per topic

    topic = bot.store.list_topics(ANN)[0]
    assert topic.until_event and topic.ends_on == date(2025, 12, 5)
    assert "until 2025-12-05" in await bot.command(ANN, "/list")

    on_the_day = [
        Entry(
            "Putin and Modi summit: 29 agreements signed in New Delhi",
            "https://outlet.test/deals",
            "<p>Putin and Modi signed 29 agreements at the summit, on energy and defence.</p>",
            published=datetime(2025, 12, 5, 11, tzinfo=UTC),
        ),
        Entry(
            "Putin and Modi summit opens with talks on oil payments",
            "https://outlet.test/opens",
            "<p>The summit opened with Putin and Modi discussing payments for Russian oil.</p>",
            published=datetime(2025, 12, 4, 9, tzinfo=UTC),
        ),
    ]
    copy = Entry(
        on_the_day[0].title,
        "https://other.test/deals",
        on_the_day[0].description,
        published=datetime(2025, 12, 5, 12, tzinfo=UTC),
    )
    feeds.set("/a.xml", rss([seed_item(1), *on_the_day], title="Outlet A"))
    feeds.set("/b.xml", rss([seed_item(2, "other.test"), copy], title="Outlet B"))

    def alerted() -> str:
        return " ".join(m.text or "" for m in fake.sent_to(ANN))

    assert await wait_until(lambda: "29 agreements" in alerted() and "oil payments" in alerted())
    await bot.wait_polls(1)

    assert await notices.send_due(datetime(2025, 12, 5, 20, tzinfo=UTC)) == 0  # last day
    assert bot.store.list_topics(ANN)[0].active
    assert await notices.send_due(datetime(2025, 12, 6, 0, 5, tzinfo=UTC)) == 0  # ended at night
    ended = bot.store.list_topics(ANN)[0]
    assert not ended.active and ended.ended_at is not None
    assert all(t.chat_id != ANN or t.id != ended.id for t in bot.store.active_topics())

    fake.fail_next(
        ANN, kind="retry_after", methods=["sendMessage"]
    )  # the wrap-up waits for the next pass, not lost
    assert await notices.send_due(datetime(2025, 12, 6, 8, 1, tzinfo=UTC)) == 0
    await asyncio.sleep(1.5)
    assert await notices.send_due(datetime(2025, 12, 6, 8, 2, tzinfo=UTC)) == 1  # next morning
    wrapup = fake.sent_to(ANN)[-1]
    text = wrapup.text or ""
    assert "Wrap-up" in text
    assert text.index("29 agreements") < text.index("talks on oil payments")  # most covered first
    assert "29 agreements signed in New Delhi</a> (2 outlets)" in text
    assert "Putin to visit New Delhi" not in text  # published before the event days
    assert wrapup.reply_markup is not None
    assert await notices.send_due(datetime(2025, 12, 7, 8, 1, tzinfo=UTC)) == 0  # just one

    keep = wrapup.reply_markup["inline_keyboard"][0][0]["callback_data"]
    fake.press_button(ANN, wrapup.message_id, keep)
    assert await wait_until(lambda: bot.store.list_topics(ANN)[0].active)
    assert bot.store.list_topics(ANN)[0].ends_on is None
