"""The reply path shared by every command: the argument, the chat's language, who may change
the chat, UserError in the chat's language, and the catch-alls."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

from telegram import ChatMember, Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.domain import UserError
from bot.render import i18n, texts
from bot.render.problems import problem
from bot.storage.models import Chat
from bot.telegram.context import BotContext, Services

log = logging.getLogger(__name__)

GROUP_ANONYMOUS_BOT = 1087968824
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "″": '"'})


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def command_argument(update: Update) -> str:
    """The text after the command, with quotes kept (context.args would split phrases)."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip().translate(_SMART_QUOTES) if len(parts) > 1 else ""


async def reply(update: Update, text: str) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_html(text, do_quote=False)


def translated(callback: Handler) -> Handler:
    """The reply path for UserError: the handler raises it, the chat reads it in its language."""

    @functools.wraps(callback)
    async def run(update: Update, context: BotContext) -> None:
        try:
            await callback(update, context)
        except UserError as error:
            lang = await language_of(update, context.services)
            await reply(update, i18n.t(lang, "errors_extra.problem", problem=problem(lang, error)))

    return run


async def ensure_chat(update: Update, services: Services) -> str:
    """Record the chat; returns its language."""
    chat = update.effective_chat
    if chat is None:
        return "en"
    user = update.effective_user
    stored = await asyncio.to_thread(
        services.store.ensure_chat,
        chat.id,
        type=chat.type,
        title=chat.title or chat.username or (user.full_name if user else ""),
        language=(user.language_code if user else None),
    )
    return stored.language


def reply_language(chat: Chat | None, user: User | None) -> str:
    """The chat's choice (/lang) if it made one, else the user's Telegram language."""
    if chat is not None and chat.language_chosen:
        return i18n.normalize(chat.language)
    if user is not None and user.language_code:
        return i18n.normalize(user.language_code)
    return i18n.normalize(chat.language if chat is not None else None)


async def language_of(update: Update, services: Services) -> str:
    chat = update.effective_chat
    stored = await asyncio.to_thread(services.store.get_chat, chat.id) if chat else None
    return reply_language(stored, update.effective_user)


async def may_change(update: Update, context: BotContext) -> bool:
    """In groups only admins change watches; private chats belong to their user."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if (
        message is not None
        and message.sender_chat is not None
        and message.sender_chat.id == chat.id
    ):
        return True  # an anonymous admin posting as the group
    user = update.effective_user
    if user is None or user.id == GROUP_ANONYMOUS_BOT:
        return user is not None
    if chat.type == ChatType.CHANNEL:
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        log.warning("admin check failed in chat %s", chat.id)
        return False
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


async def change_request(update: Update, context: BotContext) -> tuple[Services, str] | None:
    """Services and reply language for a command that changes the chat; None, with the
    refusal already sent, when the sender may not change it."""
    services = context.services
    lang = await language_of(update, services)
    if await may_change(update, context):
        return services, lang
    await reply(update, texts.not_admin(lang))
    return None


async def change_with_argument(
    update: Update, context: BotContext, usage: Callable[[str], str]
) -> tuple[Services, str, str] | None:
    """Services, reply language and argument of a command that changes the chat and needs an
    argument; None, with the refusal or the usage reply already sent, when it cannot go on."""
    allowed = await change_request(update, context)
    if allowed is None:
        return None
    services, lang = allowed
    argument = command_argument(update)
    if not argument:
        await reply(update, usage(lang))
        return None
    return services, lang, argument


async def unknown_command(update: Update, context: BotContext) -> None:
    await reply(update, texts.unknown_command(await language_of(update, context.services)))


async def plain_text(update: Update, context: BotContext) -> None:
    await reply(update, texts.plain_text_hint(await language_of(update, context.services)))


async def on_error(update: object, context: BotContext) -> None:
    what = "update" if isinstance(update, Update) else "job"
    log.error("%s failed: %s", what, context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        user = update.effective_user
        text = i18n.t(i18n.normalize(user.language_code if user else None), "errors.generic")
        with suppress(TelegramError):
            await update.effective_message.reply_text(text)
