"""The subscriber's experience, end to end: the real PTB Application against the fake Bot API.

Command menu and help, starter topics, the /list keyboard, groups, forum threads, channels,
membership changes, export and import, the flood guard, languages and the operators' commands.
"""

from __future__ import annotations

import json
import shutil
import string
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import defaults
from bot.render import i18n, texts
from bot.storage.models import Chat
from bot.telegram.common import FLOOD_GUARD
from bot.telegram.guards import FloodGuard
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ALICE = 2001
BOB = 2002
CAROL = 2003
OPERATOR = 2999
GROUP = -4001
GROUP_ADMIN = 2101
FORUM = -1002002002002
CHANNEL = -1003003003003
SECOND_CHANNEL = -1003003003004
MAX_TOPICS = 6

SUMMIT = Entry(
    "Putin and Modi open their summit in New Delhi",
    "https://outlet.test/world/putin-modi-summit",
    "<p>Russian President Vladimir Putin and Prime Minister Narendra Modi met for a summit.</p>",
)


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/news.xml", rss([], title="Outlet"))
    feeds.set("/own.xml", rss([Entry("An older story", "https://own.test/1")], title="Own"))
    return feeds


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    sources = write_sources(tmp_path / "sources.toml", {"Outlet": feeds.url("/news.xml")})
    shutil.copy(defaults.STARTER_TOPICS, tmp_path / "starter_topics.toml")
    settings = make_settings(
        fake=fake,
        database_url=database_url,
        sources_file=sources,
        admin_ids=[OPERATOR],
        max_topics_per_chat=MAX_TOPICS,
    )
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    yield under_test
    await under_test.stop()


async def say(fake: FakeTelegram, chat_id: int, text: str, **kwargs: Any) -> SentMessage:
    """Send a message as a user and return the bot's first reply to it."""
    before = len(fake.sent_to(chat_id))
    fake.send_message(chat_id, text, **kwargs)
    assert await wait_until(lambda: len(fake.sent_to(chat_id)) > before, 10), text
    return fake.sent_to(chat_id)[before]


async def press(fake: FakeTelegram, chat_id: int, message_id: int, data: str, **kwargs: Any) -> str:
    """Press an inline button; returns the text of the callback's answer."""
    query_id = fake.press_button(chat_id, message_id, data, **kwargs)
    assert await wait_until(lambda: fake.callback_answer(query_id) is not None, 10), data
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


def chat_row(bot: BotUnderTest, chat_id: int) -> Chat | None:
    return bot.store.get_chat(chat_id)


# -- catalogs --------------------------------------------------------------------------------


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_catalog_has_every_key_with_the_same_placeholders() -> None:
    english = i18n.catalog("en")
    for lang in i18n.LANGUAGES:
        catalog = i18n.catalog(lang)
        assert set(catalog) == set(english), (lang, set(catalog) ^ set(english))
        for key, text in catalog.items():
            assert placeholders(text) == placeholders(english[key]), (lang, key)
    for name, _, _ in texts.COMMANDS + texts.OPERATOR_COMMANDS:
        assert f"commands.{name}" in english


# -- menu, help and starter topics -------------------------------------------------------------


