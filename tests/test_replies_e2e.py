"""Every command gets its reply, however fast people type, against a fake Bot API that keeps
Telegram's flood limits (30 messages a second, one a second per private chat, 20 a minute per
group) and counts every send made while a 429's retry_after still applies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ALICE = 4001
CROWD = range(4101, 4151)  # 50 private chats
SORRY = "Sorry, something went wrong"
STORIES = [
    "Putin and Modi sign a nuclear reactor deal in New Delhi",
    "Modi hosts Putin for talks on a trade corridor to the Arctic",
    "Putin tells Modi that Russian oil discounts will continue",
    "Putin and Modi agree on payments in rupees and roubles",
    "Defence talks: Modi and Putin discuss joint production of jets",
    "Putin invites Modi to visit Kazan next summer",
]


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(rate_limit=(30, 1.0), enforce_chat_limits=True) as server:
        yield server


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/news.xml", rss([], title="Outlet"))
    return feeds


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(tmp_path / "sources.toml", {"Outlet": feeds.url("/news.xml")})
    settings = make_settings(fake=fake, database_url=database_url, sources_file=sources)
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    yield under_test
    await under_test.stop()


def texts_to(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [message.text or "" for message in fake.sent_to(chat_id)]


def no_flood_trouble(fake: FakeTelegram) -> None:
    assert fake.sends_during_penalty == 0, fake.penalty_sends
    assert fake.count_429 == 0  # the bot kept under every limit, so none was needed


async def test_ten_commands_in_two_seconds_get_ten_replies_in_order(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    commands = [
        "/watch Putin Modi summit",
        "/watch India Russia oil",
        "/list",
        "/help",
        "/sources",
        "/status",
        "/recent",
        "/preview Putin",
        "/unwatch India Russia oil",
        "/start",
    ]
    for command in commands:
        fake.send_message(ALICE, command)
        await asyncio.sleep(0.2)
    assert await wait_until(lambda: len(fake.sent_to(ALICE)) >= 10, 60)
    await bot.settle()
    replies = texts_to(fake, ALICE)
    assert len(replies) == 10 and not any(SORRY in text for text in replies)
    assert "Putin Modi summit" in replies[0] and "India Russia oil" in replies[1]
    assert "India Russia oil" in replies[8]  # the removal came after the watch it undoes
    assert [topic.query for topic in bot.store.list_topics(ALICE)] == ["Putin Modi summit"]
    no_flood_trouble(fake)


async def test_fifty_chats_with_four_commands_each_all_get_their_replies(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    for command in ("/watch Putin Modi summit", "/help", "/list", "/sources"):
        for chat_id in CROWD:
            fake.send_message(chat_id, command)
    assert await wait_until(lambda: all(len(fake.sent_to(c)) >= 4 for c in CROWD), 120)
    await bot.settle()
    for chat_id in CROWD:
        replies = texts_to(fake, chat_id)
        assert len(replies) == 4 and "Putin Modi summit" in replies[0], (chat_id, replies)
        assert not any(SORRY in text for text in replies)
        assert len(bot.store.list_topics(chat_id)) == 1
    no_flood_trouble(fake)


async def test_a_reply_goes_out_before_alerts_that_were_queued_first(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.wait_polls(1)  # items already there at the first poll are not news
    await bot.command(ALICE, "/watch Putin Modi")
    feeds.set(
        "/news.xml",
        rss([Entry(title, f"https://news.test/{i}") for i, title in enumerate(STORIES)]),
    )
    alerts = lambda: [t for t in texts_to(fake, ALICE) if "🔎" in t]  # noqa: E731
    assert await wait_until(lambda: len(alerts()) >= 1, 30), texts_to(fake, ALICE)
    fake.send_message(ALICE, "/help")
    assert await wait_until(lambda: len(alerts()) == len(STORIES), 60)
    replies = texts_to(fake, ALICE)
    help_at = next(i for i, text in enumerate(replies) if "/watch" in text and "🔎" not in text)
    # One message a second to a private chat: the alerts still queued waited for the reply.
    assert help_at < len(replies) - 1, replies
    no_flood_trouble(fake)


async def test_a_flood_gets_one_notice_and_the_rest_is_ignored_without_429s(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    for _ in range(25):
        fake.send_message(ALICE, "/help")
        await asyncio.sleep(0.05)
    assert await wait_until(lambda: len(fake.sent_to(ALICE)) >= 21, 60)
    await bot.settle()
    replies = texts_to(fake, ALICE)
    assert len(replies) == 21 and "Slow down" in replies[-1]
    assert sum("Slow down" in text for text in replies) == 1
    no_flood_trouble(fake)


async def test_a_reply_refused_with_retry_after_waits_and_arrives_once(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    fake.fail_next(ALICE, kind="retry_after", retry_after=2)
    fake.send_message(ALICE, "/help")
    fake.send_message(ALICE, "/start")
    assert await wait_until(lambda: len(fake.sent_to(ALICE)) >= 2, 30)
    await bot.settle()
    replies = texts_to(fake, ALICE)
    assert len(replies) == 2 and "/watch" in replies[0] and SORRY not in replies[1]
    assert fake.count_429 == 1 and fake.sends_during_penalty == 0
