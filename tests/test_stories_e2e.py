"""Stories, not items: one alert per story across outlets, threaded by edits, with buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ANN = 3001
COLUMN = (
    "India and Russia have kept their partnership steady for seven decades, and the summit "
    "between Vladimir Putin and Narendra Modi in New Delhi showed why. The two leaders agreed "
    "to expand trade in national currencies, to build new nuclear reactors and to deepen "
    "defence cooperation despite pressure from Washington. Analysts say the meeting signals "
    "that New Delhi will not choose sides between the great powers."
)
ORIGINAL = Entry(
    "Why the Putin–Modi summit matters for Asia",
    "https://blitz.test/columns/putin-modi-summit",
    f"<p>{COLUMN}</p>",
)
SYNDICATED = Entry(
    "Why Putin-Modi summit matters for Asia | QOSHE",
    "https://qoshe.test/blitz/why-putin-modi-summit-matters?utm_source=rss",
    f"<p>We use cookies. Accept all cookies</p><p>{COLUMN}</p><p>Read more at Blitz</p>",
)
NEW_DEVELOPMENT = Entry(
    "Putin and Modi summit: Kremlin announces oil discount for Indian refiners",
    "https://blitz.test/news/oil-discount",
    "<p>The Kremlin said on Saturday that Russian oil companies would offer Indian refiners a "
    "larger discount after the summit of Putin and Modi, citing higher volumes in 2026.</p>",
)


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/blitz.xml", rss([], title="Blitz"))
    feeds.set("/qoshe.xml", rss([], title="QOSHE"))
    return feeds


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(
        tmp_path / "sources.toml",
        {"Blitz": feeds.url("/blitz.xml"), "QOSHE": feeds.url("/qoshe.xml")},
    )
    settings = make_settings(
        fake=fake, database_url=database_url, sources_file=sources, story_edit_interval=1.0
    )
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    await under_test.wait_polls(1)
    await under_test.command(ANN, "/watch Putin Modi summit")
    yield under_test
    await under_test.stop()


def alerts(fake: FakeTelegram) -> list:  # type: ignore[type-arg]
    return [m for m in fake.sent_to(ANN) if "🔎" in m.text]


def current(fake: FakeTelegram, message_id: int) -> str:
    message = fake.message(ANN, message_id)
    assert message is not None
    return message.text


async def test_a_syndicated_copy_edits_the_alert_instead_of_sending_another(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/blitz.xml", rss([ORIGINAL], title="Blitz"))
    assert await wait_until(lambda: len(alerts(fake)) == 1)
    first = alerts(fake)[0]
    assert "Why the Putin–Modi summit matters for Asia" in first.text

    feeds.set("/qoshe.xml", rss([SYNDICATED], title="QOSHE"))
    assert await wait_until(lambda: "Also reported by: QOSHE" in current(fake, first.message_id))
    await bot.wait_polls(2)
    assert len(alerts(fake)) == 1
    assert len(fake.edits_of(ANN, first.message_id)) == 1

    # A real new development is a new story.
    feeds.set("/blitz.xml", rss([NEW_DEVELOPMENT, ORIGINAL], title="Blitz"))
    assert await wait_until(lambda: len(alerts(fake)) == 2)

    recent = await bot.command(ANN, "/recent")
    assert "2 outlets" in recent and "1 outlet)" in recent
    preview = await bot.command(ANN, "/preview Putin Modi oil")
    assert "oil discount" in preview and "<b>1</b> of" in preview
    assert "Watching" not in preview and len(bot.store.list_topics(ANN)) == 1


async def test_a_retitled_republication_updates_the_alert(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/blitz.xml", rss([ORIGINAL], title="Blitz"))
    assert await wait_until(lambda: len(alerts(fake)) == 1)
    first = alerts(fake)[0]
    retitled = Entry(
        "Putin–Modi summit: what it means for Asia", ORIGINAL.link, ORIGINAL.description
    )
    feeds.set("/blitz.xml", rss([retitled], title="Blitz"))
    assert await wait_until(lambda: "what it means for Asia" in current(fake, first.message_id))
    await bot.wait_polls(1)
    assert len(alerts(fake)) == 1


async def test_alert_buttons_open_mute_and_not_relevant(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/blitz.xml", rss([ORIGINAL], title="Blitz"))
    assert await wait_until(lambda: len(alerts(fake)) == 1)
    first = alerts(fake)[0]
    buttons = [button for row in first.reply_markup["inline_keyboard"] for button in row]
    assert buttons[0]["url"] == ORIGINAL.link
    callbacks = [button["callback_data"] for button in buttons[1:]]
    assert all(len(data.encode()) <= 64 for data in callbacks)
    mute, not_relevant, story = callbacks
    assert story.startswith("story:")

    forged = fake.press_button(ANN, first.message_id, "mute:999999")
    assert await wait_until(lambda: fake.callback_answer(forged) is not None)
    assert "expired" in fake.callback_answer(forged)["text"]
    garbage = fake.press_button(ANN, first.message_id, "\x00zz")
    assert await wait_until(lambda: fake.callback_answer(garbage) is not None)

    pressed = fake.press_button(ANN, first.message_id, not_relevant)
    assert await wait_until(lambda: fake.callback_answer(pressed) is not None)
    assert "no more updates" in fake.callback_answer(pressed)["text"]
    feeds.set("/qoshe.xml", rss([SYNDICATED], title="QOSHE"))
    await bot.wait_polls(2)
    assert fake.edits_of(ANN, first.message_id) == []

    muted = fake.press_button(ANN, first.message_id, mute)
    assert await wait_until(lambda: fake.callback_answer(muted) is not None)
    assert "muted for 24 hours" in fake.callback_answer(muted)["text"]
    feeds.set("/blitz.xml", rss([NEW_DEVELOPMENT, ORIGINAL], title="Blitz"))
    await bot.wait_polls(2)
    assert len(alerts(fake)) == 1


async def test_an_alert_that_can_no_longer_be_edited_is_left_as_it_is(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/blitz.xml", rss([ORIGINAL], title="Blitz"))
    assert await wait_until(lambda: len(alerts(fake)) == 1)
    first = alerts(fake)[0]
    fake.fail_next(ANN, kind="cant_edit", methods=["editMessageText"])
    feeds.set("/qoshe.xml", rss([SYNDICATED], title="QOSHE"))
    assert await wait_until(
        lambda: any(
            c.method == "editMessageText" and c.status == 400
            for c in fake.calls_for("editMessageText")
        )
    )
    await bot.wait_polls(2)
    # Refused for good: no retries, no new message, and the story still counts both outlets.
    assert len(fake.calls_for("editMessageText")) == 1
    assert len(alerts(fake)) == 1 and fake.edits_of(ANN, first.message_id) == []
    assert "2 outlets" in await bot.command(ANN, "/recent")


async def test_a_russian_chat_gets_alert_chrome_in_russian(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    ivan = 3002
    await bot.command(ivan, "/lang ru")
    watching = await bot.command(ivan, "/watch Putin Modi summit")
    assert "Watching" not in watching and "#" in watching
    assert bot.store.list_topics(ivan)
    feeds.set("/blitz.xml", rss([ORIGINAL], title="Blitz"))
    feeds.set("/qoshe.xml", rss([SYNDICATED], title="QOSHE"))
    assert await wait_until(lambda: any("🔎" in m.text for m in fake.sent_to(ivan)))
    alert = next(m for m in fake.sent_to(ivan) if "🔎" in m.text)
    assert "совпало:" in alert.text
    labels = [button["text"] for row in alert.reply_markup["inline_keyboard"] for button in row]
    assert labels == ["Открыть", "Тишина на 24 ч", "Не по теме", "🧵 Сюжет"]
    assert await wait_until(lambda: "Также пишут" in current_in(fake, ivan, alert.message_id))


def current_in(fake: FakeTelegram, chat_id: int, message_id: int) -> str:
    message = fake.message(chat_id, message_id)
    return message.text if message is not None else ""


# Real reports of one event (The Moscow Times and The Washington Post, 8-9 July 2024): other
# words, the same who and where.
HUG = Entry(
    "India’s Modi Hugs Putin on First Russia Visit Since Ukraine Offensive",
    "https://blitz.test/news/modi-hugs-putin",
    "<p>The visit is Modi's first since Russia launched its campaign in Ukraine and since he was "
    "returned to power last month.</p>",
)
RECEIVES = Entry(
    "Putin receives Modi in Moscow with high stakes for both Russia and India",
    "https://qoshe.test/world/russia-india-putin-modi-moscow",
    "<p>The visit underscores that India will maintain deep ties with Russia despite "
    "Washington’s efforts to woo Prime Minister Modi and isolate President Putin.</p>",
)
FOLLOW_UP = Entry(
    "‘War Not the Solution,’ India’s Modi Tells Putin: Q&A",
    "https://blitz.test/news/war-not-the-solution",
    "<p>India, which has imported most of its weapons from Russia, has shied away from "
    "explicitly condemning Russia for invading Ukraine in early 2022.</p>",
)


async def test_reports_in_other_words_fold_into_one_alert_with_a_timeline(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    assert "No alert has been sent here yet" in await bot.command(ANN, "/story")
    await bot.command(ANN, "/watch Putin Modi")
    feeds.set("/blitz.xml", rss([HUG], title="Blitz"))
    assert await wait_until(lambda: len(alerts(fake)) == 1)
    first = alerts(fake)[0]

    # Another outlet's report in its own words: the alert says so, no second message.
    feeds.set("/qoshe.xml", rss([RECEIVES], title="QOSHE"))
    assert await wait_until(lambda: "Also reported by: QOSHE" in current(fake, first.message_id))
    # A follow-up from the first outlet: "+1 update", still no second message.
    feeds.set("/blitz.xml", rss([FOLLOW_UP, HUG], title="Blitz"))
    assert await wait_until(lambda: "+1 update" in current(fake, first.message_id))
    await bot.wait_polls(2)
    assert len(alerts(fake)) == 1
    assert "Also reported by: QOSHE" in current(fake, first.message_id)

    # The story button under the alert sends the timeline: every report, newest first.
    edited = fake.message(ANN, first.message_id)
    assert edited is not None and edited.reply_markup is not None
    story = [b for row in edited.reply_markup["inline_keyboard"] for b in row][-1]
    before = len(fake.sent_to(ANN))
    pressed = fake.press_button(ANN, first.message_id, story["callback_data"])
    assert await wait_until(lambda: fake.callback_answer(pressed) is not None)
    assert await wait_until(lambda: len(fake.sent_to(ANN)) > before)
    timeline = fake.sent_to(ANN)[before].text
    assert "3 reports" in timeline
    reports = timeline.split("\n\n", 1)[1]
    order = [reports.index(t) for t in ("Tells Putin", "receives Modi", "Hugs Putin")]
    assert order == sorted(order)
    assert "Putin: Q&amp;A" in timeline and "Q&A" not in timeline
    assert "Blitz" in timeline and "QOSHE" in timeline and "blitz.test/news/modi-hugs" in timeline

    assert await bot.command(ANN, "/story") == timeline
    number = story["callback_data"].split(":")[1]
    assert await bot.command(ANN, f"/story {number}") == timeline
    assert "no such story" in await bot.command(ANN, "/story 987654")
    assert "/story NUMBER" in await bot.command(ANN, "/story <b>x</b>")
