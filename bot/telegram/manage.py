"""The subscriber's experience around the watch commands.

Starter topics on /start, the /list keyboard (pause, delivery mode, remove), channels set up
from a private chat, /lang, the command menu, a per-chat flood guard, the bot's own
membership changes, and the operators' /stats and /broadcast. /export and /import live in
`bot.telegram.transfer`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import tomllib
import zlib
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatFullInfo,
    ChatMember,
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageOriginChannel,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings, starter_topics_path
from bot.delivery.flood import BACKGROUND, send_priority
from bot.domain import UserError
from bot.match import Aliases, QueryError, parse_query
from bot.render import i18n, texts
from bot.render.format import escape, shorten
from bot.render.i18n import t
from bot.render.problems import problem, wording
from bot.storage.models import Chat, Topic, utcnow
from bot.storage.store import QuotaExceeded
from bot.subscribers.topics import same_topic
from bot.telegram.handlers import (
    MAX_QUERY_LENGTH,
    Handler,
    Services,
    command_argument,
    create_topic,
    ensure_chat,
    forget_topic,
    language_of,
    may_change,
    reply,
    services_of,
    translated,
)

log = logging.getLogger(__name__)

MAX_STARTERS = 8
MAX_STARTER_TITLE = 48
PAGE_SIZE = 8  # topics per /list page: 3 buttons each stays far below Telegram's limits
MODES = ("instant", "hourly", "daily")
NEXT_MODE = {"instant": "daily", "daily": "hourly", "hourly": "instant"}
IMPORT_MAX_BYTES = 256 * 1024
EXPORT_FORMAT = "summit-watch-export"
EXPORT_VERSION = 1
FLOOD_LIMIT = 20  # commands per chat ...
FLOOD_WINDOW = 60.0  # ... per this many seconds
BUTTON_FLOOD_LIMIT = 60  # button presses per chat in the same window: tapping is quicker
BROADCAST_MAX_LENGTH = 3500
BROADCAST_SPACING = 0.05  # between sends; the flood control keeps the global pace too
FLOOD_GUARD = "flood_guard"
BUTTON_GUARD = "button_guard"
STARTERS = "starter_topics"

# /list buttons: n:<action>:<topic number>:<page>:<argument>:<channel id or empty>
#   a = set active (argument 0/1), m = set mode (i/h/d), r = ask to remove, y = remove,
#   l = show a page (the "No" of a removal, and paging)
_LIST_DATA = re.compile(r"n:([amryl]):(\d{1,12}):(\d{1,3}):([01ihd]?):(-?\d{1,16})?")
_MODE_LETTER = {"instant": "i", "hourly": "h", "daily": "d"}
_LETTER_MODE = {letter: mode for mode, letter in _MODE_LETTER.items()}
_START_DATA = re.compile(r"start:(\d{1,2}):([0-9a-f]{8})")
_CHANNEL_REF = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{1,13}")
_IMPORT_CAPTION = re.compile(r"^/import(?:@(\w+))?(?:\s|$)")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_OFFSET = re.compile(r"[+-](0\d|1[0-4]):[0-5]\d")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


# -- starter topics ------------------------------------------------------------------------


@dataclass(frozen=True)
class StarterTopic:
    title: str
    query: str
    titles: dict[str, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        return self.titles.get(lang, self.title)

    @property
    def tag(self) -> str:
        """Ties a button to its query, so a button from an older file set is refused."""
        return f"{zlib.crc32(self.query.encode('utf-8')):08x}"


def load_starter_topics(path: Path, aliases: Aliases | None = None) -> list[StarterTopic]:
    """The `[[topics]]` of a starter file; entries that are not valid are logged and skipped."""
    if not path.exists():
        return []
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("starter topics not loaded from %s: %s", path, exc)
        return []
    found: list[StarterTopic] = []
    for number, entry in enumerate(data.get("topics", []), start=1):
        title = entry.get("title") if isinstance(entry, dict) else None
        query = entry.get("query") if isinstance(entry, dict) else None
        if not isinstance(title, str) or not isinstance(query, str) or not title.strip():
            log.warning("starter topic %d in %s needs a title and a query", number, path)
            continue
        try:
            parsed = parse_query(query[:MAX_QUERY_LENGTH], aliases)
        except QueryError as exc:
            log.warning("starter topic %d in %s: %s", number, path, exc)
            continue
        titles = {
            lang: shorten(str(entry[f"title_{lang}"]), MAX_STARTER_TITLE)
            for lang in i18n.LANGUAGES
            if isinstance(entry.get(f"title_{lang}"), str)
        }
        found.append(StarterTopic(shorten(title, MAX_STARTER_TITLE), parsed.text, titles))
    return found[:MAX_STARTERS]


def _starters(context: ContextTypes.DEFAULT_TYPE) -> list[StarterTopic]:
    starters = context.bot_data.get(STARTERS, [])
    assert isinstance(starters, list)
    return starters


# -- small helpers -------------------------------------------------------------------------


def thread_of(message: Message | None) -> int | None:
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


async def _send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_html(text, reply_markup=markup, do_quote=False)


def is_operator(update: Update, services: Services) -> bool:
    user = update.effective_user
    return user is not None and user.id in services.settings.admin_ids


async def _edit(
    context: ContextTypes.DEFAULT_TYPE,
    message: Any,
    text: str,
    markup: InlineKeyboardMarkup | None,
) -> bool:
    """Edit a list message in place; False if Telegram refused (an unchanged view is fine).

    The press's change is made before, so a refused edit must not turn its answer into an
    error: the next /list shows the change."""
    try:
        await context.bot.edit_message_text(
            text,
            chat_id=message.chat.id,
            message_id=message.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return True
        log.info("list message in chat %s not edited: %s", message.chat.id, exc.message)
        return False
    except TelegramError as exc:
        log.info("list message in chat %s not edited: %s", message.chat.id, exc)
        return False
    return True


# -- /start, /help, /lang ------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    await ensure_chat(update, services)
    lang = await language_of(update, services)
    user = update.effective_user
    text = texts.welcome(user.first_name if user else "", lang)
    markup = None
    starters = _starters(context)
    if starters:
        text += "\n\n" + t(lang, "welcome.starters")
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        starter.label(lang), callback_data=f"start:{i}:{starter.tag}"
                    )
                ]
                for i, starter in enumerate(starters)
            ]
        )
    await _send(update, text, markup)


async def starter_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A starter-topic button: watch its query here. Every press is answered."""
    press = update.callback_query
    if press is None:
        return
    services = services_of(context)
    lang = await language_of(update, services)
    answer = t(lang, "buttons.expired")
    try:
        found = _START_DATA.fullmatch(press.data or "")
        starters = _starters(context)
        chat = update.effective_chat
        if found is None or chat is None or int(found[1]) >= len(starters):
            return
        starter = starters[int(found[1])]
        if starter.tag != found[2]:
            return
        if not await may_change(update, context):
            answer = t(lang, "buttons.not_admin")
            return
        search_language = await ensure_chat(update, services)
        topics = await asyncio.to_thread(services.store.list_topics, chat.id)
        same = next((x for x in topics if x.query.casefold() == starter.query.casefold()), None)
        if same is not None:
            answer = t(lang, "welcome.already", id=same.number)
            return
        query = parse_query(starter.query, services.aliases)
        thread_id = thread_of(press.message if isinstance(press.message, Message) else None)
        try:
            topic = await create_topic(
                services, chat.id, query.text, thread_id=thread_id, search_language=search_language
            )
        except QuotaExceeded:
            answer = t(lang, "watch.quota", count=services.settings.max_topics_per_chat)
            return
        answer = t(lang, "welcome.started", title=starter.label(lang))
        try:
            await context.bot.send_message(
                chat.id,
                texts.watching(topic, query.describe(wording(lang)), lang),
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
            )
        except TelegramError as exc:  # the topic is watched; the answer says so already
            log.info("starter confirmation in chat %s not sent: %s", chat.id, exc)
    finally:
        with suppress(TelegramError):
            await press.answer(shorten(answer, 190))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    lang = await language_of(update, services)
    operator = is_operator(update, services) and _is_private(update)
    await reply(update, texts.help_text(lang, operator=operator))


