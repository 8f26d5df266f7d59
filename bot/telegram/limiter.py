"""The one way out to Telegram: PTB's rate-limiter hook in front of every Bot API call.

Every message, edit and callback answer, whether a reply, an alert or a digest, waits for its
turn in one `FloodControl`. A 429 holds its chat for `retry_after`; a reply then waits and is
sent again, a background send raises `RetryAfter` to its caller, whose outbox row is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.flood import (
    REPLY,
    ChatKey,
    FloodClosed,
    FloodControl,
    chat_key,
    send_priority,
)
from bot.delivery.sender import retry_after_seconds

log = logging.getLogger(__name__)

MAX_REPLY_WAIT = 900.0  # a reply held longer than this by 429s is given up, and logged
_MESSAGE_METHODS = frozenset(
    {"copyMessage", "copyMessages", "forwardMessage", "forwardMessages", "stopPoll"}
)
_UNCOUNTED_METHODS = frozenset(
    {"sendChatAction", "answerCallbackQuery", "deleteMessage", "deleteMessages"}
)

ApiResult = bool | JSONDict | list[JSONDict]


def counted(endpoint: str) -> bool | None:
    """True for messages and edits (flood-limited), False for other calls that touch a chat
    (they only wait out penalties), None for calls no flood limit concerns."""
    if endpoint in _UNCOUNTED_METHODS:
        return False
    if endpoint.startswith(("send", "edit")) or endpoint in _MESSAGE_METHODS:
        return True
    return None


class FloodLimiter(BaseRateLimiter[int]):
    """`rate_limit_args` may name a priority (`flood.REPLY`, `flood.BACKGROUND`); without it,
    sends made while handling an update are replies and all others background."""

    def __init__(
        self,
        control: FloodControl | None = None,
        *,
        on_retry_after: Callable[[], None] = lambda: None,
    ) -> None:
        self.control = control or FloodControl()
        self.on_retry_after = on_retry_after

    async def initialize(self) -> None:
        """Nothing to set up: the control keeps its state in memory."""

    async def shutdown(self) -> None:
        self.control.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        kind = counted(endpoint)
        if kind is None:
            return await callback(*args, **kwargs)
        priority = send_priority.get() if rate_limit_args is None else rate_limit_args
        chat = chat_key(data.get("chat_id"))
        waited = 0.0
        while True:
            try:
                return await self._attempt(chat, priority, kind, callback, args, kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                waited += seconds
                if priority != REPLY or waited > MAX_REPLY_WAIT:
                    raise  # background senders retry from their outbox, and count it
                self.on_retry_after()
                log.info("%s to chat %s waits %.0f s (retry_after)", endpoint, chat, seconds)
            except FloodClosed:
                raise NetworkError("not sent: the bot is shutting down") from None

    async def _attempt(
        self,
        chat: ChatKey | None,
        priority: int,
        kind: bool,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
    ) -> ApiResult:
        async with self.control.turn(chat, priority, counted=kind):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                # Held before the turn ends: nothing else starts for this chat meanwhile.
                self.control.penalize(chat, retry_after_seconds(exc))
                raise
