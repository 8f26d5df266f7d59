"""/translate, the Original button under translated alerts, and translation health in /status."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.delivery.render import render_alert
from bot.delivery.translate import AlertTranslator, wanted_target
from bot.language.clean import cut
from bot.language.detect import normalize_code
from bot.render import i18n, texts
from bot.render.format import AlertView, escape
from bot.storage.translations import TranslationStore
from bot.telegram.context import BotContext
from bot.telegram.replies import (
    change_request,
    command_argument,
    ensure_chat,
    language_of,
    reply,
    translated,
)

POPUP_LIMIT = 200  # Telegram's limit for a callback answer's text


def _name(lang: str, code: str) -> str:
    return escape(i18n.language_name(lang, code))


async def translate_command(update: Update, context: BotContext) -> None:
    """/translate: the state; /translate on [LANG]; /translate off."""
    allowed = await change_request(update, context)
    if allowed is None:
        return
    services, lang = allowed
    chat = update.effective_chat
    assert chat is not None
    await ensure_chat(update, services)
    stored = await asyncio.to_thread(services.store.get_chat, chat.id)
    words = command_argument(update).lower().split()
    if services.translator is None:
        await reply(update, i18n.t(lang, "translate.unavailable"))
        return
    if not words:
        target = wanted_target(stored)
        if target is None:
            await reply(update, i18n.t(lang, "translate.state_off"))
        else:
            await reply(update, i18n.t(lang, "translate.state_on", target=_name(lang, target)))
        return
    if words[0] == "off" and len(words) == 1:
        await asyncio.to_thread(services.store.update_chat, chat.id, translate=False)
        await reply(update, i18n.t(lang, "translate.off"))
        return
    if words[0] != "on" or len(words) > 2:
        await reply(update, i18n.t(lang, "translate.usage"))
        return
    chosen = normalize_code(words[1]) if len(words) == 2 else None
    if len(words) == 2 and (chosen is None or not await _can_target(services.translator, chosen)):
        await reply(update, i18n.t(lang, "translate.bad_language", wanted=escape(words[1][:20])))
        return
    await asyncio.to_thread(
        services.store.update_chat, chat.id, translate=True, translate_to=chosen
    )
    target = chosen or normalize_code(stored.language if stored else lang) or lang
    await reply(update, i18n.t(lang, "translate.on", target=_name(lang, target)))


async def _can_target(translator: AlertTranslator, code: str) -> bool:
    """Whether the service translates into `code`; any code while it cannot say."""
    pairs = await translator.service.languages()
    if pairs is None:
        return True
    return any(code in targets for targets in pairs.values())


async def original_pressed(update: Update, context: BotContext) -> None:
    """The Original button: in a private chat, the alert as the outlet wrote it, as a reply to
    the translation; in groups and channels, where a reply would reach everyone, the original
    headline in a pop-up for the one who pressed."""
    services = context.services
    press = update.callback_query
    chat = update.effective_chat
    if press is None or chat is None:
        return
    lang = await language_of(update, services)
    raw_id = (press.data or "").partition(":")[2]
    row = None
    if raw_id.isdigit() and len(raw_id) < 19:
        row = await asyncio.to_thread(
            TranslationStore(services.store).delivery, chat.id, int(raw_id)
        )
    if row is None or press.message is None:
        with suppress(TelegramError):
            await press.answer(texts.button_expired(lang))
        return
    if chat.type != ChatType.PRIVATE:
        headline = cut(AlertView.from_json(row.view).title, POPUP_LIMIT) if row.view else ""
        with suppress(TelegramError):
            await press.answer(headline or texts.button_expired(lang), show_alert=True)
        return
    stories = await asyncio.to_thread(
        services.store.stories, [row.story_id] if row.story_id else []
    )
    text = render_alert(row, stories.get(row.story_id) if row.story_id else None)
    with suppress(TelegramError):
        await press.answer()
    await context.bot.send_message(
        chat.id,
        text,
        parse_mode="HTML",
        reply_to_message_id=press.message.message_id,
        message_thread_id=row.thread_id,
    )


def translation_status(translator: AlertTranslator | None, lang: str) -> str:
    """/status's lines on the translation service, or nothing when there is none."""
    if translator is None:
        return ""
    stats = translator.stats
    lines = [
        "",
        i18n.t(
            lang,
            "translate.status",
            translated=i18n.number(lang, stats.translated),
            failed=i18n.number(lang, stats.failed),
            late=i18n.number(lang, stats.late),
        ),
    ]
    if stats.last_error:
        reason = escape(stats.last_error)
        ago = texts.ago(stats.last_error_at, lang)
        lines.append(i18n.t(lang, "translate.last_error", ago=ago, reason=reason))
    return "\n".join(["", *lines])


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("translate", translated(translate_command)))
    application.add_handler(CallbackQueryHandler(original_pressed, pattern=r"^orig:"))
