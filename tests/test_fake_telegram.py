"""The fake Bot API server, exercised through the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
)

from tests.support.fake_telegram import FakeTelegram, SentMessage, parse_html, utf16_len

WAIT = 10.0  # upper bound for every wait; a healthy run never gets near it

# PTB 22 warns on every RetryAfter unless PTB_TIMEDELTA is set; `seconds` copes with both.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*`retry_after` will be of type `datetime.timedelta`:DeprecationWarning"
)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with fake.make_bot() as client:
        yield client


def seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def raw_post(fake: FakeTelegram, path: str, fields: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A form POST outside PTB, to see the exact status and envelope."""
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(
        f"{fake.base_url}{path}",
        data=data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --------------------------------------------------------------------------------------------
# Bot: basics and envelopes


async def test_get_me_and_send_message(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "summit_watch_bot"
    assert me.id == 123456
    assert me.is_bot

    first = await bot.send_message(1, "hello", disable_notification=True)
    second = await bot.send_message(1, "again")
    other_chat = await bot.send_message(2, "elsewhere")

    assert (first.message_id, second.message_id, other_chat.message_id) == (1, 2, 1)
    assert first.chat.id == 1
    assert first.from_user is not None and first.from_user.id == me.id
    assert [m.text for m in fake.sent_to(1)] == ["hello", "again"]
    assert fake.sent_to(1)[0].disable_notification is True
    assert [c.method for c in fake.calls] == [
        "getMe",
        "getMe",
        "sendMessage",
        "sendMessage",
        "sendMessage",
    ]


async def test_send_message_records_markup_and_options(fake: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Mute", callback_data="mute:42")],
            [InlineKeyboardButton("Open", url="https://example.com/a")],
        ]
    )
    message = await bot.send_message(
        1,
        "story",
        reply_markup=markup,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert message.reply_markup == markup
    sent = fake.sent_to(1)[0]
    assert sent.reply_markup == markup.to_dict()
    assert sent.link_preview_options == {"is_disabled": True}
    assert fake.calls[-1].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
        "mute:42"
    )


async def test_unknown_method_is_404_and_wrong_token_is_401(fake: FakeTelegram, bot: Bot) -> None:
    status, body = raw_post(fake, f"/bot{fake.token}/sendTelepathy", {"chat_id": "1"})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1})

    status, body = raw_post(fake, "/bot999:wrong-token/getMe", {})
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    wrong = Bot(
        "999:wrong-token",
        base_url=f"{fake.base_url}/bot",
        base_file_url=f"{fake.base_url}/file/bot",
    )
    with pytest.raises(InvalidToken):
        async with wrong:  # initialize() calls getMe
            pass


async def test_method_names_are_case_insensitive(fake: FakeTelegram) -> None:
    status, body = raw_post(fake, f"/bot{fake.token}/SENDMESSAGE", {"chat_id": "5", "text": "hi"})
    assert status == 200 and body["ok"] is True
    assert body["result"]["text"] == "hi"
    assert [m.text for m in fake.sent_to(5)] == ["hi"]


