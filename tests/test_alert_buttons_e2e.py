"""Honest button answers: in a group only admins speak for everyone, and a press whose change
was made says so even when Telegram refuses to edit the message it sits under."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.storage.models import Feedback
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

GROUP = -1005001
ADMIN = 5101
MEMBER = 5102
ALICE = 5201
STORY = Entry("Putin and Modi sign a nuclear reactor deal", "https://news.test/reactors")
ONLY_ADMINS = "Only this chat's admins"
SORRY = "Sorry, something went wrong"


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
    await under_test.wait_polls(1)
    yield under_test
    await under_test.stop()


async def press(fake: FakeTelegram, chat_id: int, message_id: int, data: str, user: int) -> str:
    query_id = fake.press_button(chat_id, message_id, data, user_id=user)
    assert await wait_until(lambda: fake.callback_answer(query_id) is not None), data
    answer = fake.callback_answer(query_id)
    assert answer is not None
    return str(answer.get("text", ""))


async def group_alert(bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer) -> SentMessage:
    fake.set_chat(GROUP, type="supergroup", title="Desk")
    fake.set_admins(GROUP, [ADMIN])
    fake.send_message(GROUP, "/watch Putin Modi", chat_type="supergroup", user_id=ADMIN)
    assert await wait_until(lambda: bot.store.list_topics(GROUP) != [])
    feeds.set("/news.xml", rss([STORY], title="Outlet"))
    assert await wait_until(lambda: any("🔎" in (m.text or "") for m in fake.sent_to(GROUP)), 30)
    return next(m for m in fake.sent_to(GROUP) if "🔎" in (m.text or ""))


def callbacks(message: SentMessage) -> dict[str, str]:
    assert message.reply_markup is not None
    found = {}
    for row in message.reply_markup["inline_keyboard"]:
        for button in row:
            if "callback_data" in button:
                found[button["callback_data"].split(":")[0]] = button["callback_data"]
    return found


def feedback_rows(bot: BotUnderTest) -> list[Feedback]:
    with bot.store.session() as session:
        return list(session.exec(select(Feedback)).all())


async def test_in_a_group_only_admins_mute_or_mark_not_relevant(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    alert = await group_alert(bot, fake, feeds)
    data = callbacks(alert)

    assert ONLY_ADMINS in await press(fake, GROUP, alert.message_id, data["mute"], MEMBER)
    assert ONLY_ADMINS in await press(fake, GROUP, alert.message_id, data["nr"], MEMBER)
    [topic] = bot.store.list_topics(GROUP)
    assert topic.muted_until is None and feedback_rows(bot) == []

    assert "no more updates" in await press(fake, GROUP, alert.message_id, data["nr"], ADMIN)
    assert "muted" in await press(fake, GROUP, alert.message_id, data["mute"], ADMIN)
    [topic] = bot.store.list_topics(GROUP)
    assert topic.muted_until is not None and len(feedback_rows(bot)) == 1
    assert not any(SORRY in (m.text or "") for m in fake.sent_to(GROUP))


async def test_a_list_press_that_was_applied_says_so_when_the_edit_fails(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    await bot.command(ALICE, "/watch Putin Modi")
    listing = await bot.command(ALICE, "/list")
    assert listing
    message = fake.sent_to(ALICE)[-1]
    pause = next(
        button["callback_data"]
        for row in (message.reply_markup or {})["inline_keyboard"]
        for button in row
        if button.get("callback_data", "").startswith("n:a:")
    )
    fake.fail_next(ALICE, kind="cant_edit", methods={"editMessageText"})
    answer = await press(fake, ALICE, message.message_id, pause, ALICE)
    assert "Paused" in answer and "expired" not in answer
    assert [topic.active for topic in bot.store.list_topics(ALICE)] == [False]
    await bot.settle()
    assert not any(SORRY in (m.text or "") for m in fake.sent_to(ALICE))
    assert fake.edits_of(ALICE, message.message_id) == []
