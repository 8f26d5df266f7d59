"""/story [N] and the alert's story button: the timeline of a story this chat was alerted to."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.render.i18n import t
from bot.render.story import PAGE, pages, timeline_text
from bot.storage.stories import Timeline
from bot.telegram.context import BotContext
from bot.telegram.replies import command_argument, language_of, reply

MAX_ID_DIGITS = 18


async def story_command(update: Update, context: BotContext) -> None:
    """/story N: the timeline of story N; /story alone: of the latest story alerted here."""
    services = context.services
    lang = await language_of(update, services)
    chat = update.effective_chat
    assert chat is not None
    wanted = command_argument(update).lstrip("#").strip()
    if wanted and not (wanted.isdigit() and len(wanted) <= MAX_ID_DIGITS):
        await reply(update, t(lang, "story.usage"))
        return
    story_id = int(wanted) if wanted else None
    if story_id is None:
        story_id = await asyncio.to_thread(services.store.latest_story, chat.id)
    timeline = await _timeline(context, chat.id, story_id, 0)
    if timeline is None:
        await reply(update, t(lang, "story.unknown" if wanted else "story.none"))
        return
    message = update.effective_message
    assert message is not None
    await message.reply_text(
        timeline_text(timeline, 0, lang),
        parse_mode=ParseMode.HTML,
        disable_web_page_preview=True,
        reply_markup=page_buttons(timeline, 0, lang),
    )


async def story_pressed(update: Update, context: BotContext) -> None:
    """ "story:N" under an alert sends the timeline; "story:N:P" on a timeline turns its page."""
    press = update.callback_query
    chat = update.effective_chat
    if press is None or chat is None:
        return
    services = context.services
    lang = await language_of(update, services)
    parts = (press.data or "").split(":")
    numbers = [p for p in parts[1:] if p.isdigit() and len(p) <= MAX_ID_DIGITS]
    if len(numbers) != len(parts) - 1 or not 1 <= len(numbers) <= 2:
        with suppress(TelegramError):
            await press.answer(t(lang, "buttons.expired"))
        return
    story_id, page = int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else 0
    timeline = await _timeline(context, chat.id, story_id, page)
    with suppress(TelegramError):
        await press.answer(None if timeline else t(lang, "story.unknown"))
    if timeline is None:
        return
    text = timeline_text(timeline, page, lang)
    buttons = page_buttons(timeline, page, lang)
    with suppress(TelegramError):
        if len(numbers) == 2 and press.message is not None:
            await context.bot.edit_message_text(
                text,
                chat_id=chat.id,
                message_id=press.message.message_id,
                parse_mode=ParseMode.HTML,
                disable_web_page_preview=True,
                reply_markup=buttons,
            )
        else:
            await context.bot.send_message(
                chat.id,
                text,
                parse_mode=ParseMode.HTML,
                disable_web_page_preview=True,
                reply_markup=buttons,
                message_thread_id=getattr(press.message, "message_thread_id", None),
            )


async def _timeline(
    context: BotContext, chat_id: int, story_id: int | None, page: int
) -> Timeline | None:
    if story_id is None:
        return None
    store = context.services.store
    return await asyncio.to_thread(
        store.story_timeline, chat_id, story_id, PAGE, max(0, page) * PAGE
    )


def page_buttons(timeline: Timeline, page: int, lang: str) -> InlineKeyboardMarkup | None:
    count = pages(timeline.total)
    page = max(0, min(page, count - 1))
    row = []
    if page > 0:
        row.append(
            InlineKeyboardButton(
                t(lang, "story.newer"), callback_data=f"story:{timeline.story_id}:{page - 1}"
            )
        )
    if page + 1 < count:
        row.append(
            InlineKeyboardButton(
                t(lang, "story.older"), callback_data=f"story:{timeline.story_id}:{page + 1}"
            )
        )
    return InlineKeyboardMarkup([row]) if row else None


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("story", story_command))
    application.add_handler(CallbackQueryHandler(story_pressed, pattern=r"^story:"))
