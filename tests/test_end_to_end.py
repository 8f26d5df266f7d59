"""From a feed item to a Telegram alert, through the real PTB Application and local servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ALICE = 1001
BOB = 1002
OLD = Entry("Putin and Modi plan a summit next year", "https://outlet-a.test/old-summit")
LEAD = (
    "Russian President Vladimir Putin and Indian Prime Minister Narendra Modi held a summit in "
    "New Delhi on Friday. The two leaders signed agreements on trade and energy. "
    "Officials said more talks were planned."
)
NEWS = Entry(
    "Putin’s visit: Modi and Putin hold summit in New Delhi",
    "https://outlet-a.test/world/putin-modi-summit",
    description=f"<p>NEW DELHI (Reuters) - {LEAD}</p>",
)
COPY = Entry(
    "Putin's visit: Modi and Putin hold summit in New Delhi - Outlet B",
    "https://outlet-b.test/syndicated/putin-modi-summit?utm_source=rss&utm_medium=feed#top",
    description=(
        "<p>We use cookies to improve your experience. Accept all cookies</p>"
        f"<p>NEW DELHI (Reuters) - {LEAD}</p><p>Share this article</p>"
    ),
)
CRICKET = Entry("India beat Australia in cricket final", "https://outlet-a.test/sport/cricket")


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/a.xml", rss([OLD], title="Outlet A"))
    feeds.set("/b.xml", rss([], title="Outlet B"))
    return feeds


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(
        tmp_path / "sources.toml",
        {"Outlet A": feeds.url("/a.xml"), "Outlet B": feeds.url("/b.xml")},
    )
    settings = make_settings(fake=fake, database_url=database_url, sources_file=sources)
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    await under_test.wait_polls(1)
    yield under_test
    await under_test.stop()


def alerts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text for m in fake.sent_to(chat_id) if "🔎" in m.text]


async def test_watch_then_one_alert_per_new_story(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    welcome = await bot.command(ALICE, "/start")
    assert "/watch" in welcome
    reply = await bot.command(ALICE, "/watch Putin Modi summit")
    assert "Watching topic" in reply

    feeds.set("/a.xml", rss([NEWS, OLD], title="Outlet A"))
    feeds.set("/b.xml", rss([COPY], title="Outlet B"))
    assert await wait_until(lambda: len(alerts(fake, ALICE)) >= 1)
    await bot.wait_polls(2)

    sent = [m for m in fake.sent_to(ALICE) if "🔎" in m.text]
    assert len(sent) == 1, [m.text for m in sent]
    alert = sent[0]
    assert alert.parse_mode == "HTML"
    # Either outlet may win the race; the alert is clean and links to the article either way.
    links = {
        "https://outlet-a.test/world/putin-modi-summit",
        "https://outlet-b.test/syndicated/putin-modi-summit",
    }
    href = alert.text.split('href="', 1)[1].split('"', 1)[0]
    assert href in links
    assert "Modi and Putin hold summit in New Delhi" in alert.text
    assert "Vladimir Putin and Indian Prime Minister" in alert.text
    assert "cookies" not in alert.text.lower() and "Share this" not in alert.text
    assert "(Reuters) -" not in alert.text
    assert "Putin Modi summit" in alert.text
    assert alert.link_preview_options and alert.link_preview_options.get("url") == href
    # The item that was already in the feed at the first poll never alerts.
    assert all("plan a summit next year" not in text for text in alerts(fake, ALICE))


async def test_topics_do_not_leak_and_unwatch_stops(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.command(ALICE, "/watch Putin Modi summit")
    await bot.command(BOB, "/watch cricket")

    feeds.set("/a.xml", rss([NEWS, OLD], title="Outlet A"))
    assert await wait_until(lambda: len(alerts(fake, ALICE)) == 1)
    await bot.wait_polls(1)
    assert alerts(fake, BOB) == []

    reply = await bot.command(BOB, "/list")
    assert "cricket" in reply
    topic_id = reply.split("#", 1)[1].split(" ", 1)[0]
    assert "Stopped watching" in await bot.command(BOB, f"/unwatch {topic_id}")
    feeds.set("/a.xml", rss([CRICKET, NEWS, OLD], title="Outlet A"))
    await bot.wait_polls(2)
    assert alerts(fake, BOB) == []


async def test_restart_repeats_nothing_and_keeps_queued_alerts(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.command(ALICE, "/watch Putin Modi summit")
    feeds.set("/a.xml", rss([NEWS, OLD], title="Outlet A"))
    assert await wait_until(lambda: len(alerts(fake, ALICE)) == 1)

    await bot.restart()
    await bot.wait_polls(2)
    assert len(alerts(fake, ALICE)) == 1

    # An alert queued while Telegram refuses everything survives a restart and goes out after it.
    fake.fail_next(ALICE, kind="server", times=1000)
    feeds.set(
        "/a.xml",
        rss(
            [
                # A new development, not a follow-up of the summit story ("+1 update").
                Entry(
                    "Rosneft to ship Urals crude to Nayara for roubles after Putin–Modi summit",
                    "https://outlet-a.test/deal",
                ),
                NEWS,
                OLD,
            ]
        ),
    )
    assert await wait_until(lambda: bot.store.outbox_backlog() == 1)
    await bot.stop()
    fake.fail_next(ALICE, kind="server", times=0)
    await bot.start()
    assert await wait_until(lambda: len(alerts(fake, ALICE)) == 2, 20)
    assert await wait_until(lambda: bot.store.outbox_backlog() == 0)
    await bot.wait_polls(2)
    assert len(alerts(fake, ALICE)) == 2


async def test_blocked_chat_is_deactivated_and_others_still_served(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.command(ALICE, "/watch Putin Modi summit")
    await bot.command(BOB, "/watch Putin summit")
    fake.block(ALICE)
    feeds.set("/a.xml", rss([NEWS, OLD], title="Outlet A"))
    assert await wait_until(lambda: len(alerts(fake, BOB)) == 1)
    assert await wait_until(lambda: not bot.store.get_chat(ALICE).active)
    assert alerts(fake, ALICE) == []
    # Its data is kept.
    assert [t.query for t in bot.store.list_topics(ALICE)] == ["Putin Modi summit"]


async def test_group_watch_needs_an_admin(bot: BotUnderTest, fake: FakeTelegram) -> None:
    group = -100500
    fake.set_admins(group, [7])
    refused = await bot.command(group, "/watch Putin Modi summit", user_id=8, chat_type="group")
    assert "admins" in refused
    assert bot.store.list_topics(group) == []
    accepted = await bot.command(group, "/watch Putin Modi summit", user_id=7, chat_type="group")
    assert "Watching topic" in accepted


async def test_bad_input_gets_short_replies(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    reply = await bot.command(ALICE, "/watch Putin (Modi OR summit")
    assert "never closed" in reply.lower() or "parenthes" in reply.lower()
    assert "Nothing was saved" in reply
    assert bot.store.list_topics(ALICE) == []
    assert "/help" in await bot.command(ALICE, "/frobnicate")
    assert "/watch" in await bot.command(ALICE, "/watch")
    assert "<script>" not in await bot.command(ALICE, "/watch <script>alert(1)</script> summit")

    # A source that turns into garbage, HTML or an error page does not stop the others.
    await bot.command(ALICE, "/watch Putin Modi summit")
    feeds.set("/b.xml", b"\x00\xff<<<not a feed", content_type="application/rss+xml")
    feeds.set("/a.xml", rss([NEWS, OLD], title="Outlet A"))
    assert await wait_until(lambda: len(alerts(fake, ALICE)) == 1)
    source_b = next(s for s in bot.sources() if s.url.endswith("/b.xml"))
    assert await wait_until(lambda: bot.store.get_source(source_b.id).error_streak >= 1)
    sources_reply = await bot.command(ALICE, "/sources")
    assert "Outlet A" in sources_reply and "failure" in sources_reply
