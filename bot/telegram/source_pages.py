"""/sources and /status, a page at a time: `/sources 2`, or the ‹ › buttons under the list."""

from __future__ import annotations

import asyncio
import re
from contextlib import suppress
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.push.status import speed_report
from bot.render import push_texts
from bot.render.i18n import t
from bot.render.sources import Page, sources_page, status_page
from bot.storage.push import PushStore
from bot.telegram.context import BotContext
from bot.telegram.replies import command_argument, language_of, translated
from bot.telegram.translate import translation_status

VIEWS = {"s": sources_page, "t": status_page}
_PAGE_DATA = re.compile(r"sp:([st]):(\d{1,3})")


def page_buttons(view: str, page: Page, lang: str) -> InlineKeyboardMarkup | None:
    if page.pages <= 1:
        return None
    row = []
    if page.page > 0:
        row.append(
            InlineKeyboardButton(
                t(lang, "buttons.previous"), callback_data=f"sp:{view}:{page.page - 1}"
            )
        )
    if page.page < page.pages - 1:
        row.append(
            InlineKeyboardButton(
                t(lang, "buttons.next"), callback_data=f"sp:{view}:{page.page + 1}"
            )
        )
    return InlineKeyboardMarkup([row])


async def _render(update: Update, context: BotContext, view: str, page: int) -> tuple[Page, str]:
    services = context.services
    lang = await language_of(update, services)
    chat = update.effective_chat
    assert chat is not None
    numbered = await asyncio.to_thread(services.store.numbered_sources, chat.id)
    if view != "t":
        return VIEWS[view](numbered, page, lang), lang
    topics = await asyncio.to_thread(services.store.list_topics, chat.id)
    ids = [source.id for source, _ in numbered if source.id is not None]
    report = await asyncio.to_thread(speed_report, PushStore(services.store), topics, ids)
    interval = services.settings.poll_min_interval
    notes = push_texts.source_notes(report, interval, lang)
    header = push_texts.burst_header(report, interval, lang)
    return status_page(numbered, page, lang, notes=notes, header=header), lang


def _typed_page(update: Update) -> int:
    typed = command_argument(update)
    return int(typed) - 1 if typed.isdigit() and len(typed) <= 3 else 0


async def _command(update: Update, context: BotContext, view: str) -> None:
    page, lang = await _render(update, context, view, _typed_page(update))
    text = page.text
    if view == "t":
        text += translation_status(context.services.translator, lang)
    message = update.effective_message
    if message is not None:
        await message.reply_html(text, reply_markup=page_buttons(view, page, lang), do_quote=False)


async def sources(update: Update, context: BotContext) -> None:
    await _command(update, context, "s")


async def status(update: Update, context: BotContext) -> None:
    await _command(update, context, "t")


async def page_pressed(update: Update, context: BotContext) -> None:
    """‹ or ›: the same message shows another page. Every press is answered."""
    press = update.callback_query
    if press is None:
        return
    found = _PAGE_DATA.fullmatch(press.data or "")
    answer = None
    try:
        if found is None or not isinstance(press.message, Message):
            answer = t(await language_of(update, context.services), "buttons.expired")
            return
        page, lang = await _render(update, context, found[1], int(found[2]))
        with suppress(BadRequest):  # an unchanged page
            await press.message.edit_text(
                page.text,
                parse_mode=ParseMode.HTML,
                reply_markup=page_buttons(found[1], page, lang),
            )
        answer = t(lang, "answers.page", page=page.page + 1)
    finally:
        with suppress(TelegramError):
            await press.answer(answer)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("sources", translated(sources)))
    application.add_handler(CommandHandler("status", translated(status)))
    application.add_handler(CallbackQueryHandler(page_pressed, pattern=r"^sp:"))