async def test_menu_help_and_one_tap_starter_topics(bot: BotUnderTest, fake: FakeTelegram) -> None:
    menu = {c["command"]: c["description"] for c in fake.commands()}
    assert list(menu) == [name for name, _, _ in texts.COMMANDS]
    assert "stats" not in menu and all(1 <= len(d) <= 256 for d in menu.values())
    russian = {c["command"]: c["description"] for c in fake.commands(language_code="ru")}
    assert russian["watch"] == "Следить за темой"
    operator_scope = {"type": "chat", "chat_id": OPERATOR}
    assert {"stats", "broadcast"} <= {c["command"] for c in fake.commands(operator_scope)}

    help_text = (await say(fake, ALICE, "/help")).plain_text or ""
    for name, _, example in texts.COMMANDS:
        assert f"/{name}:" in help_text and texts.command_example(name, example) in help_text
    assert "/stats" not in help_text
    assert "/broadcast" in ((await say(fake, OPERATOR, "/help")).plain_text or "")

    welcome = await say(fake, ALICE, "/start")
    starters = buttons(welcome)
    assert [b["text"] for b in starters][:3] == ["Putin–Modi summit", "India–Russia trade", "BRICS"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in starters)

    sent = len(fake.sent_to(ALICE))
    answer = await press(fake, ALICE, welcome.message_id, starters[0]["callback_data"])
    assert answer == "Watching: Putin–Modi summit"
    assert await wait_until(lambda: len(fake.sent_to(ALICE)) > sent)
    assert "Watching topic #" in (fake.sent_to(ALICE)[sent].text or "")
    assert [t.query for t in bot.store.list_topics(ALICE)] == [
        "Putin Modi (summit OR visit OR talks)"
    ]

    again = await press(fake, ALICE, welcome.message_id, starters[0]["callback_data"])
    assert "already watch" in again
    for forged in ("start:0:00000000", "start:99:12345678", "start:x"):
        assert await press(fake, ALICE, welcome.message_id, forged) == "This button has expired."
    assert len(bot.store.list_topics(ALICE)) == 1


# -- the /list keyboard ------------------------------------------------------------------------


async def test_list_buttons_pause_switch_and_remove_by_editing_in_place(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    await say(fake, ALICE, "/watch Putin Modi summit")
    await say(fake, ALICE, "/watch BRICS expansion")
    first, second = bot.store.list_topics(ALICE)
    await say(fake, BOB, "/watch cricket final")
    assert bot.store.list_topics(BOB)[0].number == 1  # numbers count per chat

    listing = await say(fake, ALICE, "/list")
    mid = listing.message_id
    assert "Putin Modi summit" in (listing.text or "") and "instant" in (listing.text or "")
    assert len(buttons(listing)) == 6
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(listing))

    assert await press(fake, ALICE, mid, button_data(listing, f"Pause #{first.number}")) == (
        f"Paused #{first.number}."
    )
    edited = fake.message(ALICE, mid)
    assert edited is not None and edited.edited and "paused" in (edited.text or "")
    assert not bot.store.list_topics(ALICE)[0].active
    resumed = await press(fake, ALICE, mid, button_data(edited, f"Resume #{first.number}"))
    assert resumed == f"Resumed #{first.number}." and bot.store.list_topics(ALICE)[0].active

    for expected in ("daily", "hourly", "instant"):
        current = fake.message(ALICE, mid)
        label = {"daily": "Instant", "hourly": "Daily", "instant": "Hourly"}[expected]
        answer = await press(fake, ALICE, mid, button_data(current, label))
        assert expected in answer
        assert bot.store.list_topics(ALICE)[0].mode == expected
    assert len(fake.edits_of(ALICE, mid)) == 5
    assert len(fake.sent_to(ALICE)) == 3  # two confirmations and the list: all edits since

    remove = f"n:r:{second.number}:0::"
    assert await press(fake, ALICE, mid, remove) == f"Remove #{second.number}?"
    confirm = fake.message(ALICE, mid)
    assert confirm is not None and "cannot be undone" in (confirm.text or "")
    assert await press(fake, ALICE, mid, button_data(confirm, "No")) == ""
    assert len(bot.store.list_topics(ALICE)) == 2 and "BRICS" in (
        fake.message(ALICE, mid).text or ""
    )
    await press(fake, ALICE, mid, remove)
    yes = button_data(fake.message(ALICE, mid), "Yes")
    assert await press(fake, ALICE, mid, yes) == f"Removed #{second.number}."
    assert [t.id for t in bot.store.list_topics(ALICE)] == [first.id]
    assert "BRICS" not in (fake.message(ALICE, mid).text or "")

    expired = "This button has expired."
    stale_or_forged = [
        yes,  # removed already
        f"n:a:{second.number}:0:0:",  # removed topic
        "n:a:99:0:0:",  # a number this chat does not have
        f"t:a:{first.id}:0:0:",  # the format of an older version
        f"n:a:{first.number}:0:7:",  # not a state
        f"n:a:{first.number}:0:0:{CHANNEL}",  # a channel that was never linked
        "n:zz",
        "n:m:1:0:q:",
        "\x00garbage",
        "mute:999999",
    ]
    for data in stale_or_forged:
        assert await press(fake, ALICE, mid, data) == expired, data
    assert bot.store.list_topics(BOB)[0].active and bot.store.list_topics(ALICE)[0].active
    presses = 9 + len(stale_or_forged)
    assert len(fake.callback_answers) == presses  # every press was answered, once


