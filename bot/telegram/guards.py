"""The per-chat flood guard for commands and button presses."""

from __future__ import annotations

import logging
import time
from collections import deque
from contextlib import suppress
from typing import Any, Literal

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
)

from bot.render.i18n import t
from bot.telegram.common import BUTTON_GUARD, FLOOD_GUARD, FLOOD_LIMIT, FLOOD_WINDOW
from bot.telegram.context import BotContext
from bot.telegram.replies import language_of, reply

log = logging.getLogger(__name__)


# -- the flood guard -----------------------------------------------------------------------

Verdict = Literal["ok", "warn", "drop"]


class FloodGuard:
    """At most `limit` commands per chat in any `window` seconds. The one over the limit gets
    a single warning, and the chat is ignored until a window has passed."""

    def __init__(
        self,
        limit: int = FLOOD_LIMIT,
        window: float = FLOOD_WINDOW,
        clock: Any = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[int, deque[float]] = {}
        self._blocked: dict[int, float] = {}

    def check(self, chat_id: int) -> Verdict:
        now = self.clock()
        until = self._blocked.get(chat_id)
        if until is not None:
            if now < until:
                return "drop"
            del self._blocked[chat_id]
        hits = self._hits.setdefault(chat_id, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        hits.append(now)
        if len(hits) > self.limit:
            hits.clear()
            self._blocked[chat_id] = now + self.window
            return "warn"
        if len(self._hits) > 10_000:
            self._forget(now)
        return "ok"

    def _forget(self, now: float) -> None:
        for chat_id in [c for c, h in self._hits.items() if not h or now - h[-1] >= self.window]:
            del self._hits[chat_id]
        for chat_id in [c for c, until in self._blocked.items() if until <= now]:
            del self._blocked[chat_id]


def _is_command(update: Update) -> bool:
    message = update.message
    return message is not None and (message.text or message.caption or "").startswith("/")


async def flood_guard(update: object, context: BotContext) -> None:
    """Runs before every handler (group -1); stops the update when a chat floods.

    Commands and button presses have separate budgets; other updates are not counted."""
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.callback_query is not None:
        guard = context.bot_data[BUTTON_GUARD]
    elif _is_command(update):
        guard = context.bot_data[FLOOD_GUARD]
    else:
        return
    assert isinstance(guard, FloodGuard)
    verdict = guard.check(update.effective_chat.id)
    if verdict == "ok":
        return
    press = update.callback_query
    if verdict == "warn" or press is not None:
        lang = await language_of(update, context.services)
        with suppress(TelegramError):
            if press is not None:
                await press.answer(t(lang, "errors.slow_down"))
            else:
                await reply(update, t(lang, "errors.slow_down"))
    raise ApplicationHandlerStop
