"""Alerts in the reader's language, end to end: feeds on 127.0.0.1, the real PTB Application
against the fake Bot API, and a fake LibreTranslate that records its calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.render import i18n
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.fake_translate import FakeTranslate
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ALICE = 3001  # English
BOB = 3002  # English
RAVI = 3003  # Hindi
WAIT = 2.0  # TRANSLATE_WAIT in these tests
PUBLISHED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
OLD = Entry("Путин провёл совещание с правительством", "https://tass.test/old", published=PUBLISHED)
TITLE = "Путин и Моди провели саммит в Нью-Дели"
LEAD = (
    "Президент России Владимир Путин и премьер-министр Индии Нарендра Моди провели переговоры "
    "в Нью-Дели. Стороны подписали соглашения о торговле и энергетике."
)
SUMMIT = Entry(TITLE, "https://tass.test/world/summit", f"<p>{LEAD}</p>", published=PUBLISHED)
PHRASES = {
    ("ru", "en", TITLE): "Putin and Modi held a summit in New Delhi",
    ("ru", "en", LEAD): "Russian President Vladimir Putin and Indian Prime Minister Narendra "
    "Modi held talks in New Delhi. The sides signed agreements on trade and energy.",
    ("ru", "hi", TITLE): "पुतिन और मोदी ने नई दिल्ली में शिखर सम्मेलन किया",
    ("ru", "hi", LEAD): "रूस के राष्ट्रपति व्लादिमीर पुतिन और भारत के प्रधानमंत्री नरेंद्र मोदी ने "
    "नई दिल्ली में बातचीत की।",
}


@pytest.fixture
def translate() -> Iterator[FakeTranslate]:
    with FakeTranslate() as server:
        server.state.phrases.update(PHRASES)
        yield server


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/tass.xml", rss([OLD], title="ТАСС"))
    return feeds


@pytest.fixture
async def bot(
    fake: FakeTelegram,
    feeds: FeedServer,
    translate: FakeTranslate,
    database_url: str,
    tmp_path: Path,
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(tmp_path / "sources.toml", {"TASS": feeds.url("/tass.xml")})
    settings = make_settings(
        fake=fake,
        database_url=database_url,
        sources_file=sources,
        translate_url=translate.url,
        translate_wait=WAIT,
    )
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    # The first poll starts the ingest helper, which loads the language models: allow for a
    # busy machine.
    await under_test.wait_polls(1, timeout=60)
    yield under_test
    await under_test.stop()


def alerts(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent_to(chat_id) if "🔎" in m.text]


async def wait_alert(fake: FakeTelegram, chat_id: int, timeout: float) -> SentMessage:
    assert await wait_until(lambda: bool(alerts(fake, chat_id)), timeout), "no alert"
    return alerts(fake, chat_id)[0]


def button_texts(message: SentMessage) -> list[str]:
    assert message.reply_markup is not None
    return [b["text"] for row in message.reply_markup["inline_keyboard"] for b in row]


def publish(feeds: FeedServer) -> None:
    feeds.set("/tass.xml", rss([SUMMIT, OLD], title="ТАСС"))


async def test_a_russian_item_reaches_an_english_chat_translated_and_a_hindi_chat_in_hindi(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer, translate: FakeTranslate
) -> None:
    await bot.command(ALICE, "/watch Putin Modi summit")
    assert "English" in await bot.command(ALICE, "/translate on")
    assert await bot.command(RAVI, "/lang hi", language_code="hi") == i18n.t("hi", "lang.set")
    await bot.command(RAVI, "/watch Putin Modi", language_code="hi")
    assert "हिन्दी" in await bot.command(RAVI, "/translate on", language_code="hi")
    publish(feeds)

    english = await wait_alert(fake, ALICE, 20)
    assert "Putin and Modi held a summit in New Delhi" in english.text
    assert "signed agreements on trade and energy" in english.text
    assert "🌐 Translated from Russian" in english.text
    assert TITLE not in english.text
    assert "Original" in button_texts(english)

    hindi = await wait_alert(fake, RAVI, 20)
    assert "पुतिन और मोदी ने नई दिल्ली में शिखर सम्मेलन किया" in hindi.text
    assert "🌐 रूसी से अनुवादित" in hindi.text
    assert i18n.moment("hi", PUBLISHED) in hindi.text  # Hindi month names
    assert button_texts(hindi)[0] == "खोलें" and "मूल पाठ" in button_texts(hindi)

    calls = translate.calls
    assert sorted(call.target for call in calls) == ["en", "hi"]
    assert all(call.source == "ru" and call.format == "text" for call in calls)
    assert all(call.texts == [TITLE, LEAD] for call in calls)

    # The Original button answers with the alert as the outlet wrote it.
    original_data = english.reply_markup["inline_keyboard"][-1][0]["callback_data"]  # type: ignore[index]
    before = len(fake.sent_to(ALICE))
    fake.press_button(ALICE, english.message_id, original_data)
    assert await wait_until(lambda: len(fake.sent_to(ALICE)) > before, 10)
    assert TITLE in fake.sent_to(ALICE)[-1].text

    # The menu is published in Hindi too.
    menu = {c["command"]: c["description"] for c in fake.commands(language_code="hi")}
    assert menu["translate"] == i18n.t("hi", "commands.translate")
    assert menu["watch"] == "किसी विषय पर नज़र रखें"


async def test_one_call_serves_every_chat_that_wants_the_same_translation(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer, translate: FakeTranslate
) -> None:
    for chat in (ALICE, BOB):
        await bot.command(chat, "/watch Putin Modi")
        await bot.command(chat, "/translate on")
    publish(feeds)
    for chat in (ALICE, BOB):
        alert = await wait_alert(fake, chat, 20)
        assert "Putin and Modi held a summit in New Delhi" in alert.text
    assert len(translate.calls) == 1


@pytest.mark.parametrize("mode", ["down", "slow", "garbage", "short"])
async def test_a_failing_service_still_delivers_the_alert_on_time(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer, translate: FakeTranslate, mode: str
) -> None:
    translate.state.mode = mode
    translate.state.delay = 3 * WAIT
    await bot.command(ALICE, "/watch Putin Modi")
    await bot.command(ALICE, "/translate on")
    await bot.command(BOB, "/watch Putin Modi")  # no translation wanted: never waits for it
    publish(feeds)

    # The item is read within a poll; the alert may wait WAIT for its translation, no more.
    bob = await wait_alert(fake, BOB, 10)
    if mode == "slow":  # another chat's alert does not wait for this chat's translation
        assert not alerts(fake, ALICE)
    alice = await wait_alert(fake, ALICE, 10 + WAIT)
    assert TITLE in alice.text and "🌐" not in alice.text
    assert TITLE in bob.text
    assert "Original" not in button_texts(alice)
    assert translate.calls  # the service was asked

    status = await bot.command(ALICE, "/status")
    assert "🌐 Translation:" in status
    assert "0 items translated" in status
    assert "last translation error" in status or "1 alerts sent untranslated" in status
    assert bot.runtime is not None
    metrics = bot.runtime.metrics.render().decode()
    assert 'summit_translations_total{result="failed"}' in metrics


async def test_translate_command_replies(bot: BotUnderTest, translate: FakeTranslate) -> None:
    assert await bot.command(ALICE, "/translate") == i18n.t("en", "translate.state_off")
    refused = await bot.command(ALICE, "/translate on <b>xx</b>")
    assert refused == i18n.t("en", "translate.bad_language", wanted="&lt;b&gt;xx&lt;/b&gt;")
    not_loaded = await bot.command(ALICE, "/translate on de")  # the server has no German
    assert not_loaded == i18n.t("en", "translate.bad_language", wanted="de")
    assert "Russian" in await bot.command(ALICE, "/translate on ru")
    assert "Russian" in await bot.command(ALICE, "/translate")
    assert await bot.command(ALICE, "/translate off") == i18n.t("en", "translate.off")
    assert translate.calls == []
