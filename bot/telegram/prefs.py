"""When alerts arrive: per-topic delivery mode, time zone, quiet hours and digest time."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot.delivery.timing import TimingError, parse_clock, parse_quiet, parse_timezone
from bot.telegram.format import escape
from bot.telegram.handlers import command_argument, ensure_chat, may_change, reply, services_of

MODES = ("instant", "hourly", "daily")

MODE_USAGE = (
    "Choose how a topic's alerts arrive: <code>/mode NUMBER instant|hourly|daily</code>, "
    "e.g. <code>/mode 1 daily</code>. Digests group the period's stories in one message."
)
TZ_USAGE = "Set your time zone: <code>/tz Europe/Moscow</code> or <code>/tz +05:30</code>."
QUIET_USAGE = (
    "Set quiet hours: <code>/quiet 23:00-07:00</code> (alerts arrive without sound) or "
    "<code>/quiet 23:00-07:00 hold</code> (held, then sent as one message); "
    "<code>/quiet off</code> ends them."
)
DIGEST_USAGE = "Set the daily digest time: <code>/digest 08:00</code> (your local time)."


async def _allowed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    from bot.telegram import texts

    if await may_change(update, context):
        return True
    await reply(update, texts.NOT_ADMIN)
    return False


async def mode(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    parts = command_argument(update).split()
    if len(parts) != 2 or parts[1].lower() not in MODES or not parts[0].lstrip("#").isdigit():
        await reply(update, MODE_USAGE)
        return
    if not await _allowed(update, context):
        return
    chat = update.effective_chat
    assert chat is not None
    topic = await asyncio.to_thread(
        services.store.update_topic, chat.id, int(parts[0].lstrip("#")), mode=parts[1].lower()
    )
    if topic is None:
        await reply(update, "I found no such topic here. /list shows your topics.")
        return
    services.on_topics_changed()
    await reply(update, f"Topic #{topic.id} now arrives: <b>{topic.mode}</b>.")


async def _set_chat(update: Update, context: ContextTypes.DEFAULT_TYPE, **values: object) -> None:
    services = services_of(context)
    await ensure_chat(update, services)
    chat = update.effective_chat
    assert chat is not None
    await asyncio.to_thread(services.store.update_chat, chat.id, **values)


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = command_argument(update)
    if not text:
        await reply(update, TZ_USAGE)
        return
    try:
        name = parse_timezone(text)
    except TimingError as exc:
        await reply(update, f"⚠️ {escape(str(exc))}\n{TZ_USAGE}")
        return
    if not await _allowed(update, context):
        return
    await _set_chat(update, context, timezone=name)
    await reply(update, f"Time zone set to <b>{escape(name)}</b>.")


async def quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parts = command_argument(update).split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("silent", "hold")):
        await reply(update, QUIET_USAGE)
        return
    try:
        window = parse_quiet(parts[0])
    except TimingError as exc:
        await reply(update, f"⚠️ {escape(str(exc))}\n{QUIET_USAGE}")
        return
    if not await _allowed(update, context):
        return
    if window is None:
        await _set_chat(update, context, quiet_start=None, quiet_end=None)
        await reply(update, "Quiet hours are off.")
        return
    how = parts[1] if len(parts) == 2 else "silent"
    await _set_chat(update, context, quiet_start=window[0], quiet_end=window[1], quiet_mode=how)
    what = "held and sent as one message afterwards" if how == "hold" else "sent without sound"
    await reply(update, f"Quiet hours {window[0]}–{window[1]}: alerts are {what}.")


async def digest_time(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = command_argument(update)
    try:
        clock = parse_clock(text)
    except TimingError:
        await reply(update, DIGEST_USAGE)
        return
    if not await _allowed(update, context):
        return
    await _set_chat(update, context, digest_time=clock)
    await reply(update, f"Daily digests arrive at <b>{clock}</b> your time.")


PREF_COMMANDS = {"mode": mode, "tz": timezone, "quiet": quiet, "digest": digest_time}