# -- groups and forum topics -------------------------------------------------------------------


async def test_in_a_group_only_admins_watch_and_press(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    fake.set_admins(GROUP, [GROUP_ADMIN])
    refused = await say(fake, GROUP, "/watch Putin Modi summit", chat_type="group", user_id=7)
    assert "admins" in (refused.text or "") and bot.store.list_topics(GROUP) == []
    done = await say(
        fake, GROUP, "/watch Putin Modi summit", chat_type="group", user_id=GROUP_ADMIN
    )
    assert "Watching topic #" in (done.text or "")
    topic = bot.store.list_topics(GROUP)[0]

    listing = await say(fake, GROUP, "/list", chat_type="group", user_id=7)
    pause = button_data(listing, "Pause")
    answer = await press(fake, GROUP, listing.message_id, pause, user_id=7)
    assert answer == "Only this chat's admins can change its watches."
    assert bot.store.list_topics(GROUP)[0].active and fake.edits_of(GROUP, listing.message_id) == []
    answer = await press(fake, GROUP, listing.message_id, pause, user_id=GROUP_ADMIN)
    assert answer == f"Paused #{topic.number}." and not bot.store.list_topics(GROUP)[0].active


async def test_a_forum_topic_gets_its_alerts_in_its_own_thread(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.wait_polls(1)
    fake.set_chat(FORUM, type="supergroup", title="Newsroom", is_forum=True)
    fake.set_admins(FORUM, [GROUP_ADMIN])
    done = await say(
        fake,
        FORUM,
        "/watch Putin Modi summit",
        chat_type="supergroup",
        user_id=GROUP_ADMIN,
        message_thread_id=42,
        is_topic_message=True,
    )
    assert "Watching topic #" in (done.text or "") and done.message_thread_id == 42

    feeds.set("/news.xml", rss([SUMMIT], title="Outlet"))

    def alerts() -> list[SentMessage]:
        return [m for m in fake.sent_to(FORUM) if "open their summit" in (m.text or "")]

    assert await wait_until(lambda: len(alerts()) == 1, 20)
    assert alerts()[0].message_thread_id == 42


# -- channels ------------------------------------------------------------------------------------


async def test_a_channel_set_up_from_a_private_chat_receives_alerts(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await bot.wait_polls(1)
    fake.set_chat(CHANNEL, type="channel", title="Summit News", username="summitnews")
    fake.set_member(CHANNEL, ALICE, "creator")

    not_admin = await say(fake, ALICE, "/channel @summitnews")
    assert "not an admin of <b>Summit News</b>" in (not_admin.text or "")
    fake.set_member(CHANNEL, fake.bot_id, "administrator")
    other = await say(fake, BOB, "/channel @summitnews")
    assert "Only the admins of <b>Summit News</b>" in (other.text or "")
    assert chat_row(bot, CHANNEL) is None
    early = await say(fake, ALICE, "/channel @summitnews watch Putin Modi summit")
    assert "not linked yet" in (early.text or "")

    linked = await say(fake, ALICE, "/channel @summitnews")
    assert "is linked" in (linked.text or "")
    row = chat_row(bot, CHANNEL)
    assert row is not None and row.type == "channel" and row.owner_id == ALICE and row.active

    watched = await say(fake, ALICE, "/channel @summitnews watch Putin Modi summit")
    assert "Summit News" in (watched.text or "") and "Watching topic #" in (watched.text or "")
    assert bot.store.list_topics(ALICE) == [] and len(bot.store.list_topics(CHANNEL)) == 1
    group_try = await say(fake, GROUP, "/channel @summitnews", chat_type="group")
    assert "private chat" in (group_try.text or "")

    feeds.set("/news.xml", rss([SUMMIT], title="Outlet"))
    assert await wait_until(
        lambda: any("open their summit" in (m.text or "") for m in fake.sent_to(CHANNEL)), 20
    )
    assert not any("open their summit" in (m.text or "") for m in fake.sent_to(ALICE))

    listing = await say(fake, ALICE, "/channel @summitnews list")
    assert "Topics of Summit News" in (listing.text or "")
    pause = button_data(listing, "Pause")
    assert pause.endswith(f":{CHANNEL}")
    not_theirs = await press(fake, BOB, listing.message_id, pause)
    assert not_theirs == "Only this chat's admins can change its watches."
    topic = bot.store.list_topics(CHANNEL)[0]
    assert await press(fake, ALICE, listing.message_id, pause) == f"Paused #{topic.number}."
    assert not bot.store.list_topics(CHANNEL)[0].active

    off = await say(fake, ALICE, "/channel @summitnews off")
    assert "stopped posting" in (off.text or "")
    row = chat_row(bot, CHANNEL)
    assert row is not None and not row.active and len(bot.store.list_topics(CHANNEL)) == 1

    # Forwarding a post from a channel links it too.
    fake.set_chat(SECOND_CHANNEL, type="channel", title="Second Desk")
    fake.set_member(SECOND_CHANNEL, fake.bot_id, "administrator")
    fake.set_member(SECOND_CHANNEL, ALICE, "administrator")
    origin = {"id": SECOND_CHANNEL, "type": "channel", "title": "Second Desk"}
    forwarded = await say(fake, ALICE, "A post", forward_from_chat=origin)
    assert "<b>Second Desk</b> is linked" in (forwarded.text or "")
    assert {c.id for c in bot.store.owned_channels(ALICE)} == {CHANNEL, SECOND_CHANNEL}


async def test_removed_or_blocked_chats_are_deactivated_and_come_back(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    fake.set_admins(GROUP, [GROUP_ADMIN])
    await say(fake, GROUP, "/watch Putin Modi summit", chat_type="group", user_id=GROUP_ADMIN)
    await say(fake, ALICE, "/watch BRICS")

    def active(chat_id: int) -> bool:
        row = chat_row(bot, chat_id)
        return row is not None and row.active

    fake.chat_member_update(GROUP, new_status="kicked", old_status="member")
    fake.chat_member_update(ALICE, new_status="kicked", old_status="member", chat_type="private")
    assert await wait_until(lambda: not active(GROUP) and not active(ALICE))
    assert len(bot.store.list_topics(GROUP)) == 1 and len(bot.store.list_topics(ALICE)) == 1

    fake.chat_member_update(GROUP, new_status="member", old_status="left")
    fake.chat_member_update(ALICE, new_status="member", old_status="kicked", chat_type="private")
    assert await wait_until(lambda: active(GROUP) and active(ALICE))
    assert len(bot.store.list_topics(GROUP)) == 1

    # A channel where the bot is added as an admin is known from then on.
    fake.set_chat(CHANNEL, type="channel", title="Summit News")
    fake.chat_member_update(
        CHANNEL, new_status="administrator", old_status="left", chat_type="channel"
    )
    assert await wait_until(lambda: active(CHANNEL))
    fake.chat_member_update(
        CHANNEL, new_status="left", old_status="administrator", chat_type="channel"
    )
    assert await wait_until(lambda: not active(CHANNEL))


# -- export and import -------------------------------------------------------------------------


def document(fake: FakeTelegram, content: bytes | str, name: str) -> dict[str, Any]:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return fake.upload_file(data, name)


async def send_import(fake: FakeTelegram, chat_id: int, content: bytes | str, name: str) -> str:
    reply = await say(fake, chat_id, "/import", document=document(fake, content, name))
    return reply.text or ""


async def test_export_then_import_round_trip_and_invalid_files_change_nothing(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    await say(fake, ALICE, "/watch Putin Modi (summit OR visit)")
    await say(fake, ALICE, "/watch BRICS expansion")
    brics = bot.store.list_topics(ALICE)[1]
    assert brics.id is not None
    bot.store.update_topic(ALICE, brics.id, mode="daily", active=False)
    assert "Added" in (await say(fake, ALICE, f"/addsource {feeds.url('/own.xml')}")).text
    await say(fake, ALICE, "/tz Asia/Kolkata")
    await say(fake, ALICE, "/quiet 23:00-07:00 hold")

    fake.send_message(ALICE, "/export")
    assert await wait_until(lambda: len(fake.documents_to(ALICE)) == 2)
    exported, opml = fake.documents_to(ALICE)
    assert exported.document is not None and opml.document is not None
    assert exported.document.file_name == "summit-watch.json"
    data = json.loads(exported.document.content)
    assert data["format"] == "summit-watch-export" and data["version"] == 1
    assert data["topics"] == [
        {"query": "Putin Modi (summit OR visit)", "mode": "instant", "active": True},
        {"query": "BRICS expansion", "mode": "daily", "active": False},
    ]
    assert [s["url"] for s in data["sources"]] == [feeds.url("/own.xml")]
    assert data["settings"]["timezone"] == "Asia/Kolkata"
    assert (data["settings"]["quiet_start"], data["settings"]["quiet_mode"]) == ("23:00", "hold")
    assert feeds.url("/own.xml") in opml.document.content.decode()

    # Bob restores Alice's file: the same topics, sources and settings.
    done = await send_import(fake, BOB, exported.document.content, "summit-watch.json")
    assert "Imported: 2 new topics, 0 updated, 1 new source; settings applied" in done
    assert [(t.query, t.mode, t.active) for t in bot.store.list_topics(BOB)] == [
        ("Putin Modi (summit OR visit)", "instant", True),
        ("BRICS expansion", "daily", False),
    ]
    assert feeds.url("/own.xml") in [s.url for s in bot.store.sources_for_chat(BOB)]
    bob = chat_row(bot, BOB)
    assert bob is not None and (bob.timezone, bob.quiet_end) == ("Asia/Kolkata", "07:00")
    again = await send_import(fake, BOB, exported.document.content, "summit-watch.json")
    assert "0 new topics, 0 updated, 0 new sources" in again

    # Carol imports the OPML by replying /import to the message that carries it.
    opml_file = document(fake, opml.document.content, "feeds.opml")
    posted = {"id": CAROL, "type": "private", "first_name": "Carol"}
    sent = len(fake.sent_to(CAROL))
    fake.feed_update(
        {
            "message": {
                "message_id": 900,
                "date": 0,
                "chat": posted,
                "from": {"id": CAROL, "is_bot": False, "first_name": "Carol"},
                "text": "/import",
                "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
                "reply_to_message": {
                    "message_id": 899,
                    "date": 0,
                    "chat": posted,
                    "document": opml_file,
                },
            }
        }
    )
    assert await wait_until(lambda: len(fake.sent_to(CAROL)) > sent)
    assert "1 new source." in (fake.sent_to(CAROL)[sent].text or "")
    assert feeds.url("/own.xml") in [s.url for s in bot.store.sources_for_chat(CAROL)]

    # Invalid files: a precise reason, and nothing changes.
    before_topics = [(t.query, t.mode, t.active) for t in bot.store.list_topics(BOB)]
    before_sources = [s.url for s in bot.store.sources_for_chat(BOB)]
    invalid = dict(data, topics=[{"query": "Fresh topic"}, {"query": "Putin (Modi summit"}])
    reply = await send_import(fake, BOB, json.dumps(invalid), "broken.json")
    assert "topics[1].query: Unbalanced parentheses" in reply and "Nothing was imported" in reply
    cases = {
        "unknown key": (json.dumps(dict(data, extra=1)), "extra: unknown key"),
        "bad mode": (
            json.dumps(dict(data, topics=[{"query": "x y", "mode": "weekly"}])),
            "topics[0].mode: must be one of instant, hourly, daily",
        ),
        "bad url": (
            json.dumps(dict(data, sources=[{"url": "ftp://files.test/feed"}])),
            "sources[0].url: only http and https",
        ),
        "bad zone": (
            json.dumps(dict(data, settings={"timezone": "Mars/Olympus"})),
            "settings.timezone: not a time zone",
        ),
        "not json": ("{not json", "not valid JSON"),
        "over quota": (
            json.dumps(dict(data, topics=[{"query": f"topic{n} words"} for n in range(7)])),
            f"the chat would have 9 topics; the limit is {MAX_TOPICS}",
        ),
    }
    for name, (content, expected) in cases.items():
        reply = await send_import(fake, BOB, content, "x.json")
        assert expected in reply and "Nothing was imported" in reply, (name, reply)
    entities = (
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">]>'
        '<opml version="2.0"><body><outline text="&a;" xmlUrl="https://x.test/&a;"/></body></opml>'
    )
    assert "entities or a DTD" in await send_import(fake, BOB, entities, "bomb.opml")
    bad_feed = '<opml version="2.0"><body><outline xmlUrl="javascript:alert(1)"/></body></opml>'
    assert "outline[0].xmlUrl" in await send_import(fake, BOB, bad_feed, "bad.opml")
    assert "too big" in await send_import(fake, BOB, b"{" + b" " * 300_000 + b"}", "big.json")
    assert "caption <code>/import</code>" in ((await say(fake, BOB, "/import")).text or "")
    assert [(t.query, t.mode, t.active) for t in bot.store.list_topics(BOB)] == before_topics
    assert [s.url for s in bot.store.sources_for_chat(BOB)] == before_sources


# -- limits ----------------------------------------------------------------------------------------


async def test_a_flooding_chat_gets_one_slow_down_and_is_ignored_for_a_window(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    assert bot.runtime is not None
    guard = bot.runtime.application.bot_data[FLOOD_GUARD]
    assert isinstance(guard, FloodGuard)
    now = [1000.0]
    guard.clock = lambda: now[0]
    for _ in range(21):
        fake.send_message(ALICE, "/help")
    # One message a second to a private chat: Telegram's limit, kept by the bot.
    assert await wait_until(lambda: len(fake.sent_to(ALICE)) == 21, 60)
    replies = [m.text or "" for m in fake.sent_to(ALICE)]
    assert sum("Slow down" in text for text in replies) == 1 and "Slow down" in replies[-1]

    fake.send_message(ALICE, "/help")
    fake.send_message(ALICE, "/watch Putin Modi summit")
    await say(fake, BOB, "/help")
    await bot.settle()
    assert len(fake.sent_to(ALICE)) == 21 and bot.store.list_topics(ALICE) == []
    assert len(fake.sent_to(BOB)) == 1  # the guard counts per chat

    now[0] += 61
    assert "<b>Commands</b>" in ((await say(fake, ALICE, "/help")).text or "")
    too_long = await say(fake, ALICE, "/watch " + "word " * 70)
    assert "too long (at most 300 characters)" in (too_long.text or "")


# -- language ----------------------------------------------------------------------------------


async def test_replies_follow_the_users_language_and_lang_overrides_it(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    welcome = await say(fake, ALICE, "/start", language_code="ru")
    assert "Здравствуйте" in (welcome.text or "") and "Саммит Путина и Моди" in str(
        welcome.reply_markup
    )
    assert "Здравствуйте" not in ((await say(fake, BOB, "/start")).text or "")

    assert (await say(fake, BOB, "/lang ru")).text == "Теперь я отвечаю по-русски."
    watched = await say(fake, BOB, "/watch Putin Modi summit")
    assert "Слежу за темой #" in (watched.text or "")
    listing = await say(fake, BOB, "/list")
    assert "Ваши темы" in (listing.text or "") and "Пауза" in str(listing.reply_markup)
    assert "Я не знаю такой команды" in ((await say(fake, BOB, "/frobnicate")).text or "")
    assert "Ничего не сохранено" in ((await say(fake, BOB, "/watch (Putin")).text or "")
    answer = await press(fake, BOB, listing.message_id, "n:a:999999:0:0:")
    assert answer == "Эта кнопка устарела."
    row = chat_row(bot, BOB)
    assert row is not None and (row.language, row.language_chosen) == ("ru", True)

    assert (await say(fake, BOB, "/lang en")).text == "From now on I reply in English."
    assert "Your topics" in ((await say(fake, BOB, "/list")).text or "")
    usage = await say(fake, BOB, "/lang klingon")
    assert "/lang ru" in (usage.text or "")
    assert "Снова следую" in ((await say(fake, ALICE, "/lang auto", language_code="ru")).text or "")


# -- operators ---------------------------------------------------------------------------------


async def test_stats_and_broadcast_only_for_operators(
    bot: BotUnderTest, fake: FakeTelegram
) -> None:
    unknown = "I don't know that command."
    assert unknown in ((await say(fake, ALICE, "/stats")).text or "")
    assert unknown in ((await say(fake, ALICE, "/broadcast hi")).text or "")
    await say(fake, ALICE, "/watch Putin Modi summit")
    await say(fake, GROUP, "/start", chat_type="group")
    await say(fake, BOB, "/start")
    await say(fake, CAROL, "/start")
    await say(fake, OPERATOR, "/start")
    fake.chat_member_update(CAROL, new_status="kicked", old_status="member", chat_type="private")
    fake.set_chat(CHANNEL, type="channel", title="Summit News")
    fake.chat_member_update(
        CHANNEL, new_status="administrator", old_status="left", chat_type="channel"
    )

    def active(chat_id: int) -> bool:
        row = chat_row(bot, chat_id)
        return row is not None and row.active

    assert await wait_until(lambda: active(CHANNEL) and not active(CAROL))
    assert unknown in ((await say(fake, GROUP, "/stats", chat_type="group", user_id=OPERATOR)).text)

    stats = (await say(fake, OPERATOR, "/stats")).text or ""
    assert "Chats: 5 active of 6" in stats and "Topics: 1 (1 active)" in stats
    assert "Alerts sent in the last 24 h: 0" in stats

    fake.block(BOB)
    started = await say(fake, OPERATOR, "/broadcast Maintenance at 22:00 <b>UTC</b> & more")
    assert "Sending to 4 chats" in (started.text or "")  # Operator, Alice, Bob, the group
    assert await wait_until(
        lambda: any("Broadcast delivered" in (m.text or "") for m in fake.sent_to(OPERATOR))
    )
    report = [
        m.text or "" for m in fake.sent_to(OPERATOR) if "Broadcast delivered" in (m.text or "")
    ]
    assert report == ["📣 Broadcast delivered to 3 of 4 chats."]
    for chat_id in (ALICE, GROUP, OPERATOR):
        got = [m.plain_text for m in fake.sent_to(chat_id) if "Maintenance" in (m.text or "")]
        assert got == ["Maintenance at 22:00 <b>UTC</b> & more"], chat_id
    assert not any("Maintenance" in (m.text or "") for m in fake.sent_to(CAROL))
    assert not any("Maintenance" in (m.text or "") for m in fake.sent_to(CHANNEL))
    bob = chat_row(bot, BOB)
    assert bob is not None and not bob.active