async def test_spec_validation_of_parameter_names(fake: FakeTelegram) -> None:
    if not fake.spec_loaded:
        pytest.skip("the Bot API spec is not beside the checkout")
    status, body = raw_post(
        fake, f"/bot{fake.token}/sendMessage", {"chat_id": "1", "text": "x", "colour": "red"}
    )
    assert status == 400
    assert body["description"] == 'Bad Request: unknown parameter "colour" for method sendMessage'
    status, body = raw_post(fake, f"/bot{fake.token}/sendMessage", {"text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is required")
    assert fake.sent_to(1) == []


# --------------------------------------------------------------------------------------------
# Bot: failures


async def test_injected_retry_after_starts_a_penalty_for_its_chat() -> None:
    now = [100.0]
    with FakeTelegram(clock=lambda: now[0]) as fake:
        async with fake.make_bot() as bot:
            fake.fail_next(1, kind="retry_after", retry_after=7)
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(1, "x")
            assert seconds(caught.value) == 7
            assert fake.count_429 == 1 and fake.calls[-1].status == 429
            assert fake.sends_during_penalty == 0
            now[0] += 5
            with pytest.raises(RetryAfter) as again:
                await bot.send_message(1, "too early")
            assert seconds(again.value) == 2
            await bot.send_message(2, "another chat is not held")
            assert fake.sends_during_penalty == 1 and fake.penalty_sends == [(1, "sendMessage")]
            now[0] += 2
            await bot.send_message(1, "x")
            assert len(fake.sent_to(1)) == 1 and fake.sends_during_penalty == 1


async def test_a_global_429_holds_every_chat() -> None:
    now = [10.0]
    with FakeTelegram(rate_limit=(2, 1.0), clock=lambda: now[0]) as fake:
        async with fake.make_bot() as bot:
            await bot.send_message(1, "a")
            await bot.send_message(2, "b")
            with pytest.raises(RetryAfter):
                await bot.send_message(3, "c")
            assert fake.sends_during_penalty == 0
            with pytest.raises(RetryAfter):
                await bot.send_message(4, "d")
            assert fake.penalty_sends == [(4, "sendMessage")]
            now[0] += 1.0
            await bot.send_message(4, "d")


async def test_injected_failures_count_down_per_chat(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(1, kind="server", times=2)
    await bot.send_message(2, "other chat is unaffected")
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(1, "x")
    await bot.send_message(1, "x")
    fake.fail_next(1, kind="bad_gateway")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(1, "x")
    assert [m.chat_id for m in fake.messages] == [2, 1]


async def test_chat_action_does_not_consume_injected_failure(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(1, kind="blocked")
    await bot.send_chat_action(1, "typing")
    with pytest.raises(Forbidden):
        await bot.send_message(1, "x")
    assert fake.chat_actions == [(1, "typing")]


async def test_block_is_permanent_until_unblock(fake: FakeTelegram, bot: Bot) -> None:
    fake.block(1)
    for _ in range(2):
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(1, "x")
    fake.block(-100)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(-100, "x")
    fake.unblock(1)
    await bot.send_message(1, "x")
    assert len(fake.messages) == 1


async def test_migration_injected_and_permanent(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(-100, kind="migrate", new_chat_id=-1001234)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-100, "x")
    assert caught.value.new_chat_id == -1001234

    fake.migrate(-200, -1002000)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-200, "x")
    assert caught.value.new_chat_id == -1002000
    message = await bot.send_message(-1002000, "moved")
    assert message.chat.type == "supergroup"


async def test_global_rate_limit_with_a_frozen_clock() -> None:
    now = [1000.0]
    with FakeTelegram(rate_limit=(30, 1.0), clock=lambda: now[0]) as fake:
        async with fake.make_bot() as bot:
            limited: list[RetryAfter] = []
            for i in range(60):
                try:
                    await bot.send_message(1 + i % 3, "x")
                except RetryAfter as exc:
                    limited.append(exc)
            assert len(limited) == 30
            assert all(seconds(r) == 1 for r in limited)
            assert fake.count_429 == 30
            assert len(fake.messages) == 30

            now[0] += 1.0  # the window slides past every earlier send
            await bot.send_message(1, "after the window")
            assert len(fake.messages) == 31


async def test_rate_limit_60_rapid_sends() -> None:
    """The brief's scenario on the real clock; how many are limited depends on speed."""
    with FakeTelegram(rate_limit=(30, 1.0)) as fake:
        async with fake.make_bot() as bot:
            outcomes = await asyncio.gather(
                *(bot.send_message(1, f"n{i}") for i in range(60)), return_exceptions=True
            )
    limited = [r for r in outcomes if isinstance(r, RetryAfter)]
    assert all(isinstance(r, RetryAfter | Message) for r in outcomes)
    assert len(limited) == fake.count_429
    assert len(fake.messages) + len(limited) == 60
    assert len(fake.messages) >= 30


async def test_per_chat_limits_when_enforced() -> None:
    now = [50.0]
    with FakeTelegram(enforce_chat_limits=True, clock=lambda: now[0]) as fake:
        async with fake.make_bot() as bot:
            await bot.send_message(1, "one per second in private chats")
            with pytest.raises(RetryAfter):
                await bot.send_message(1, "too soon")
            await bot.send_message(2, "another chat is fine")
            for i in range(20):
                await bot.send_message(-100, f"group {i}")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(-100, "21st in a minute")
            assert seconds(caught.value) == 60
            now[0] += 1.0
            await bot.send_message(1, "a second later")


# --------------------------------------------------------------------------------------------
# Bot: Telegram's validation


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("<foo>bar</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("Price <b>up</b> <i>fast", 'Can\'t find end tag corresponding to start tag "i"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("Q&A session", 'Unescaped "&" at byte offset 1'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="bold">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Über <kahn@inbox.ru>", 'Unsupported start tag "kahn@inbox.ru" at byte offset 6'),
    ],
)
async def test_invalid_html_is_rejected(
    fake: FakeTelegram, bot: Bot, text: str, description: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(1, text, parse_mode="HTML")
    # PTB drops "Bad Request: " and str.capitalize()s the rest, lowering every other letter
    assert caught.value.message == f"Can't parse entities: {description}".capitalize()
    assert fake.calls[-1].description == f"Bad Request: can't parse entities: {description}"
    assert fake.sent_to(1) == []


async def test_escaped_html_with_links_is_accepted(fake: FakeTelegram, bot: Bot) -> None:
    title = 'Shares of "AT&T" rise <5%'
    url = "https://example.com/story?id=1&src=rss"
    text = (
        f'<b>{html.escape(title)}</b>\n<a href="{html.escape(url)}">Read more</a> '
        "<i>via</i> <code>feed</code> &#128240; <tg-spoiler>s</tg-spoiler> "
        '<blockquote expandable>q</blockquote> <pre><code class="language-python">x=1</code></pre>'
    )
    message = await bot.send_message(1, text, parse_mode="HTML")
    visible = f"{title}\nRead more via feed 📰 s q x=1"
    assert message.text == visible
    sent = fake.sent_to(1)[0]
    assert sent.text == text
    assert sent.plain_text == visible
    assert sent.parse_mode == "HTML"
    by_type = {e["type"]: e for e in sent.entities}
    assert by_type["bold"] == {"type": "bold", "offset": 0, "length": utf16_len(title)}
    assert by_type["text_link"]["url"] == url
    assert by_type["pre"]["language"] == "python"
    assert by_type["expandable_blockquote"]["length"] == 1
    assert "code" in by_type and "spoiler" in by_type
    link = next(e for e in message.entities if e.type == MessageEntity.TEXT_LINK)
    assert message.parse_entity(link) == "Read more"


async def test_lenient_entities_keep_a_stray_ampersand() -> None:
    with FakeTelegram(strict_html_entities=False) as fake:
        async with fake.make_bot() as bot:
            message = await bot.send_message(1, "Q&A &lt and &ge;", parse_mode="HTML")
    assert message.text == "Q&A < and &ge;"


async def test_length_limits_count_utf16_after_parsing(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(1, "a" * 4096)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(1, "a" * 4097)

    emoji = "\U0001f4f0"  # outside the BMP: two UTF-16 code units
    await bot.send_message(1, emoji * 2048)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(1, emoji * 2048 + "a")
    assert len(emoji * 2048 + "a") == 2049  # far below 4096 in code points

    await bot.send_message(1, f"<b>{'a' * 4096}</b>", parse_mode="HTML")
    await bot.send_message(1, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(1, "&amp;" * 4097, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(1, "<b> </b>", parse_mode="HTML")
    assert len(fake.sent_to(1)) == 4


async def test_callback_data_is_1_to_64_bytes(fake: FakeTelegram, bot: Bot) -> None:
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data=data)]])

    await bot.send_message(1, "ok", reply_markup=keyboard("é" * 32))  # 64 bytes
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(1, "too long", reply_markup=keyboard("é" * 32 + "x"))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(1, "empty", reply_markup=keyboard(""))
    assert len(fake.sent_to(1)) == 1