def _is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def lang_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    lang = await language_of(update, services)
    wanted = command_argument(update).lower()
    chat = update.effective_chat
    if chat is None:
        return
    if wanted not in (*i18n.LANGUAGES, "auto"):
        await reply(update, t(lang, "lang.usage", current=i18n.NAMES[lang]))
        return
    if not await may_change(update, context):
        await reply(update, texts.not_admin(lang))
        return
    await ensure_chat(update, services)
    if wanted == "auto":
        await asyncio.to_thread(services.store.update_chat, chat.id, language_chosen=False)
        await reply(update, t(await language_of(update, services), "lang.auto"))
        return
    await asyncio.to_thread(
        services.store.update_chat, chat.id, language=wanted, language_chosen=True
    )
    await reply(update, t(wanted, "lang.set"))


# -- /list and its buttons -----------------------------------------------------------------


def _list_data(action: str, number: int, page: int, argument: str, target: int | None) -> str:
    return f"n:{action}:{number}:{page}:{argument}:{'' if target is None else target}"


def list_view(
    topics: Sequence[Topic],
    page: int,
    lang: str,
    *,
    target: int | None = None,
    title: str | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of a chat's topics, with a row of buttons per topic.

    `target` is a channel's id when its topics are managed from a private chat.
    """
    pages = max(1, math.ceil(len(topics) / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = list(topics[page * PAGE_SIZE : (page + 1) * PAGE_SIZE])
    text = texts.topics_list(shown, lang, title=title)
    if not topics:
        if title:
            text = title + "\n" + text
        return text, None
    if pages > 1:
        text += "\n" + t(lang, "list.page", page=page + 1, pages=pages)
    rows: list[list[InlineKeyboardButton]] = []
    for topic in shown:
        assert topic.number is not None
        mode = topic.mode if topic.mode in MODES else "instant"
        if topic.active and texts.muted_until(topic) is None:
            toggle = InlineKeyboardButton(
                t(lang, "buttons.pause", id=topic.number),
                callback_data=_list_data("a", topic.number, page, "0", target),
            )
        else:
            toggle = InlineKeyboardButton(
                t(lang, "buttons.resume", id=topic.number),
                callback_data=_list_data("a", topic.number, page, "1", target),
            )
        switch = InlineKeyboardButton(
            t(lang, f"buttons.{mode}"),
            callback_data=_list_data(
                "m", topic.number, page, _MODE_LETTER[NEXT_MODE[mode]], target
            ),
        )
        remove = InlineKeyboardButton(
            t(lang, "buttons.remove"), callback_data=_list_data("r", topic.number, page, "", target)
        )
        rows.append([toggle, switch, remove])
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(
                InlineKeyboardButton(
                    t(lang, "buttons.previous"),
                    callback_data=_list_data("l", 0, page - 1, "", target),
                )
            )
        if page < pages - 1:
            nav.append(
                InlineKeyboardButton(
                    t(lang, "buttons.next"), callback_data=_list_data("l", 0, page + 1, "", target)
                )
            )
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows)


def confirm_view(
    topic: Topic, page: int, lang: str, target: int | None
) -> tuple[str, InlineKeyboardMarkup]:
    assert topic.number is not None
    text = t(lang, "list.confirm", id=topic.number, query=escape(shorten(topic.query, 300)))
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "buttons.yes"),
                    callback_data=_list_data("y", topic.number, page, "", target),
                ),
                InlineKeyboardButton(
                    t(lang, "buttons.no"), callback_data=_list_data("l", 0, page, "", target)
                ),
            ]
        ]
    )
    return text, markup


async def list_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    lang = await language_of(update, services)
    chat = update.effective_chat
    assert chat is not None
    topics = await asyncio.to_thread(services.store.list_topics, chat.id)
    title = None if _is_private(update) else t(lang, "titles.group_topics")
    text, markup = list_view(topics, 0, lang, title=title)
    await _send(update, text, markup)


async def list_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A /list button. Every press is answered; stale or forged data: "expired"."""
    press = update.callback_query
    if press is None:
        return
    services = services_of(context)
    lang = await language_of(update, services)
    answer: str | None = t(lang, "buttons.expired")
    try:
        answer = await _list_action(update, context, services, lang)
    finally:
        with suppress(TelegramError):
            await press.answer(answer)


async def _list_action(
    update: Update, context: ContextTypes.DEFAULT_TYPE, services: Services, lang: str
) -> str | None:
    expired = t(lang, "buttons.expired")
    press = update.callback_query
    chat = update.effective_chat
    user = update.effective_user
    assert press is not None
    found = _LIST_DATA.fullmatch(press.data or "")
    if found is None or chat is None or user is None or press.message is None:
        return expired
    action, number, page, argument = found[1], int(found[2]), int(found[3]), found[4]
    target: int | None = int(found[5]) if found[5] else None
    title: str | None = None
    if target is not None:
        # A channel's topics, managed from the private chat of one of its admins.
        stored = await asyncio.to_thread(services.store.get_chat, target)
        if chat.type != ChatType.PRIVATE or stored is None or stored.type != "channel":
            return expired
        if not await _is_channel_admin(context.bot, target, user.id):
            return t(lang, "buttons.not_admin")
        chat_id = target
        title = t(lang, "list.channel_title", title=escape(shorten(stored.title, 80)))
    else:
        if not await may_change(update, context):
            return t(lang, "buttons.not_admin")
        chat_id = chat.id
    topics = await asyncio.to_thread(services.store.list_topics, chat_id)
    topic = next((x for x in topics if x.number == number), None)
    answer: str | None = None
    if action == "l":
        pass
    elif topic is None or topic.id is None:
        return expired
    elif action == "a" and argument in ("0", "1"):
        # Resume also lifts a "Mute 24 h": the topic is then live again in every way.
        values: dict[str, Any] = {"active": argument == "1"}
        if argument == "1":
            values["muted_until"] = None
        changed = await asyncio.to_thread(services.store.update_topic, chat_id, topic.id, **values)
        if changed is None:
            return expired
        services.on_topics_changed()
        answer = t(lang, "answers.resumed" if changed.active else "answers.paused", id=number)
    elif action == "m" and argument in _LETTER_MODE:
        mode = _LETTER_MODE[argument]
        changed = await asyncio.to_thread(services.store.update_topic, chat_id, topic.id, mode=mode)
        if changed is None:
            return expired
        services.on_topics_changed()
        answer = t(lang, "answers.mode", id=number, mode=t(lang, f"modes.{mode}"))
    elif action == "r" and not argument:
        question, buttons = confirm_view(topic, page, lang, target)
        if not await _edit(context, press.message, question, buttons):
            return expired
        return t(lang, "answers.confirm", id=number)
    elif action == "y" and not argument:
        if await forget_topic(services, chat_id, str(number)) is None:
            return expired
        answer = t(lang, "answers.removed", id=number)
    else:
        return expired
    topics = await asyncio.to_thread(services.store.list_topics, chat_id)
    text, markup = list_view(topics, page, lang, target=target, title=title)
    await _edit(context, press.message, text, markup)
    return answer


# -- channels ------------------------------------------------------------------------------


def _can_post(member: ChatMember) -> bool:
    if member.status == ChatMember.OWNER:
        return True
    if isinstance(member, ChatMemberAdministrator):
        return member.can_post_messages is not False
    return False


async def _is_channel_admin(bot: Bot, channel_id: int, user_id: int) -> bool:
    try:
        member = await bot.get_chat_member(channel_id, user_id)
    except TelegramError:
        return False
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


async def resolve_channel(
    bot: Bot, ref: str | int, user_id: int, lang: str
) -> tuple[ChatFullInfo | None, str]:
    """The channel, once the bot may post there and the user is one of its admins;
    otherwise None and the reason, ready to send."""
    shown = escape(str(ref))
    try:
        found = await bot.get_chat(ref)
    except (BadRequest, Forbidden):
        return None, t(lang, "channel.not_found", ref=shown)
    if found.type != ChatType.CHANNEL:
        return None, t(lang, "channel.not_channel", ref=shown)
    title = escape(shorten(found.title or str(found.id), 80))
    try:
        me = await bot.get_chat_member(found.id, bot.id)
    except (BadRequest, Forbidden):
        return None, t(lang, "channel.bot_not_admin", title=title)
    if not _can_post(me):
        return None, t(lang, "channel.bot_not_admin", title=title)
    if not await _is_channel_admin(bot, found.id, user_id):
        return None, t(lang, "channel.user_not_admin", title=title)
    return found, ""


def _channel_ref(channel: ChatFullInfo) -> str:
    return f"@{channel.username}" if channel.username else str(channel.id)


async def _link_channel(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str | int, lang: str
) -> None:
    services = services_of(context)
    user = update.effective_user
    assert user is not None
    channel, problem = await resolve_channel(context.bot, ref, user.id, lang)
    if channel is None:
        await reply(update, problem)
        return
    await asyncio.to_thread(
        services.store.ensure_chat,
        channel.id,
        type="channel",
        title=channel.title or "",
        language=user.language_code,
    )
    await asyncio.to_thread(services.store.update_chat, channel.id, owner_id=user.id)
    title = escape(shorten(channel.title or str(channel.id), 80))
    shown = escape(_channel_ref(channel))
    await reply(update, t(lang, "channel.linked", title=title, ref=shown))


async def channel_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/channel REF [watch QUERY | unwatch NUMBER | list | off], from a private chat."""
    services = services_of(context)
    lang = await language_of(update, services)
    user = update.effective_user
    if not _is_private(update) or user is None:
        await reply(update, t(lang, "channel.private_only"))
        return
    argument = command_argument(update)
    ref, _, rest = argument.partition(" ")
    action, _, value = rest.strip().partition(" ")
    action, value = action.lower(), value.strip()
    if not ref or not _CHANNEL_REF.fullmatch(ref) or action not in ("", *_CHANNEL_ACTIONS):
        text = t(lang, "channel.usage")
        owned = await asyncio.to_thread(services.store.owned_channels, user.id)
        if owned:
            names = ", ".join(f"<b>{escape(shorten(c.title, 60))}</b>" for c in owned[:20])
            text += "\n\n" + t(lang, "channel.yours", channels=names)
        await reply(update, text)
        return
    chat_ref: str | int = int(ref) if ref.startswith("-") else ref
    if not action:
        await _link_channel(update, context, chat_ref, lang)
        return
    channel, problem = await resolve_channel(context.bot, chat_ref, user.id, lang)
    if channel is None:
        await reply(update, problem)
        return
    title = escape(shorten(channel.title or str(channel.id), 80))
    shown = escape(_channel_ref(channel))
    stored = await asyncio.to_thread(services.store.get_chat, channel.id)
    if stored is None or not stored.active:
        await reply(update, t(lang, "channel.not_linked", title=title, ref=shown))
        return
    await _CHANNEL_ACTIONS[action](update, services, lang, stored, value, shown)


async def _channel_watch(
    update: Update, services: Services, lang: str, channel: Chat, value: str, ref: str
) -> None:
    head = t(lang, "channel.for_channel", title=escape(shorten(channel.title, 80))) + "\n"
    if not value:
        await reply(update, head + texts.watch_usage(lang))
        return
    if len(value) > MAX_QUERY_LENGTH:
        await reply(update, head + texts.query_too_long(MAX_QUERY_LENGTH, lang))
        return
    try:
        query = parse_query(value, services.aliases)
    except QueryError as exc:
        await reply(update, head + texts.query_error(problem(lang, exc), lang))
        return
    topics = await asyncio.to_thread(services.store.list_topics, channel.id)
    same = same_topic(topics, query, services.aliases)
    if same is not None:
        duplicate = UserError("duplicate.topic", id=same.number or 0, query=same.query)
        await reply(update, head + problem(lang, duplicate))
        return
    try:
        topic = await create_topic(
            services, channel.id, query.text, thread_id=None, search_language=channel.language
        )
    except QuotaExceeded:
        await reply(update, head + texts.topic_quota(services.settings.max_topics_per_chat, lang))
        return
    await reply(update, head + texts.watching(topic, query.describe(wording(lang)), lang))


async def _channel_unwatch(
    update: Update, services: Services, lang: str, channel: Chat, value: str, ref: str
) -> None:
    head = t(lang, "channel.for_channel", title=escape(shorten(channel.title, 80))) + "\n"
    topic = await forget_topic(services, channel.id, value) if value else None
    if topic is None:
        await reply(update, head + texts.unwatch_missing(value or "?", lang))
        return
    await reply(update, head + texts.unwatched(topic, lang))


async def _channel_list(
    update: Update, services: Services, lang: str, channel: Chat, value: str, ref: str
) -> None:
    topics = await asyncio.to_thread(services.store.list_topics, channel.id)
    title = t(lang, "list.channel_title", title=escape(shorten(channel.title, 80)))
    text, markup = list_view(topics, 0, lang, target=channel.id, title=title)
    await _send(update, text, markup)


async def _channel_off(
    update: Update, services: Services, lang: str, channel: Chat, value: str, ref: str
) -> None:
    await asyncio.to_thread(services.store.deactivate_chat, channel.id)
    title = escape(shorten(channel.title, 80))
    await reply(update, t(lang, "channel.off", title=title, ref=ref))


_CHANNEL_ACTIONS = {
    "watch": _channel_watch,
    "unwatch": _channel_unwatch,
    "list": _channel_list,
    "off": _channel_off,
}


async def forwarded_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A post forwarded from a channel into the private chat links that channel."""
    services = services_of(context)
    lang = await language_of(update, services)
    message = update.effective_message
    origin = message.forward_origin if message is not None else None
    if isinstance(origin, MessageOriginChannel):
        await _link_channel(update, context, origin.chat.id, lang)
        return
    await reply(update, t(lang, "channel.not_a_post"))


# -- the bot's own membership ----------------------------------------------------------------


async def membership_changed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Removed, kicked or blocked: the chat is deactivated (its data kept); back: reactivated."""
    change = update.my_chat_member
    if change is None:
        return
    services = services_of(context)
    chat = change.chat
    status = change.new_chat_member.status
    gone = status in (ChatMember.LEFT, ChatMember.BANNED)
    if chat.type == ChatType.CHANNEL and status not in (ChatMember.ADMINISTRATOR, ChatMember.OWNER):
        gone = True  # in a channel only admins post
    if gone:
        await asyncio.to_thread(services.store.deactivate_chat, chat.id)
        log.info("chat %s: the bot is %s; chat deactivated", chat.id, status)
        return
    user = change.from_user
    await asyncio.to_thread(
        services.store.ensure_chat,
        chat.id,
        type=chat.type,
        title=chat.title or chat.username or (user.full_name if user else ""),
        language=user.language_code if user else None,
    )
    was_in = change.old_chat_member.status not in (ChatMember.LEFT, ChatMember.BANNED)
    if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) and not was_in:
        lang = await language_of(update, services)
        with suppress(Forbidden, BadRequest):  # a group that does not let the bot speak
            await context.bot.send_message(
                chat.id,
                t(lang, "greeting.group", example=escape(texts.EXAMPLE_QUERY)),
                parse_mode=ParseMode.HTML,
            )


# -- the flood guard -----------------------------------------------------------------------

Verdict = Literal["ok", "warn", "drop"]


class FloodGuard:
    """At most `limit` commands per chat in any `window` seconds. The one over the limit gets
    a single warning, and the chat is ignored until a window has passed."""

    def __init__(
        self,
        limit: int = FLOOD_LIMIT,
        window: float = FLOOD_WINDOW,
        clock: Any = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[int, deque[float]] = {}
        self._blocked: dict[int, float] = {}

    def check(self, chat_id: int) -> Verdict:
        now = self.clock()
        until = self._blocked.get(chat_id)
        if until is not None:
            if now < until:
                return "drop"
            del self._blocked[chat_id]
        hits = self._hits.setdefault(chat_id, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        hits.append(now)
        if len(hits) > self.limit:
            hits.clear()
            self._blocked[chat_id] = now + self.window
            return "warn"
        if len(self._hits) > 10_000:
            self._forget(now)
        return "ok"

    def _forget(self, now: float) -> None:
        for chat_id in [c for c, h in self._hits.items() if not h or now - h[-1] >= self.window]:
            del self._hits[chat_id]
        for chat_id in [c for c, until in self._blocked.items() if until <= now]:
            del self._blocked[chat_id]


def _is_command(update: Update) -> bool:
    message = update.message
    return message is not None and (message.text or message.caption or "").startswith("/")


async def flood_guard(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler (group -1); stops the update when a chat floods.

    Commands and button presses have separate budgets; other updates are not counted."""
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.callback_query is not None:
        guard = context.bot_data[BUTTON_GUARD]
    elif _is_command(update):
        guard = context.bot_data[FLOOD_GUARD]
    else:
        return
    assert isinstance(guard, FloodGuard)
    verdict = guard.check(update.effective_chat.id)
    if verdict == "ok":
        return
    press = update.callback_query
    if verdict == "warn" or press is not None:
        lang = await language_of(update, services_of(context))
        with suppress(TelegramError):
            if press is not None:
                await press.answer(t(lang, "errors.slow_down"))
            else:
                await reply(update, t(lang, "errors.slow_down"))
    raise ApplicationHandlerStop


# -- operators -------------------------------------------------------------------------------


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    lang = await language_of(update, services)
    if not (is_operator(update, services) and _is_private(update)):
        await reply(update, texts.unknown_command(lang))
        return
    numbers = await asyncio.to_thread(services.store.operator_stats, utcnow() - timedelta(hours=24))
    await reply(update, t(lang, "operators.stats", **numbers))


async def broadcast_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    lang = await language_of(update, services)
    if not (is_operator(update, services) and _is_private(update)):
        await reply(update, texts.unknown_command(lang))
        return
    message = update.effective_message
    assert message is not None
    parts = (message.text or "").split(maxsplit=1)
    text = parts[1].strip() if len(parts) > 1 else ""
    if not text:
        await reply(update, t(lang, "operators.broadcast_usage"))
        return
    if len(text) > BROADCAST_MAX_LENGTH:
        await reply(update, t(lang, "operators.broadcast_too_long", limit=BROADCAST_MAX_LENGTH))
        return
    chat_ids = await asyncio.to_thread(services.store.broadcast_chat_ids)
    await reply(update, t(lang, "operators.broadcast_started", count=len(chat_ids)))
    context.application.create_task(
        _broadcast(context, services, chat_ids, text, update, lang), update=update
    )


async def _broadcast(
    context: ContextTypes.DEFAULT_TYPE,
    services: Services,
    chat_ids: Sequence[int],
    text: str,
    update: Update,
    lang: str,
) -> None:
    """One chat after another, paced; a chat that blocked the bot is deactivated."""
    send_priority.set(BACKGROUND)  # this task's own context: replies go first
    sent = 0
    for chat_id in chat_ids:
        if not context.application.running:
            break
        for attempt in range(2):
            try:
                await context.bot.send_message(chat_id, escape(text), parse_mode=ParseMode.HTML)
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                if attempt == 0:
                    await asyncio.sleep(min(seconds, 60.0))
                    continue
            except Forbidden:
                await asyncio.to_thread(services.store.deactivate_chat, chat_id)
            except TelegramError as exc:
                log.info("broadcast to chat %s failed: %s", chat_id, exc)
            else:
                sent += 1
            break
        await asyncio.sleep(BROADCAST_SPACING)
    await reply(update, t(lang, "operators.broadcast_done", sent=sent, count=len(chat_ids)))


# -- the command menu and registration -------------------------------------------------------


async def publish_commands(bot: Bot, settings: Settings) -> None:
    """setMyCommands: the menu in every catalog language; operators also see theirs."""
    try:
        for lang in i18n.LANGUAGES:
            code = None if lang == i18n.DEFAULT else lang
            public = [
                BotCommand(name, texts.command_description(name, about, lang))
                for name, about, _ in texts.COMMANDS
            ]
            operator = public + [
                BotCommand(name, texts.command_description(name, about, lang))
                for name, about, _ in texts.OPERATOR_COMMANDS
            ]
            await bot.set_my_commands(public, language_code=code)
            for admin_id in settings.admin_ids:
                with suppress(BadRequest, Forbidden):  # an operator who never opened the bot
                    await bot.set_my_commands(
                        operator, scope=BotCommandScopeChat(admin_id), language_code=code
                    )
    except TelegramError as exc:
        log.warning("the command menu was not published: %s", exc)


COMMAND_HANDLERS: dict[str, Handler] = {
    "start": start,
    "help": help_command,
    "list": list_command,
    "lang": lang_command,
    "channel": channel_command,
    "stats": stats_command,
    "broadcast": broadcast_command,
}


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add this module's handlers; called by `routes.register` before its catch-alls."""
    services = application.bot_data["services"]
    assert isinstance(services, Services)
    application.bot_data[FLOOD_GUARD] = FloodGuard()
    application.bot_data[BUTTON_GUARD] = FloodGuard(limit=BUTTON_FLOOD_LIMIT)
    application.bot_data[STARTERS] = load_starter_topics(
        starter_topics_path(services.settings), services.aliases
    )
    application.add_handler(TypeHandler(Update, flood_guard), group=-1)
    application.add_handler(ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER))
    for name, callback in COMMAND_HANDLERS.items():
        application.add_handler(CommandHandler(name, translated(callback)))
    application.add_handler(CallbackQueryHandler(list_pressed, pattern=r"^n:"))
    application.add_handler(CallbackQueryHandler(starter_pressed, pattern=r"^start:"))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.FORWARDED, forwarded_post)
    )
