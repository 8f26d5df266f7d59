"""When alerts arrive: per-topic delivery mode, time zone, quiet hours and digest time."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.delivery.timing import TimingError, parse_clock, parse_quiet, parse_timezone
from bot.render import texts
from bot.render.format import escape
from bot.render.i18n import t
from bot.render.problems import problem
from bot.storage.models import Topic
from bot.subscribers.topics import MODES
from bot.telegram.context import BotContext, Services
from bot.telegram.replies import command_argument, ensure_chat, language_of, may_change, reply
from bot.telegram.topic_commands import sync_search_sources


async def _allowed(update: Update, context: BotContext, lang: str) -> bool:
    if await may_change(update, context):
        return True
    await reply(update, texts.not_admin(lang))
    return False


async def _set_chat(update: Update, context: BotContext, **values: object) -> None:
    services = context.services
    await ensure_chat(update, services)
    chat = update.effective_chat
    assert chat is not None
    await asyncio.to_thread(services.store.update_chat, chat.id, **values)


async def _numbered_topic(services: Services, chat_id: int, typed: str) -> Topic | None:
    """The chat's topic by the number it typed ("2" or "#2")."""
    digits = typed.lstrip("#")
    if not digits.isdigit() or len(digits) > 9:
        return None
    return await asyncio.to_thread(services.store.topic_by_number, chat_id, int(digits))


async def mode(update: Update, context: BotContext) -> None:
    services = context.services
    lang = await language_of(update, services)
    parts = command_argument(update).split()
    if len(parts) != 2 or parts[1].lower() not in MODES or not parts[0].lstrip("#").isdigit():
        await reply(update, t(lang, "prefs.mode_usage"))
        return
    if not await _allowed(update, context, lang):
        return
    chat = update.effective_chat
    assert chat is not None
    topic = await _numbered_topic(services, chat.id, parts[0])
    if topic is None or topic.id is None:
        await reply(update, t(lang, "prefs.no_topic"))
        return
    await asyncio.to_thread(services.store.update_topic, chat.id, topic.id, mode=parts[1].lower())
    services.on_topics_changed()
    mode_name = t(lang, f"modes.{parts[1].lower()}")
    await reply(update, t(lang, "prefs.mode_set", id=topic.number, mode=mode_name))


async def timezone(update: Update, context: BotContext) -> None:
    lang = await language_of(update, context.services)
    text = command_argument(update)
    if not text:
        await reply(update, t(lang, "prefs.tz_usage"))
        return
    try:
        name = parse_timezone(text)
    except TimingError as exc:
        await reply(update, f"⚠️ {problem(lang, exc)}\n{t(lang, 'prefs.tz_usage')}")
        return
    if not await _allowed(update, context, lang):
        return
    await _set_chat(update, context, timezone=name)
    await reply(update, t(lang, "prefs.tz_set", zone=escape(name)))


async def quiet(update: Update, context: BotContext) -> None:
    lang = await language_of(update, context.services)
    parts = command_argument(update).split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("silent", "hold")):
        await reply(update, t(lang, "prefs.quiet_usage"))
        return
    try:
        window = parse_quiet(parts[0])
    except TimingError as exc:
        await reply(update, f"⚠️ {problem(lang, exc)}\n{t(lang, 'prefs.quiet_usage')}")
        return
    if not await _allowed(update, context, lang):
        return
    if window is None:
        await _set_chat(update, context, quiet_start=None, quiet_end=None)
        await reply(update, t(lang, "prefs.quiet_off"))
        return
    how = parts[1] if len(parts) == 2 else "silent"
    await _set_chat(update, context, quiet_start=window[0], quiet_end=window[1], quiet_mode=how)
    await reply(update, t(lang, f"prefs.quiet_{how}", start=window[0], end=window[1]))


async def digest_time(update: Update, context: BotContext) -> None:
    lang = await language_of(update, context.services)
    try:
        clock = parse_clock(command_argument(update))
    except TimingError:
        await reply(update, t(lang, "prefs.digest_usage"))
        return
    if not await _allowed(update, context, lang):
        return
    await _set_chat(update, context, digest_time=clock)
    await reply(update, t(lang, "prefs.digest_set", time=clock))


async def search(update: Update, context: BotContext) -> None:
    """Turn a topic's news-search feeds on or off."""
    services = context.services
    lang = await language_of(update, services)
    parts = command_argument(update).split()
    if (
        len(parts) != 2
        or parts[1].lower() not in ("on", "off")
        or not parts[0].lstrip("#").isdigit()
    ):
        await reply(update, t(lang, "prefs.search_usage"))
        return
    if not await _allowed(update, context, lang):
        return
    chat = update.effective_chat
    assert chat is not None
    enabled = parts[1].lower() == "on"
    topic = await _numbered_topic(services, chat.id, parts[0])
    if topic is None or topic.id is None:
        await reply(update, t(lang, "prefs.no_topic"))
        return
    await asyncio.to_thread(services.store.update_topic, chat.id, topic.id, search=enabled)
    await sync_search_sources(services, chat.id)
    key = "prefs.search_on" if enabled else "prefs.search_off"
    await reply(update, t(lang, key, id=topic.number))


PREF_COMMANDS = {
    "mode": mode,
    "tz": timezone,
    "quiet": quiet,
    "digest": digest_time,
    "search": search,
}
