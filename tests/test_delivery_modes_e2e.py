"""Digests and quiet hours, through the real PTB Application and the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.models import utcnow
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

GROUP = -1009001
ADMIN = 42
ANN = 4001


LEADS = {
    "energy": "Moscow offered New Delhi long-term crude contracts and a share in Arctic LNG.",
    "trade in rupees": "Banks will settle more bilateral trade in rupees and roubles from April.",
    "rupee trade": "Exporters complained that rupee balances pile up in Russian accounts unused.",
    "nuclear plants": "Rosatom will build six more reactors at Kudankulam and one more site.",
}


def story(n: int, words: str) -> Entry:
    # Each is its own event at the summit, told in its own words: stories, not updates.
    return Entry(
        f"Summit {words}: {LEADS[words].rstrip('.')} at the Putin–Modi summit",
        f"https://outlet.test/{n}",
        f"<p>{LEADS[words]} Putin and Modi met for the summit.</p>",
    )


@pytest.fixture
def fake(fake: FakeTelegram) -> FakeTelegram:
    fake.set_admins(GROUP, [ADMIN])
    return fake


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/a.xml", rss([], title="Outlet"))
    return feeds


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(tmp_path / "sources.toml", {"Outlet": feeds.url("/a.xml")})
    settings = make_settings(fake=fake, database_url=database_url, sources_file=sources)
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    await under_test.wait_polls(1)
    yield under_test
    await under_test.stop()


def group_says(bot: BotUnderTest, text: str, user: int = ADMIN):  # type: ignore[no-untyped-def]
    return bot.command(GROUP, text, user_id=user, chat_type="supergroup")


async def test_a_daily_digest_arrives_at_the_groups_local_time_with_the_days_stories(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    assert "admins" in await group_says(bot, "/watch Putin Modi summit", user=7)
    assert "Watching topic #" in await group_says(bot, "/watch Putin Modi summit")
    topic = bot.store.list_topics(GROUP)[0]
    assert "daily" in await group_says(bot, f"/mode {topic.id} daily")
    assert "Asia/Kolkata" in await group_says(bot, "/tz Asia/Kolkata")
    assert "08:00" in await group_says(bot, "/digest 08:00")
    assert "Usage" not in await group_says(bot, "/tz Mars/Base")  # a clear error, nothing set
    assert bot.store.get_chat(GROUP).timezone == "Asia/Kolkata"

    before = len(fake.sent_to(GROUP))
    feeds.set("/a.xml", rss([story(1, "energy"), story(2, "trade in rupees")]))
    assert await wait_until(lambda: len(bot.store.waiting().get(GROUP, [])) == 2)
    await bot.wait_polls(1)
    assert len(fake.sent_to(GROUP)) == before  # nothing instant

    runtime = bot.runtime
    assert runtime is not None
    now = utcnow()
    assert await runtime.batches.send_due(now) == 0  # not yet 08:00 in Kolkata since they came
    kolkata_8am_next = datetime.combine(
        (now + timedelta(hours=5, minutes=30)).date() + timedelta(days=1),
        datetime.min.time(),
        tzinfo=UTC,
    ) + timedelta(hours=8 - 5.5, minutes=1)
    assert await runtime.batches.send_due(kolkata_8am_next) == 1
    digest = fake.sent_to(GROUP)[-1].text
    assert digest.startswith("<b>🗞 Digest: 2 stories</b>")
    assert "energy" in digest and "trade in rupees" in digest
    assert bot.store.waiting().get(GROUP) is None
    assert await runtime.batches.send_due(kolkata_8am_next) == 0


async def test_quiet_hours_send_silently_or_hold_until_they_end(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.command(ANN, "/watch Putin Modi summit")
    now = utcnow()
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=1)).strftime("%H:%M")
    assert "without sound" in await bot.command(ANN, f"/quiet {start}-{end}")
    feeds.set("/a.xml", rss([story(1, "energy")]))
    assert await wait_until(lambda: any("🔎" in m.text for m in fake.sent_to(ANN)))
    silent = next(m for m in fake.sent_to(ANN) if "🔎" in m.text)
    assert silent.disable_notification is True

    assert "held" in await bot.command(ANN, f"/quiet {start}-{end} hold")
    count = len(fake.sent_to(ANN))
    feeds.set(
        "/a.xml", rss([story(2, "rupee trade"), story(3, "nuclear plants"), story(1, "energy")])
    )
    assert await wait_until(
        lambda: [row.status for row, _ in bot.store.waiting().get(ANN, [])] == ["held", "held"]
    )
    runtime = bot.runtime
    assert runtime is not None
    assert await runtime.batches.send_due() == 0  # still quiet
    assert len(fake.sent_to(ANN)) == count
    after = now + timedelta(hours=1, minutes=2)
    assert await runtime.batches.send_due(after) == 1
    held = fake.sent_to(ANN)[-1]
    assert "While it was quiet: 2 stories" in held.text
    assert "rupee trade" in held.text and "nuclear plants" in held.text
    assert "Quiet hours are off" in await bot.command(ANN, "/quiet off")
