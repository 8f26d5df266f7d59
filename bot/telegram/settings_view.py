"""/settings: the chat's language, time zone, quiet hours and digest time, with buttons.

Buttons carry a view letter and an index into fixed choices (`set:z:3`), so a forged press
can only pick one of them; in groups only admins change anything."""

from __future__ import annotations

import asyncio
import re
from contextlib import suppress
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.render import i18n
from bot.render.i18n import t
from bot.render.settings import DIGEST_TIMES, QUIET, ZONES, quiet_label, settings_text
from bot.storage.models import Chat
from bot.telegram.context import BotContext, Services
from bot.telegram.replies import ensure_chat, language_of, may_change, translated

_DATA = re.compile(r"set:([mzqdl])(?::(\w{1,8}))?")
Keyboard = list[list[InlineKeyboardButton]]


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def main_keyboard(lang: str) -> Keyboard:
    languages = [
        _button(t(lang, "settings.language_button", language=i18n.NAMES[code]), f"set:l:{code}")
        for code in i18n.LANGUAGES
    ]
    return [
        languages,
        [
            _button(t(lang, "settings.zone_button"), "set:z"),
            _button(t(lang, "settings.quiet_button"), "set:q"),
        ],
        [_button(t(lang, "settings.digest_button"), "set:d")],
    ]


def choice_keyboard(view: str, lang: str) -> Keyboard:
    if view == "z":
        labels = list(ZONES)
    elif view == "q":
        labels = [
            t(lang, "settings.off") if q is None else quiet_label(q[0], q[1], q[2], lang)
            for q in QUIET
        ]
    else:
        labels = list(DIGEST_TIMES)
    rows = [[_button(label, f"set:{view}:{i}")] for i, label in enumerate(labels)]
    return [*rows, [_button(t(lang, "settings.back"), "set:m")]]


async def _card(services: Services, chat_id: int, lang: str) -> str:
    stored = await asyncio.to_thread(services.store.get_chat, chat_id)
    topics = await asyncio.to_thread(services.store.list_topics, chat_id)
    return settings_text(stored or Chat(id=chat_id), len(topics), lang)


async def settings_command(update: Update, context: BotContext) -> None:
    services = context.services
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        return
    await ensure_chat(update, services)
    lang = await language_of(update, services)
    text = await _card(services, chat.id, lang)
    await message.reply_html(
        text, reply_markup=InlineKeyboardMarkup(main_keyboard(lang)), do_quote=False
    )


def _change(view: str, value: str) -> dict[str, Any] | None:
    """The chat fields a press sets, or None for a press that only changes the view."""
    if view == "l" and value in i18n.LANGUAGES:
        return {"language": value, "language_chosen": True}
    if not value.isdigit():
        return None
    index = int(value)
    if view == "z" and index < len(ZONES):
        return {"timezone": ZONES[index]}
    if view == "d" and index < len(DIGEST_TIMES):
        return {"digest_time": DIGEST_TIMES[index]}
    if view == "q" and index < len(QUIET):
        quiet = QUIET[index]
        if quiet is None:
            return {"quiet_start": None, "quiet_end": None}
        return {"quiet_start": quiet[0], "quiet_end": quiet[1], "quiet_mode": quiet[2]}
    return None


async def settings_pressed(update: Update, context: BotContext) -> None:
    press = update.callback_query
    if press is None:
        return
    services = context.services
    lang = await language_of(update, services)
    answer = t(lang, "buttons.expired")
    try:
        found = _DATA.fullmatch(press.data or "")
        chat = update.effective_chat
        if found is None or chat is None or not isinstance(press.message, Message):
            return
        view, value = found[1], found[2] or ""
        if not await may_change(update, context):
            answer = t(lang, "buttons.not_admin")
            return
        change = _change(view, value) if value else None
        if value and change is None:
            return
        if change is not None:
            await ensure_chat(update, services)
            await asyncio.to_thread(services.store.update_chat, chat.id, **change)
            lang = await language_of(update, services)
            answer, view = t(lang, "settings.saved"), "m"
        else:
            answer = ""
        keyboard = main_keyboard(lang) if view == "m" else choice_keyboard(view, lang)
        text = await _card(services, chat.id, lang)
        if view != "m":
            text += "\n\n" + t(
                lang,
                {
                    "z": "settings.zone_choose",
                    "q": "settings.quiet_choose",
                    "d": "settings.digest_choose",
                }[view],
            )
        with suppress(BadRequest):  # an unchanged card
            await press.message.edit_text(
                text, parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup(keyboard)
            )
    finally:
        with suppress(TelegramError):
            await press.answer(answer or None)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("settings", translated(settings_command)))
    application.add_handler(CallbackQueryHandler(settings_pressed, pattern=r"^set:"))
