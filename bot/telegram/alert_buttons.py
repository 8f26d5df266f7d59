"""The buttons under an alert: mute its topic for a day, or mark it not relevant."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import timedelta

from telegram import Update
from telegram.error import TelegramError

from bot.render import i18n, texts
from bot.storage.models import utcnow
from bot.telegram.context import BotContext
from bot.telegram.replies import language_of, may_change


async def button(update: Update, context: BotContext) -> None:
    """Alert buttons. Every press is answered; stale or forged data gets a polite refusal."""
    services = context.services
    press = update.callback_query
    if press is None:
        return
    chat = update.effective_chat
    action, _, raw_id = (press.data or "").partition(":")
    lang = await language_of(update, services)
    answer = texts.button_expired(lang)
    if chat is not None and raw_id.isdigit() and len(raw_id) < 19:
        if action in ("mute", "nr") and not await may_change(update, context):
            # In a group both speak for everyone, so only its admins may press them.
            answer = i18n.t(lang, "buttons.not_admin")
        elif action == "mute":
            until = utcnow() + timedelta(hours=24)
            topic = await asyncio.to_thread(services.store.mute_topic, chat.id, int(raw_id), until)
            if topic is not None:
                services.on_topics_changed()
                answer = texts.muted(topic, lang)
        elif action == "nr":
            row = await asyncio.to_thread(services.store.mark_not_relevant, chat.id, int(raw_id))
            if row is not None:
                answer = texts.not_relevant_noted(lang)
    with suppress(TelegramError):
        await press.answer(answer)
