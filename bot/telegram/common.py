"""What the chat-management modules share: their limits, callback data and small helpers."""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Bot, ChatMember, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from bot.telegram.context import BotContext, Services

log = logging.getLogger(__name__)


MAX_STARTERS = 8
MAX_STARTER_TITLE = 48
PAGE_SIZE = 8  # topics per /list page: 3 buttons each stays far below Telegram's limits
NEXT_MODE = {"instant": "daily", "daily": "hourly", "hourly": "instant"}
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
LIST_DATA = re.compile(r"n:([amryl]):(\d{1,12}):(\d{1,3}):([01ihd]?):(-?\d{1,16})?")
MODE_LETTER = {"instant": "i", "hourly": "h", "daily": "d"}
LETTER_MODE = {letter: mode for mode, letter in MODE_LETTER.items()}
START_DATA = re.compile(r"start:(\d{1,2}):([0-9a-f]{8})")
CHANNEL_REF = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{1,13}")


# -- small helpers -------------------------------------------------------------------------


def thread_of(message: Message | None) -> int | None:
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


async def send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_html(text, reply_markup=markup, do_quote=False)


def is_operator(update: Update, services: Services) -> bool:
    user = update.effective_user
    return user is not None and user.id in services.settings.admin_ids


async def edit(
    context: BotContext,
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


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def is_channel_admin(bot: Bot, channel_id: int, user_id: int) -> bool:
    try:
        member = await bot.get_chat_member(channel_id, user_id)
    except TelegramError:
        return False
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
