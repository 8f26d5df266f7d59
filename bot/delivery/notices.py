"""Notices the bot sends on its own, outside the outbox, from either role."""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.render import texts
from bot.storage.models import Source
from bot.storage.store import Store

log = logging.getLogger(__name__)


async def tell_source_gone(bot: Bot, store: Store, source: Source, chats: set[int]) -> int:
    """Tell each chat, in its own language, that a source it followed is gone for good;
    returns how many were told."""
    languages = await asyncio.to_thread(store.chats, chats)
    told = 0
    for chat_id in sorted(chats):
        chat = languages.get(chat_id)
        text = texts.source_gone(source, chat.language if chat else "en")
        try:
            await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            log.info("could not tell chat %s that a source is gone: %s", chat_id, exc)
            continue
        told += 1
    return told
