"""The conversation's rough edges, end to end through the real PTB Application and the fake
Bot API: mutes that show and lift, per-chat numbers, duplicates, paged source lists,
/import checking sources like /addsource, /settings, the group greeting and small defects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.render.settings import ZONES
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.feedserver import FeedServer, redirect
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ANN = 5001
BEN = 5002
GROUP = -5101
ADMIN = 5102
SUMMIT = Entry(
    "Putin and Modi open their summit in New Delhi",
    "https://outlet.test/world/putin-modi-summit",
    "<p>Russian President Vladimir Putin and Prime Minister Narendra Modi met for a summit.</p>",
)
FOLLOW_UP = Entry(
    "Putin and Modi sign energy deals at the summit",
    "https://outlet.test/world/putin-modi-energy",
    "<p>The two leaders signed agreements on oil and nuclear power at their summit.</p>",
)


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/news.xml", rss([], title="Outlet"))
    feeds.set("/own.xml", rss([Entry("An older story", "https://own.test/1")], title="Own"))
    feeds.set("/other.xml", rss([Entry("Another story", "https://other.test/1")], title="Other"))
    return feeds


async def start_bot(
    fake: FakeTelegram,
    feeds: FeedServer,
    database_url: str,
    tmp_path: Path,
    sources: dict[str, str] | None = None,
    **overrides: object,
) -> BotUnderTest:
    path = write_sources(tmp_path / "sources.toml", sources or {"Outlet": feeds.url("/news.xml")})
    settings = make_settings(fake=fake, database_url=database_url, sources_file=path, **overrides)
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    return under_test


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    under_test = await start_bot(fake, feeds, database_url, tmp_path)
    yield under_test
    await under_test.stop()


async def say(fake: FakeTelegram, chat_id: int, text: str, **kwargs: Any) -> SentMessage:
    before = len(fake.sent_to(chat_id))
    fake.send_message(chat_id, text, **kwargs)
    assert await wait_until(lambda: len(fake.sent_to(chat_id)) > before, 20), text
    return fake.sent_to(chat_id)[before]


async def text_of(fake: FakeTelegram, chat_id: int, text: str, **kwargs: Any) -> str:
    return (await say(fake, chat_id, text, **kwargs)).plain_text or ""


async def press(fake: FakeTelegram, chat_id: int, message_id: int, data: str, **kwargs: Any) -> str:
    query_id = fake.press_button(chat_id, message_id, data, **kwargs)
    assert await wait_until(lambda: fake.callback_answer(query_id) is not None, 20), data
    answer = fake.callback_answer(query_id)
    assert answer is not None
    return str(answer.get("text", ""))


def buttons(message: SentMessage | None) -> list[dict[str, Any]]:
    assert message is not None and message.reply_markup is not None
    return [button for row in message.reply_markup["inline_keyboard"] for button in row]


def button_data(message: SentMessage | None, label_part: str) -> str:
    found = [b["callback_data"] for b in buttons(message) if label_part in b["text"]]
    assert found, f"no button with {label_part!r} in {buttons(message)}"
    return str(found[0])


def alerts(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent_to(chat_id) if "🔎" in (m.text or "")]


def upload(fake: FakeTelegram, content: str, name: str) -> dict[str, Any]:
    return fake.upload_file(content.encode("utf-8"), name)


# -- a mute shows in /list and Resume lifts it ----------------------------------------------------


async def test_a_mute_shows_in_the_list_and_resume_lifts_it(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.wait_polls(1)
    await say(fake, ANN, "/watch Putin Modi summit")
    feeds.set("/news.xml", rss([SUMMIT], title="Outlet"))
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 1, 20)
    mute = button_data(alerts(fake, ANN)[0], "Mute")
    assert "muted for 24 hours" in await press(fake, ANN, alerts(fake, ANN)[0].message_id, mute)

    listing = await say(fake, ANN, "/list")
    assert "#1 Putin Modi summit" in (listing.plain_text or "")
    assert "muted until" in (listing.plain_text or "")
    resume = button_data(listing, "Resume #1")
    assert await press(fake, ANN, listing.message_id, resume) == "Resumed #1."
    [topic] = bot.store.list_topics(ANN)
    assert topic.muted_until is None and topic.active
    edited = fake.message(ANN, listing.message_id)
    assert edited is not None and "muted" not in (edited.plain_text or "")
    assert "Pause #1" in str(edited.reply_markup)

    feeds.set("/news.xml", rss([FOLLOW_UP, SUMMIT], title="Outlet"))
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 2, 20)


# -- per-chat numbers and duplicate topics --------------------------------------------------------


async def test_numbers_are_per_chat_stable_and_duplicates_are_refused(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    assert "Watching topic #1" in await text_of(fake, ANN, "/watch Putin Modi summit")
    assert "Watching topic #2" in await text_of(fake, ANN, "/watch BRICS expansion")
    assert "Watching topic #1" in await text_of(fake, BEN, "/watch India Russia trade")

    duplicate = await text_of(fake, ANN, "/watch  putin  MODI   Summit")
    assert "already watch this as topic #1" in duplicate and "Nothing was added" in duplicate
    assert len(bot.store.list_topics(ANN)) == 2

    assert "Stopped watching #1" in await text_of(fake, ANN, "/unwatch 1")
    assert "Watching topic #3" in await text_of(fake, ANN, "/watch Modi visit Moscow")
    assert "#2 BRICS expansion" in await text_of(fake, ANN, "/list")
    assert "Topic #2 now arrives: daily digest" in await text_of(fake, ANN, "/mode 2 daily")
    assert "no such topic" in await text_of(fake, BEN, "/mode 2 daily")
    assert "no topic" in await text_of(fake, BEN, "/unwatch 3")

    assert "Added" in await text_of(fake, ANN, f"/addsource {feeds.url('/own.xml')}")
    assert "Added" in await text_of(fake, BEN, f"/addsource {feeds.url('/other.xml')}")
    assert "Own #1" in await text_of(fake, ANN, "/sources")
    assert "Other #1" in await text_of(fake, BEN, "/sources")
    assert "Removed Other" in await text_of(fake, BEN, "/removesource 1")
    assert [s.name for s in bot.store.sources_for_chat(ANN) if not s.is_global] == ["Own"]

    # A source every chat has: adding and removing it say so, and nothing changes.
    everyone = await text_of(fake, ANN, f"/addsource {feeds.url('/news.xml')}")
    assert "already checked for every chat" in everyone
    refused = await text_of(fake, ANN, f"/removesource {feeds.url('/news.xml')}")
    assert "can't be removed from one chat" in refused
    assert "Outlet" in await text_of(fake, ANN, "/sources")


# -- paged /sources and /status -------------------------------------------------------------------


async def test_sources_and_status_page_instead_of_stopping(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> None:
    many = {f"Outlet {n:02d}": feeds.url(f"/news.xml?n={n}") for n in range(44)}
    many["Broken"] = feeds.url("/broken.xml")  # answers 404
    bot = await start_bot(fake, feeds, database_url, tmp_path, sources=many)
    try:
        assert await wait_until(
            lambda: any(s.name == "Broken" and s.error_streak for s in bot.sources()), 20
        )
        await say(fake, ANN, f"/addsource {feeds.url('/own.xml')}")
        first = await say(fake, ANN, "/sources")
        assert "Page 1 of 3" in (first.plain_text or "")
        seen = set()
        message = first
        for page in (2, 3):
            answer = await press(fake, ANN, first.message_id, button_data(message, "Next"))
            assert answer == f"Page {page}."
            message = fake.message(ANN, first.message_id)
            assert message is not None and f"Page {page} of 3" in (message.plain_text or "")
            seen |= {name for name in [*many, "Own"] if name in (message.plain_text or "")}
        seen |= {name for name in many if name in (first.plain_text or "")}
        assert seen == {*many, "Own"}
        assert "Own #1" in (message.plain_text or "")
        assert "Next" not in str(message.reply_markup)

        last = await text_of(fake, ANN, "/status 99")
        assert "Page 6 of 6" in last and "Own #1" in last
        broken = next(line for line in seen_lines(first, fake, ANN) if "Broken" in line)
        assert "the site answered with error 404" in broken and "HTTP" not in broken
        status = await say(fake, ANN, "/status")
        assert "Page 1 of 6" in (status.plain_text or "") and "Outlet 00" in (
            status.plain_text or ""
        )
        assert buttons(status)
    finally:
        await bot.stop()


def seen_lines(first: SentMessage, fake: FakeTelegram, chat_id: int) -> list[str]:
    """Every line the paged /sources message showed, across its pages."""
    pages = [first, *fake.edits_of(chat_id, first.message_id)]
    return [line for page in pages for line in (page.plain_text or "").splitlines()]


# -- /import checks sources exactly like /addsource -----------------------------------------------


def export_with(sources: list[str]) -> str:
    return json.dumps(
        {
            "format": "summit-watch-export",
            "version": 1,
            "topics": [{"query": "Putin Modi summit"}],
            "sources": [{"url": url} for url in sources],
        }
    )


async def test_import_checks_every_source_like_addsource(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> None:
    bot = await start_bot(fake, feeds, database_url, tmp_path, allow_private_networks=False)
    try:
        assert bot.runtime is not None
        backend = bot.runtime.fetcher.backend

        async def fake_dns(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]  # every name leads to this machine

        backend.resolver = fake_dns
        port = feeds.port
        loopback_name = f"http://news.example:{port}/own.xml"
        for command in (f"/addsource {loopback_name}", "/import"):
            if command == "/import":
                document = upload(fake, export_with([loopback_name]), "x.json")
                reply = await text_of(fake, ANN, command, document=document)
                assert "sources[0].url" in reply and "Nothing was imported" in reply
            else:
                reply = await text_of(fake, ANN, command)
            assert "local or private network" in reply and "ALLOW_PRIVATE_NETWORKS" in reply

        literal = await text_of(fake, ANN, f"/addsource 127.0.0.1:{port}/own.xml")
        assert "127.0.0.1 is a local or private address" in literal
        assert "ALLOW_PRIVATE_NETWORKS=true" in literal

        # A public-looking first hop that redirects to loopback is refused at the redirect.
        backend.allowed = lambda ip: True
        feeds.set_handler("/hop.xml", lambda request: redirect(f"http://127.0.0.1:{port}/own.xml"))
        hop = f"http://news.example:{port}/hop.xml"
        document = upload(fake, export_with([f"http://news.example:{port}/own.xml", hop]), "y.json")
        reply = await text_of(fake, ANN, "/import", document=document)
        assert "sources[1].url" in reply and "local or private network" in reply

        missing = [f"http://news.example:{port}/gone-{n}.xml" for n in range(30)]
        document = upload(fake, export_with(missing), "z.json")
        reply = await text_of(fake, ANN, "/import", document=document)
        assert "sources[0].url: the site answered with error 404" in reply
        too_many = [f"http://news.example:{port}/feed-{n}.xml" for n in range(51)]
        document = upload(fake, export_with(too_many), "w.json")
        reply = await text_of(fake, ANN, "/import", document=document)
        assert "the file lists 51 sources; at most 50 can be checked at once" in reply
        assert bot.store.list_topics(ANN) == []
        assert [s for s in bot.store.sources_for_chat(ANN) if not s.is_global] == []

        good = export_with([f"http://news.example:{port}/own.xml"])
        reply = await text_of(fake, ANN, "/import", document=upload(fake, good, "ok.json"))
        assert "Imported: 1 new topic, 0 updated, 1 new source." in reply
        [own] = [s for s in bot.store.sources_for_chat(ANN) if not s.is_global]
        assert (own.url, own.name) == (f"http://news.example:{port}/own.xml", "Own")
    finally:
        await bot.stop()


# -- smaller defects, and /settings ---------------------------------------------------------------


async def test_small_defects_of_the_conversation(bot: BotUnderTest, fake: FakeTelegram) -> None:
    stored = await text_of(fake, ANN, "/watch Pu\u200btin\x00 Mo\x1bdi summit")
    assert "Watching topic #1: Putin Modi summit" in stored
    assert "I read it as: all of: putin, modi, summit" in stored
    assert [t.query for t in bot.store.list_topics(ANN)] == ["Putin Modi summit"]
    unknown = await text_of(fake, ANN, "/watch Putin lang:xx")
    assert "needs a known language code" in unknown and "Nothing was saved" in unknown
    assert "Watching" in await text_of(fake, ANN, "/watch Modi lang:hi")

    document = upload(fake, json.dumps({"format": "summit-watch-export", "version": "1"}), "v.json")
    version = await text_of(fake, ANN, "/import", document=document)
    assert "version: expected the number 1, not text" in version
    document = upload(fake, json.dumps({"format": "summit-watch-export", "version": 2}), "v.json")
    assert "version: 2 is not a version I can read" in await text_of(
        fake, ANN, "/import", document=document
    )

    fake.set_admins(GROUP, [ADMIN])
    before = len(fake.sent_to(GROUP))
    fake.chat_member_update(GROUP, new_status="member", old_status="left", user_id=ADMIN)
    assert await wait_until(lambda: len(fake.sent_to(GROUP)) > before, 20)
    assert "Hello! I watch the news" in (fake.sent_to(GROUP)[before].plain_text or "")
    group = dict(chat_type="group", user_id=ADMIN)
    await say(fake, GROUP, "/watch BRICS summit", **group)
    titled = await text_of(fake, GROUP, "/list", **group)
    assert titled.startswith("This chat's topics") and "Your topics" not in titled


async def test_settings_show_and_change_with_buttons(bot: BotUnderTest, fake: FakeTelegram) -> None:
    await say(fake, ANN, "/quiet 23:00-07:00 hold")
    card = await say(fake, ANN, "/settings")
    shown = card.plain_text or ""
    assert "Time zone: UTC" in shown and "Daily digest at: 08:00" in shown
    assert "Quiet hours: 23:00–07:00, alerts held until they end" in shown

    await press(fake, ANN, card.message_id, button_data(card, "Time zone"))
    zones = fake.message(ANN, card.message_id)
    assert "Choose a time zone" in (zones.plain_text or "") if zones else False
    assert await press(fake, ANN, card.message_id, button_data(zones, "Asia/Kolkata")) == "Saved."
    chat = bot.store.get_chat(ANN)
    assert chat is not None and chat.timezone == "Asia/Kolkata"
    assert "Asia/Kolkata" in ZONES

    menu = fake.message(ANN, card.message_id)
    await press(fake, ANN, card.message_id, button_data(menu, "Digest time"))
    times = fake.message(ANN, card.message_id)
    await press(fake, ANN, card.message_id, button_data(times, "07:00"))
    await press(
        fake, ANN, card.message_id, button_data(fake.message(ANN, card.message_id), "Quiet")
    )
    await press(fake, ANN, card.message_id, button_data(fake.message(ANN, card.message_id), "Off"))
    assert await press(fake, ANN, card.message_id, "set:z:999") == "This button has expired."
    assert await press(fake, ANN, card.message_id, button_data(menu, "Русский")) == "Сохранено."
    chat = bot.store.get_chat(ANN)
    assert chat is not None
    assert (chat.digest_time, chat.quiet_start, chat.language) == ("07:00", None, "ru")
    final = fake.message(ANN, card.message_id)
    assert final is not None and "Часовой пояс: Asia/Kolkata" in (final.plain_text or "")

    # In a group only admins change settings.
    fake.set_admins(GROUP, [ADMIN])
    group_card = await say(fake, GROUP, "/settings", chat_type="group", user_id=ADMIN)
    data = button_data(group_card, "Time zone")
    refused = await press(fake, GROUP, group_card.message_id, data, user_id=ADMIN + 1)
    assert "Only this chat's admins" in refused
