"""The command menu, and the registration of the chat-management handlers."""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings, starter_topics_path
from bot.render import i18n, texts
from bot.telegram.channels import channel_command, forwarded_post, membership_changed
from bot.telegram.common import BUTTON_FLOOD_LIMIT, BUTTON_GUARD, FLOOD_GUARD, STARTERS
from bot.telegram.context import Services
from bot.telegram.guards import FloodGuard, flood_guard
from bot.telegram.onboarding import (
    help_command,
    lang_command,
    load_starter_topics,
    start,
    starter_pressed,
)
from bot.telegram.operators import broadcast_command, stats_command
from bot.telegram.replies import Handler, translated
from bot.telegram.topic_list import list_command, list_pressed

log = logging.getLogger(__name__)


# -- the command menu and registration -------------------------------------------------------


async def publish_commands(bot: Bot, settings: Settings) -> None:
    """setMyCommands: the menu in every catalog language; operators also see theirs."""
    try:
        for lang in i18n.LANGUAGES:
            code = None if lang == i18n.DEFAULT else lang
            public = [
                BotCommand(name, texts.command_description(name, about, lang))
                for name, about, _ in texts.COMMANDS
            ]
            operator = public + [
                BotCommand(name, texts.command_description(name, about, lang))
                for name, about, _ in texts.OPERATOR_COMMANDS
            ]
            await bot.set_my_commands(public, language_code=code)
            for admin_id in settings.admin_ids:
                with suppress(BadRequest, Forbidden):  # an operator who never opened the bot
                    await bot.set_my_commands(
                        operator, scope=BotCommandScopeChat(admin_id), language_code=code
                    )
    except TelegramError as exc:
        log.warning("the command menu was not published: %s", exc)


COMMAND_HANDLERS: dict[str, Handler] = {
    "start": start,
    "help": help_command,
    "list": list_command,
    "lang": lang_command,
    "channel": channel_command,
    "stats": stats_command,
    "broadcast": broadcast_command,
}


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    """Add this module's handlers; called by `routes.register` before its catch-alls."""
    application.bot_data[FLOOD_GUARD] = FloodGuard()
    application.bot_data[BUTTON_GUARD] = FloodGuard(limit=BUTTON_FLOOD_LIMIT)
    application.bot_data[STARTERS] = load_starter_topics(
        starter_topics_path(services.settings), services.aliases
    )
    application.add_handler(TypeHandler(Update, flood_guard), group=-1)
    application.add_handler(ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER))
    for name, callback in COMMAND_HANDLERS.items():
        application.add_handler(CommandHandler(name, translated(callback)))
    application.add_handler(CallbackQueryHandler(list_pressed, pattern=r"^n:"))
    application.add_handler(CallbackQueryHandler(starter_pressed, pattern=r"^start:"))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.FORWARDED, forwarded_post)
    )
