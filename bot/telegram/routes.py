"""Every handler the bot answers with, registered in one place, in the order PTB tries them."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.telegram import events, manage, settings_view, source_pages, story, transfer, translate
from bot.telegram.alert_buttons import button
from bot.telegram.context import SERVICES, Services
from bot.telegram.prefs import PREF_COMMANDS
from bot.telegram.replies import Handler, on_error, plain_text, translated, unknown_command
from bot.telegram.source_commands import add_source, remove_source
from bot.telegram.topic_commands import preview, recent, unwatch, watch

COMMAND_HANDLERS: dict[str, Handler] = {
    "watch": watch,
    "unwatch": unwatch,
    "addsource": add_source,
    "removesource": remove_source,
    "recent": recent,
    "preview": preview,
}


def register(application: Application[Any, Any, Any, Any, Any, Any], services: Services) -> None:
    application.bot_data[SERVICES] = services
    for name, callback in {**COMMAND_HANDLERS, **PREF_COMMANDS}.items():
        application.add_handler(CommandHandler(name, translated(callback)))
    # /start, /help, /list, /lang, /channel, /export, /import, operators' commands, their
    # buttons, the flood guard and membership changes; before the catch-alls below.
    transfer.register(application)
    manage.register(application, services)
    source_pages.register(application)
    settings_view.register(application)
    events.register(application)
    translate.register(application)
    story.register(application)
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, plain_text)
    )
    application.add_error_handler(on_error)
