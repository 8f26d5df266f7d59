"""/upcoming, /calendar and the "keep watching" button of a wrap-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.events.ics import build_calendar
from bot.render import event_texts, texts
from bot.render.i18n import t
from bot.storage.events import EventStore, to_record
from bot.storage.models import utcnow
from bot.telegram.context import BotContext
from bot.telegram.replies import change_request, command_argument, language_of, may_change, reply

log = logging.getLogger(__name__)

PAGE = 8  # meetings per /upcoming message
CALENDAR_LIMIT = 200  # VEVENTs per calendar file
CALENDAR_HISTORY = timedelta(days=30)  # past meetings a calendar keeps showing


def calendar_url(public_url: str, secret: str) -> str:
    return f"{public_url.rstrip('/')}/calendar/{secret}.ics"


def _events(context: BotContext) -> EventStore:
    return EventStore(context.services.store)


async def _page(
    context: BotContext, chat_id: int, topic_id: int | None, offset: int, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    found, total = await asyncio.to_thread(
        _events(context).upcoming,
        chat_id,
        context.services.clock().date(),
        topic_id=topic_id,
        limit=PAGE,
        offset=offset,
    )
    text = event_texts.upcoming(found, total, offset, lang)
    markup = None
    if offset + len(found) < total:
        data = f"ev:more:{topic_id or 0}:{offset + len(found)}"
        button = InlineKeyboardButton(t(lang, "events.more_button"), callback_data=data)
        markup = InlineKeyboardMarkup([[button]])
    return text, markup


async def upcoming(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    wanted = command_argument(update).lstrip("#")
    topic_id = None
    if wanted:
        topic = None
        if wanted.isdigit() and len(wanted) < 6:
            topic = await asyncio.to_thread(services.store.topic_by_number, chat.id, int(wanted))
        if topic is None:
            await reply(update, t(lang, "events.bad_topic", id=event_texts.escape(wanted[:20])))
            return
        topic_id = topic.id
    text, markup = await _page(context, chat.id, topic_id, 0, lang)
    await message.reply_html(
        text, do_quote=False, reply_markup=markup, disable_web_page_preview=True
    )


async def calendar(update: Update, context: BotContext) -> None:
    services = context.services
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    public_url = services.settings.public_url
    if command_argument(update).casefold() == "reset":
        allowed = await change_request(update, context)
        if allowed is None:
            return
        _, lang = allowed
        if not public_url:
            await reply(update, t(lang, "events.calendar_no_url"))
            return
        secret = await asyncio.to_thread(_events(context).calendar_secret, chat.id, reset=True)
        url = event_texts.escape(calendar_url(public_url, secret))
        await reply(update, t(lang, "events.calendar_reset", url=url))
        return
    lang = await language_of(update, services)
    body, count = await asyncio.to_thread(
        calendar_file, _events(context), chat.id, services.clock().date()
    )
    caption = t(lang, "events.calendar_caption", count=count)
    await message.reply_document(
        InputFile(body, filename="summit-watch.ics"), caption=caption, do_quote=False
    )
    if public_url:
        secret = await asyncio.to_thread(_events(context).calendar_secret, chat.id)
        url = event_texts.escape(calendar_url(public_url, secret))
        await reply(update, t(lang, "events.calendar_url", url=url))


def calendar_file(events: EventStore, chat_id: int, today: date | None = None) -> tuple[bytes, int]:
    """The chat's meetings (the last month's too) as .ics bytes, and how many it holds."""
    since = (today or utcnow().date()) - CALENDAR_HISTORY
    found, _ = events.upcoming(chat_id, since, limit=CALENDAR_LIMIT)
    pairs = [(f"event-{row.id}@summit-watch", to_record(row)) for row in found]
    return build_calendar(pairs, name="Summit Watch", stamp=utcnow()), len(pairs)


async def pressed(update: Update, context: BotContext) -> None:
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or not query.data:
        return
    services = context.services
    lang = await language_of(update, services)
    parts = query.data.split(":")
    if len(parts) == 4 and parts[1] == "more" and parts[2].isdigit() and parts[3].isdigit():
        topic_id = int(parts[2]) or None
        text, markup = await _page(context, chat.id, topic_id, min(int(parts[3]), 10_000), lang)
        await query.answer()
        await context.bot.send_message(
            chat.id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            disable_web_page_preview=True,
        )
        return
    if len(parts) == 3 and parts[1] == "keep" and parts[2].isdigit():
        if not await may_change(update, context):
            await query.answer(texts.not_admin(lang), show_alert=True)
            return
        topic = await asyncio.to_thread(
            services.store.update_topic,
            chat.id,
            int(parts[2]),
            active=True,
            ends_on=None,
            until_event=False,
            ended_at=None,
            wrapup_sent=True,
        )
        await query.answer()
        if topic is not None:
            services.on_topics_changed()
            await context.bot.send_message(chat.id, t(lang, "events.kept", id=topic.number))
        return
    await query.answer()


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("upcoming", upcoming))
    application.add_handler(CommandHandler("calendar", calendar))
    application.add_handler(CallbackQueryHandler(pressed, pattern=r"^ev:"))


def calendar_route(
    events: EventStore, clock: Callable[[], datetime] = utcnow
) -> Callable[[str], Awaitable[tuple[int, bytes, str]]]:
    """GET /calendar/<secret>.ics on the health listener: the subscription a calendar polls."""

    async def serve(rest: str) -> tuple[int, bytes, str]:
        secret = rest.removesuffix(".ics")
        chat_id = (
            await asyncio.to_thread(events.chat_for_secret, secret)
            if rest.endswith(".ics")
            else None
        )
        if chat_id is None:
            return 404, b"not found\n", "text/plain"
        body, _ = await asyncio.to_thread(calendar_file, events, chat_id, clock().date())
        return 200, body, "text/calendar; charset=utf-8"

    return serve
