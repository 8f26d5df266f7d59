"""The operators' /stats and /broadcast."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.delivery.flood import BACKGROUND, send_priority
from bot.render import texts
from bot.render.format import escape
from bot.render.i18n import t
from bot.storage.models import utcnow
from bot.telegram.common import BROADCAST_MAX_LENGTH, BROADCAST_SPACING, is_operator, is_private
from bot.telegram.context import BotContext, Services
from bot.telegram.replies import language_of, reply

log = logging.getLogger(__name__)


# -- operators -------------------------------------------------------------------------------


async def stats_command(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    if not (is_operator(update, services) and is_private(update)):
        await reply(update, texts.unknown_command(lang))
        return
    numbers = await asyncio.to_thread(services.store.operator_stats, utcnow() - timedelta(hours=24))
    await reply(update, t(lang, "operators.stats", **numbers))


async def broadcast_command(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    if not (is_operator(update, services) and is_private(update)):
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
    context: BotContext,
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
