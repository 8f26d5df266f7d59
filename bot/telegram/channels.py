"""Channels set up from a private chat, and the bot's own membership changes."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from telegram import (
    Bot,
    ChatFullInfo,
    ChatMember,
    ChatMemberAdministrator,
    MessageOriginChannel,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden

from bot.domain import UserError
from bot.match import QueryError, parse_query
from bot.render import texts
from bot.render.format import escape, shorten
from bot.render.i18n import t
from bot.render.problems import problem, wording
from bot.storage.models import Chat
from bot.storage.store import QuotaExceeded
from bot.subscribers.topics import MAX_QUERY_LENGTH, same_topic
from bot.telegram.common import CHANNEL_REF, is_channel_admin, is_private, send
from bot.telegram.context import BotContext, Services
from bot.telegram.replies import command_argument, language_of, reply
from bot.telegram.topic_commands import create_topic, forget_topic
from bot.telegram.topic_list import list_view

log = logging.getLogger(__name__)


# -- channels ------------------------------------------------------------------------------


def _can_post(member: ChatMember) -> bool:
    if member.status == ChatMember.OWNER:
        return True
    if isinstance(member, ChatMemberAdministrator):
        return member.can_post_messages is not False
    return False


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
    if not await is_channel_admin(bot, found.id, user_id):
        return None, t(lang, "channel.user_not_admin", title=title)
    return found, ""


def _channel_ref(channel: ChatFullInfo) -> str:
    return f"@{channel.username}" if channel.username else str(channel.id)


async def _link_channel(update: Update, context: BotContext, ref: str | int, lang: str) -> None:
    services = context.services
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


async def channel_command(update: Update, context: BotContext) -> None:
    """/channel REF [watch QUERY | unwatch NUMBER | list | off], from a private chat."""
    services = context.services
    lang = await language_of(update, services)
    user = update.effective_user
    if not is_private(update) or user is None:
        await reply(update, t(lang, "channel.private_only"))
        return
    argument = command_argument(update)
    ref, _, rest = argument.partition(" ")
    action, _, value = rest.strip().partition(" ")
    action, value = action.lower(), value.strip()
    if not ref or not CHANNEL_REF.fullmatch(ref) or action not in ("", *_CHANNEL_ACTIONS):
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
    except QuotaExceeded as exc:
        await reply(update, head + texts.quota_reached(exc, lang))
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
    await send(update, text, markup)


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


async def forwarded_post(update: Update, context: BotContext) -> None:
    """A post forwarded from a channel into the private chat links that channel."""
    services = context.services
    lang = await language_of(update, services)
    message = update.effective_message
    origin = message.forward_origin if message is not None else None
    if isinstance(origin, MessageOriginChannel):
        await _link_channel(update, context, origin.chat.id, lang)
        return
    await reply(update, t(lang, "channel.not_a_post"))


# -- the bot's own membership ----------------------------------------------------------------


async def membership_changed(update: Update, context: BotContext) -> None:
    """Removed, kicked or blocked: the chat is deactivated (its data kept); back: reactivated."""
    change = update.my_chat_member
    if change is None:
        return
    services = context.services
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
