"""When alerts arrive: per-topic delivery mode, time zone, quiet hours and digest time."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot.delivery.timing import TimingError, parse_clock, parse_quiet, parse_timezone
from bot.telegram import texts
from bot.telegram.format import escape
from bot.telegram.handlers import (
    command_argument,
    ensure_chat,
    language_of,
    may_change,
    reply,
    services_of,
    sync_search_sources,
)
from bot.telegram.i18n import t

MODES = ("instant", "hourly", "daily")


async def _allowed(update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str) -> bool:
    if await may_change(update, context):
        return True
    await reply(update, texts.not_admin(lang))
    return False


async def _set_chat(update: Update, context: ContextTypes.DEFAULT_TYPE, **values: object) -> None:
    services = services_of(context)
    await ensure_chat(update, services)
    chat = update.effective_chat
    assert chat is not None
    await asyncio.to_thread(services.store.update_chat, chat.id, **values)


async def mode(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    lang = await language_of(update, services)
    parts = command_argument(update).split()
    if len(parts) != 2 or parts[1].lower() not in MODES or not parts[0].lstrip("#").isdigit():
        await reply(update, t(lang, "prefs.mode_usage"))
        return
    if not await _allowed(update, context, lang):
        return
    chat = update.effective_chat
    assert chat is not None
    topic = await asyncio.to_thread(
        services.store.update_topic, chat.id, int(parts[0].lstrip("#")), mode=parts[1].lower()
    )
    if topic is None:
        await reply(update, t(lang, "prefs.no_topic"))
        return
    services.on_topics_changed()
    await reply(update, t(lang, "prefs.mode_set", id=topic.id, mode=topic.mode))


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = await language_of(update, services_of(context))
    text = command_argument(update)
    if not text:
        await reply(update, t(lang, "prefs.tz_usage"))
        return
    try:
        name = parse_timezone(text)
    except TimingError as exc:
        await reply(update, f"⚠️ {escape(str(exc))}\n{t(lang, 'prefs.tz_usage')}")
        return
    if not await _allowed(update, context, lang):
        return
    await _set_chat(update, context, timezone=name)
    await reply(update, t(lang, "prefs.tz_set", zone=escape(name)))


async def quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = await language_of(update, services_of(context))
    parts = command_argument(update).split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("silent", "hold")):
        await reply(update, t(lang, "prefs.quiet_usage"))
        return
    try:
        window = parse_quiet(parts[0])
    except TimingError as exc:
        await reply(update, f"⚠️ {escape(str(exc))}\n{t(lang, 'prefs.quiet_usage')}")
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


async def digest_time(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = await language_of(update, services_of(context))
    try:
        clock = parse_clock(command_argument(update))
    except TimingError:
        await reply(update, t(lang, "prefs.digest_usage"))
        return
    if not await _allowed(update, context, lang):
        return
    await _set_chat(update, context, digest_time=clock)
    await reply(update, t(lang, "prefs.digest_set", time=clock))


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Turn a topic's news-search feeds on or off."""
    services = services_of(context)
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
    topic = await asyncio.to_thread(
        services.store.update_topic, chat.id, int(parts[0].lstrip("#")), search=enabled
    )
    if topic is None:
        await reply(update, t(lang, "prefs.no_topic"))
        return
    await sync_search_sources(services, chat.id)
    await reply(update, t(lang, "prefs.search_on" if enabled else "prefs.search_off", id=topic.id))


PREF_COMMANDS = {
    "mode": mode,
    "tz": timezone,
    "quiet": quiet,
    "digest": digest_time,
    "search": search,
}
