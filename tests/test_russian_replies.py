"""A Russian user walks every reply path and meets no English sentence.

What counts as English: two Latin-letter words in a row, or one English function word, in what
is left of a reply after the things that are meant to stay as written are taken out: code
spans (commands, queries, examples), links, URLs, /commands, names of time zones and hosts,
query operators, and the names of feeds and of the product.
"""

from __future__ import annotations

import html
import json
import re
import string
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.render import i18n
from bot.telegram.common import BUTTON_GUARD, FLOOD_GUARD
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

IVAN = 5301
ECHOED = ("Outlet", "Own", "Ivan", "somechannel")  # feed titles, the user's name
KEPT = {
    # Meant to stay as written: the product, formats, standards and command arguments.
    "summit", "watch", "telegram", "opml", "json", "xml", "utf", "http", "https", "iana", "utc",
    "kb", "allow_private_networks", "true", "or", "and", "not", "near", "hold", "silent", "off",
    "on", "auto", "instant", "hourly", "daily", "en", "ru", "english", "false", "dtd",
    "outline", "xmlurl", "title", "site", "lang", "settings", "version", "format", "nan",
    "infinity",
}  # fmt: skip
ENGLISH_FUNCTION_WORDS = {
    "the", "is", "are", "was", "be", "to", "of", "in", "for", "with", "no", "you", "your",
    "this", "that", "it", "by", "at", "as", "from", "an", "a", "can", "can't", "don't", "i",
    "has", "have", "will", "been", "not", "nothing", "there", "here", "its", "my", "me",
}  # fmt: skip
_CODE = re.compile(r"<(code|pre|a)\b[^>]*>.*?</\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_VERBATIM = re.compile(r"https?://\S+|/\w+(?:@\w+)?|\S*[:/@=*._]\S*\w\S*|#\d+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def english_in(text_html: str, echoed: tuple[str, ...] = ()) -> list[str]:
    """English left in a reply once everything meant to stay verbatim is removed: runs of two
    or more Latin words separated only by spaces, English function words, and any other Latin
    word longer than two letters (a Russian reply has none of its own)."""
    text = html.unescape(_TAG.sub(" ", _CODE.sub(" ", text_html)))
    for name in (*echoed, *ECHOED):
        text = text.replace(name, " ")
    text = _VERBATIM.sub(" | ", text)
    found: list[str] = []
    run: list[str] = []
    end = 0
    for word in _WORD.finditer(text):
        latin = word[0].isascii() and word[0].casefold() not in KEPT
        joined = text[end : word.start()].strip() == ""
        if latin and (word[0].casefold() in ENGLISH_FUNCTION_WORDS or len(word[0]) > 2):
            found.append(word[0])
        if not (latin and joined and run):
            if len(run) >= 2:
                found.append(" ".join(run))
            run = []
        if latin:
            run.append(word[0])
        end = word.end()
    if len(run) >= 2:
        found.append(" ".join(run))
    return found


def test_the_detector_finds_english_and_leaves_verbatim_things_alone() -> None:
    assert english_in("⚠️ Nothing was saved.") != []
    assert english_in("Сохранено: the") == ["the"]
    assert english_in("Тема <code>Putin Modi summit</code> сохранена") == []
    assert english_in("Часовой пояс: <b>Asia/Kolkata</b>, /tz Europe/Moscow") == []
    assert english_in("Лента Outlet: проверена", echoed=()) == []
    assert english_in("сайт ответил ошибкой 404 (https://x.test/feed)") == []
    assert english_in("Я понял её так: все из: путин, моди") == []
    assert english_in("Я понял её так: все из: putin, modi", echoed=("putin", "modi")) == []


def test_every_russian_catalog_text_is_russian() -> None:
    for key, text in i18n.catalog("ru").items():
        if key.startswith("commands.") or key in ("mute.until_format",):
            continue
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        filled = text.format_map(defaultdict(lambda: "Х", {name: "Х" for name in names}))
        assert english_in(filled) == [], (key, filled)


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/news.xml", rss([], title="Outlet"))
    feeds.set("/own.xml", rss([Entry("Старая новость", "https://own.test/1")], title="Own"))
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


def walk(feeds: FeedServer) -> list[str]:
    own, news, missing = feeds.url("/own.xml"), feeds.url("/news.xml"), feeds.url("/none.xml")
    return [
        "/start", "/help", "/watch", "/watch Путин (Моди", "/watch Путин lang:xx",
        "/watch -крикет", "/watch " + "слово " * 70, '/watch "Путин', "/watch Путин NEAR/99 Моди",
        "/watch Путин Моди саммит", "/watch путин  МОДИ саммит", "/watch Путин NEAR/3 Моди",
        "/list", "/unwatch", "/unwatch 9", "/sources", "/status", "/sources 5",
        "/addsource", "/addsource ftp://x.test/feed", f"/addsource {missing}", f"/addsource {own}",
        f"/addsource {news}", "/removesource", "/removesource 7", f"/removesource {news}",
        "/recent", "/recent 9", "/mode", "/mode 1 daily", "/mode 9 daily",
        "/tz", "/tz Mars/Base", "/tz +15:00", "/tz Europe/Moscow",
        "/quiet", "/quiet 25:00-07:00", "/quiet 07:00-07:00", "/quiet 23:00-07:00 hold",
        "/quiet off", "/digest 8", "/digest 08:30", "/search", "/search 1 off", "/search 1 on",
        "/preview", "/preview Путин (", "/preview Путин Моди", "/lang", "/settings", "/import",
        "/channel", "/channel @somechannel", "/channel @somechannel watch x", "/frobnicate",
        "привет", "/removesource 1", "/unwatch 3", "/list",
    ]  # fmt: skip


IMPORTS = [
    ("{not json", "a.json"),
    (json.dumps({"format": "summit-watch-export", "version": "1"}), "b.json"),
    (json.dumps({"format": "other", "version": 1}), "c.json"),
    (json.dumps({"format": "summit-watch-export", "version": 1, "x": 1}), "d.json"),
    (
        json.dumps(
            {"format": "summit-watch-export", "version": 1, "topics": [{"query": "Путин ("}]}
        ),
        "e.json",
    ),
    (
        json.dumps(
            {"format": "summit-watch-export", "version": 1, "sources": [{"url": "ftp://x.test"}]}
        ),
        "f.json",
    ),
    ('<opml version="2.0"><body><outline xmlUrl="javascript:alert(1)"/></body></opml>', "g.opml"),
    ("<opml", "h.opml"),
    ("just text", "i.txt"),
]


def shown(message: SentMessage) -> list[str]:
    """The reply's text and its buttons' labels."""
    labels = [
        button["text"]
        for row in (message.reply_markup or {}).get("inline_keyboard", [])
        for button in row
    ]
    return [message.text or "", *labels]


async def exchange(fake: FakeTelegram, text: str, **kwargs: Any) -> list[SentMessage]:
    """Send as Ivan; the bot's replies."""
    before = len(fake.sent_to(IVAN))
    fake.send_message(IVAN, text, **kwargs)
    assert await wait_until(lambda: len(fake.sent_to(IVAN)) > before, 20), text
    return fake.sent_to(IVAN)[before:]


async def press(fake: FakeTelegram, message_id: int, data: str) -> str:
    query_id = fake.press_button(IVAN, message_id, data)
    assert await wait_until(lambda: fake.callback_answer(query_id) is not None, 20), data
    return str((fake.callback_answer(query_id) or {}).get("text", ""))


async def test_a_russian_user_meets_no_english_on_any_reply_path(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    assert bot.runtime is not None
    for guard in (FLOOD_GUARD, BUTTON_GUARD):  # a walk is many commands in a short time
        bot.runtime.application.bot_data[guard].limit = 10_000
    ru: dict[str, Any] = {"language_code": "ru", "username": "ivan"}
    heard: list[tuple[str, str]] = []
    for command in walk(feeds):
        replies = await exchange(fake, command, **ru)
        heard += [(command, text) for m in replies for text in shown(m)]
    for content, name in IMPORTS:
        document = fake.upload_file(content.encode(), name)
        replies = await exchange(fake, "/import", document=document, **ru)
        heard += [(name, text) for m in replies for text in shown(m)]
    before = len(fake.documents_to(IVAN))
    fake.send_message(IVAN, "/export", **ru)
    assert await wait_until(lambda: len(fake.documents_to(IVAN)) > before, 20)
    heard += [("/export", m.text or "") for m in fake.documents_to(IVAN)]

    # Buttons: /list, the pages of /sources and /settings, each press answered in Russian.
    for message in [m for m in fake.sent_to(IVAN) if m.reply_markup]:
        for row in message.reply_markup["inline_keyboard"] if message.reply_markup else []:
            for button in row:
                data = button.get("callback_data")
                if not data or data.startswith(("n:y", "set:l")):
                    continue
                heard.append((data, await press(fake, message.message_id, data)))
                current = fake.message(IVAN, message.message_id)
                if current is not None:
                    heard += [(data, text) for text in shown(current)]

    assert len(heard) > 80
    problems = [(what, text, found) for what, text in heard if (found := english_in(text))]
    assert problems == [], "\n".join(f"{what}: {found}" for what, _, found in problems)