async def test_edits(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute")]])
    original = await bot.send_message(1, "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard)

    with pytest.raises(BadRequest, match="Message is not modified: specified new message content"):
        await bot.edit_message_text(
            "<b>v1</b>",
            chat_id=1,
            message_id=original.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("v2", chat_id=1, message_id=99)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("v2", chat_id=2, message_id=original.message_id)

    edited = await bot.edit_message_text(
        "<b>v2</b>", chat_id=1, message_id=original.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, Message)
    assert edited.text == "v2" and edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without markup removes the keyboard
    await bot.edit_message_reply_markup(1, original.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(1, original.message_id, reply_markup=keyboard)

    current = fake.message(1, original.message_id)
    assert current is not None
    assert (current.text, current.plain_text, current.edited) == ("<b>v2</b>", "v2", True)
    assert current.reply_markup == keyboard.to_dict()
    assert [e.method for e in fake.edits_of(1, original.message_id)] == [
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    assert [m.text for m in fake.sent_to(1)] == ["<b>v1</b>"]  # as sent
    assert [m.plain_text for m in fake.messages_to(1)] == ["v2"]  # as it stands

    fake.fail_next(1, kind="cant_edit")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("v3", chat_id=1, message_id=original.message_id)
    fake.fail_next(1, kind="not_modified")
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("v3", chat_id=1, message_id=original.message_id)

    assert await bot.delete_message(1, original.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("v3", chat_id=1, message_id=original.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(1, original.message_id)
    deleted = fake.message(1, original.message_id)
    assert deleted is not None and deleted.deleted
    assert fake.messages_to(1) == []


async def test_documents_upload_and_download(fake: FakeTelegram, bot: Bot) -> None:
    content = bytes(range(256)) * 4 + b"\r\n--boundary-like\r\n"
    sent = await bot.send_document(
        1, document=content, filename="digest.bin", caption="<b>Weekly</b>", parse_mode="HTML"
    )
    assert sent.document is not None and sent.document.file_name == "digest.bin"
    assert sent.caption == "Weekly"
    record = fake.documents_to(1)[0]
    assert record.document is not None
    assert (record.document.file_name, record.document.content) == ("digest.bin", content)
    assert record.text == "<b>Weekly</b>"

    again = await bot.send_document(2, document=sent.document.file_id)
    assert again.document is not None and again.document.file_id == sent.document.file_id

    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content

    user_doc = fake.upload_file(b"<opml/>", "feeds.opml")
    file = await bot.get_file(user_doc["file_id"])
    assert bytes(await file.download_as_bytearray()) == b"<opml/>"
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")


async def test_chats_members_and_commands(fake: FakeTelegram, bot: Bot) -> None:
    fake.set_chat(-1001, type="channel", title="News", username="@news")
    chat = await bot.get_chat("@news")
    assert (chat.id, chat.type, chat.title, chat.username) == (-1001, "channel", "News", "news")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat("@nobody")
    await bot.send_message("@news", "to the channel")
    assert len(fake.sent_to(-1001)) == 1

    fake.set_admins(-100, [7])
    assert (await bot.get_chat_member(-100, 7)).status == "administrator"
    assert (await bot.get_chat_member(-100, 8)).status == "member"
    assert (await bot.get_chat_member(5, 5)).status == "member"
    admins = await bot.get_chat_administrators(-100)
    assert [a.user.id for a in admins] == [7]
    with pytest.raises(BadRequest, match="There are no administrators in the private chat"):
        await bot.get_chat_administrators(5)

    await bot.set_my_commands([("watch", "Watch a topic"), ("start", "Start")])
    assert [c.command for c in await bot.get_my_commands()] == ["watch", "start"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad-Command", "x")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


# --------------------------------------------------------------------------------------------
# Bot: getUpdates


async def test_get_updates_offsets(fake: FakeTelegram, bot: Bot) -> None:
    ids = [fake.send_message(1, f"m{i}") for i in range(3)]
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == ids
    assert [u.message.text for u in updates if u.message] == ["m0", "m1", "m2"]
    assert await bot.get_updates(offset=ids[1], timeout=0) == tuple(updates[1:])
    assert await bot.get_updates(offset=ids[-1] + 1, timeout=0) == ()
    assert fake.pending_updates == 0


async def test_incoming_update_shapes_parse_in_ptb(fake: FakeTelegram, bot: Bot) -> None:
    opml = fake.upload_file(b"<opml/>", "feeds.opml")
    fake.send_message(1, "my feeds", document=opml)
    fake.send_message(
        -1005,
        "/watch@summit_watch_bot ai",
        chat_type="supergroup",
        user_id=42,
        username="bob",
        message_thread_id=9,
        is_topic_message=True,
    )
    fake.send_message(
        1,
        "forwarded",
        forward_from_chat={"id": -1007, "type": "channel", "title": "Wire", "message_id": 3},
    )
    fake.send_message(-1007, "channel post", chat_type="channel")
    fake.feed_update({"some_future_kind": {"x": 1}})  # unknown kinds must be tolerated

    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 5
    document, topic, forwarded, post, unknown = updates
    assert document.message is not None and document.message.document is not None
    assert document.message.document.file_name == "feeds.opml"
    assert document.message.caption == "my feeds"
    assert topic.message is not None and topic.message.from_user is not None
    assert (topic.message.from_user.id, topic.message.chat.type) == (42, "supergroup")
    assert (topic.message.message_thread_id, topic.message.is_topic_message) == (9, True)
    command = topic.message.entities[0]
    assert topic.message.parse_entity(command) == "/watch@summit_watch_bot"
    assert forwarded.message is not None and forwarded.message.forward_origin is not None
    assert forwarded.message.forward_origin.type == "channel"
    assert post.channel_post is not None and post.channel_post.sender_chat is not None
    assert unknown.effective_message is None


async def test_other_methods(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(1, "pin me")
    if fake.spec_loaded:  # spec methods that return True are accepted
        assert await bot.pin_chat_message(1, message.message_id)
    # a real method the fake lacks: 501 with the spec, plain 404 (like an unknown one) without
    expected = NetworkError if fake.spec_loaded else InvalidToken
    with pytest.raises(expected):
        await bot.send_photo(1, photo=b"\x89PNG", filename="a.png")
    assert fake.calls[-1].status == (501 if fake.spec_loaded else 404)
    assert fake.internal_errors == []


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=40, read_timeout=60))
    assert await fake.await_for(lambda f: f.waiting_polls == 1, WAIT)
    update_id = fake.send_message(1, "/start")
    updates = await asyncio.wait_for(poll, WAIT)  # well before the 40 s poll timeout
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None
    assert updates[0].message.entities[0].type == MessageEntity.BOT_COMMAND


async def test_a_second_poller_terminates_the_first(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=40, read_timeout=60))
    assert await fake.await_for(lambda f: f.waiting_polls == 1, WAIT)
    async with fake.make_bot() as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, WAIT)


async def test_stop_ends_a_long_poll() -> None:
    fake = FakeTelegram()
    fake.start()
    try:
        async with fake.make_bot() as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=40, read_timeout=60))
            assert await fake.await_for(lambda f: f.waiting_polls == 1, WAIT)
            await asyncio.wait_for(asyncio.to_thread(fake.stop), WAIT)
            outcome = await asyncio.wait_for(asyncio.gather(poll, return_exceptions=True), WAIT)
            assert outcome[0] == () or isinstance(outcome[0], NetworkError)
    finally:
        fake.stop()


async def test_webhook_blocks_get_updates(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    fake.send_message(1, "queued")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == ()


# --------------------------------------------------------------------------------------------
# A real Application polling the fake


async def test_application_polls_replies_and_shuts_down(fake: FakeTelegram) -> None:
    seen_args: list[list[str]] = []
    membership: list[tuple[int, str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute:1")]])
        await update.effective_message.reply_text(
            "<b>Welcome</b>", parse_mode="HTML", reply_markup=keyboard
        )

    async def watch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen_args.append(list(context.args or []))

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Muted")
        await query.edit_message_text("Muted")

    async def member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        assert change is not None
        membership.append((change.chat.id, change.new_chat_member.status))

    app = fake.app_builder().build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("watch", watch))
    app.add_handler(CallbackQueryHandler(button))
    app.add_handler(ChatMemberHandler(member, ChatMemberHandler.MY_CHAT_MEMBER))

    async with asyncio.timeout(30):
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            fake.send_message(1, "/start")
            assert await fake.await_for(lambda f: len(f.sent_to(1)) == 1, WAIT)
            reply: SentMessage = fake.sent_to(1)[0]
            assert reply.plain_text == "Welcome"
            assert reply.reply_markup is not None

            query_id = fake.press_button(1, reply.message_id, "mute:1")
            assert await fake.await_for(lambda f: f.callback_answer(query_id) is not None, WAIT)
            assert await fake.await_for(lambda f: bool(f.edits_of(1, reply.message_id)), WAIT)
            assert fake.callback_answer(query_id) == {
                "callback_query_id": query_id,
                "text": "Muted",
            }
            current = fake.message(1, reply.message_id)
            assert current is not None and current.plain_text == "Muted"

            fake.send_message(-100, "/watch@summit_watch_bot climate policy", chat_type="group")
            fake.send_message(-100, "/watch@other_bot ignored", chat_type="group")
            fake.chat_member_update(-200, old_status="member", new_status="kicked")
            assert await fake.await_for(lambda _: bool(seen_args) and bool(membership), WAIT)
            assert seen_args == [["climate", "policy"]]
            assert membership == [(-200, "kicked")]
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

    assert fake.pending_updates == 0  # the last getUpdates confirmed everything
    assert fake.internal_errors == []
    with pytest.raises(Forbidden, match="kicked from the group chat"):
        async with fake.make_bot() as bot:
            await bot.send_message(-200, "after the kick")


# --------------------------------------------------------------------------------------------
# The HTML parser on its own (cases follow TDLib's test/message_entities.cpp)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "🏟 🏟&lt;<i>a</em   >",
            'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
        ),
        ("&#xDFDF;", "Text contains invalid Unicode characters after decoding HTML entities"),
    ],
)
def test_parse_html_errors(markup: str, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_html(markup)
    assert str(caught.value).startswith(error)


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", [{"type": "italic", "offset": 5, "length": 5}]),
        (
            "🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt;🏟</b></i>",
            "🏟 🏟🏟 ><🏟",
            [
                {"type": "italic", "offset": 5, "length": 7},
                {"type": "bold", "offset": 9, "length": 3},
            ],
        ),
        ("🏟 🏟&lt;<i>🏟 🏟&lt;</>", "🏟 🏟<🏟 🏟<", [{"type": "italic", "offset": 6, "length": 6}]),
        ("🏟 🏟&lt;<b></b>", "🏟 🏟<", []),
        (
            '<a href  ="telegram.org"   > </a>',
            " ",
            [{"type": "text_link", "offset": 0, "length": 1, "url": "http://telegram.org/"}],
        ),
        ("<a> </a>", " ", []),
        (
            '<pre><code class="language-fift">🏟</code></pre>',
            "🏟",
            [{"type": "pre", "offset": 0, "length": 2, "language": "fift"}],
        ),
        (
            "<blockquote   expandable>a&lt;<pre  >b;</></>",
            "a<b;",
            [
                {"type": "expandable_blockquote", "offset": 0, "length": 4},
                {"type": "pre", "offset": 2, "length": 2},
            ],
        ),
    ],
)
def test_parse_html_entities(markup: str, text: str, entities: list[dict[str, Any]]) -> None:
    assert parse_html(markup) == (text, entities)
