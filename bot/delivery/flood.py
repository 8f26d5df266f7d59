"""Telegram's flood limits, kept for every send the bot makes: replies, edits and alerts.

Three sliding windows apply to a message: one for all chats, one for its chat (a private chat
gets one message a second, a group twenty a minute). A send counts in a window from the moment
it starts until `period` after Telegram answered it. Counting from the answer, not from the
start, is what keeps the windows true on Telegram's side too: whatever the network delay, two
sends that Telegram saw less than `period` apart both counted here when the later one started.

A chat has at most one send in flight, so a 429 is known before its next send starts, and the
penalty it announces (`retry_after`) holds every later send to that chat until it is over.
Waiting sends start in priority order: replies before alerts, so alerts wait, not people.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

REPLY = 0  # an answer to what someone just did
BACKGROUND = 1  # alerts, digests, edits of alerts, notices: these can wait

# Sends made while handling an update are replies; everything else runs in the background.
send_priority: ContextVar[int] = ContextVar("send_priority", default=BACKGROUND)

ChatKey = int | str


@dataclass(frozen=True)
class FloodLimits:
    """(messages, seconds) per window; Telegram's published figures by default."""

    overall: tuple[int, float] = (30, 1.0)
    private: tuple[int, float] = (1, 1.0)
    group: tuple[int, float] = (20, 60.0)


class FloodClosed(Exception):
    """The bot is shutting down; a send still waiting for its turn will not be made."""


class _Window:
    """Sends that still count: in flight, or answered less than `period` ago."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.in_flight = 0
        self.answered: deque[float] = deque()

    def free_at(self, now: float) -> float:
        """When the next send may start: `now` if it may, inf if an answer must come first."""
        while self.answered and self.answered[0] <= now - self.period:
            self.answered.popleft()
        excess = self.in_flight + len(self.answered) - self.limit
        if excess < 0:
            return now
        if excess >= len(self.answered):
            return float("inf")
        return self.answered[excess] + self.period

    def idle(self, now: float) -> bool:
        return self.in_flight == 0 and self.free_at(now) == now and not self.answered


@dataclass
class _Chat:
    window: _Window
    busy: bool = False
    held_until: float = float("-inf")


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    chat: ChatKey | None = field(compare=False)
    counted: bool = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


def chat_key(chat_id: object) -> ChatKey | None:
    """The chat a request is for: an int id, an @username, or None."""
    if chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    try:
        return int(text)
    except ValueError:
        return text


class FloodControl:
    """Grants turns to send; one instance is shared by everything that talks to Telegram."""

    def __init__(
        self,
        limits: FloodLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_idle_chats: int = 10_000,
    ) -> None:
        self.limits = limits or FloodLimits()
        self.clock = clock
        self.max_idle_chats = max_idle_chats
        self._overall = _Window(*self.limits.overall)
        self._held_until = float("-inf")
        self._chats: dict[ChatKey, _Chat] = {}
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def held_until(self, chat: ChatKey | None) -> float:
        """The end of the penalty that applies to `chat` (the global one for None)."""
        state = self._chats.get(chat) if chat is not None else None
        return max(self._held_until, state.held_until if state is not None else float("-inf"))

    def penalize(self, chat: ChatKey | None, seconds: float) -> None:
        """Telegram said retry_after: nothing goes to `chat` (to anyone for None) until then."""
        until = self.clock() + max(0.0, seconds)
        if chat is None:
            self._held_until = max(self._held_until, until)
        else:
            state = self._chat(chat)
            state.held_until = max(state.held_until, until)
        self._pump()

    @asynccontextmanager
    async def turn(
        self, chat: ChatKey | None, priority: int, *, counted: bool = True
    ) -> AsyncIterator[None]:
        """Wait for a turn to send to `chat`, and hold it while the request runs.

        `counted` requests (messages and edits) count in the windows and go one at a time
        per chat; others (callback answers, chat actions) only wait out penalties.
        """
        if self._closed:
            raise FloodClosed
        waiter = _Waiter(
            priority,
            next(self._seq),
            chat,
            counted and chat is not None,
            asyncio.get_running_loop().create_future(),
        )
        self._waiting.append(waiter)
        self._pump()
        try:
            await waiter.granted
        except BaseException:
            if waiter.granted.done() and not waiter.granted.cancelled():
                if waiter.granted.exception() is None:
                    self._release(waiter)
            else:
                waiter.granted.cancel()
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
            raise
        try:
            yield
        finally:
            self._release(waiter)

    def close(self) -> None:
        """Refuse new turns and fail the waiting ones (shutdown)."""
        self._closed = True
        for waiter in self._waiting:
            if not waiter.granted.done():
                waiter.granted.set_exception(FloodClosed())
        self._waiting.clear()
        if self._timer is not None:
            self._timer.cancel()

    def _chat(self, chat: ChatKey) -> _Chat:
        state = self._chats.get(chat)
        if state is None:
            if len(self._chats) >= self.max_idle_chats:
                self._forget_idle()
            private = isinstance(chat, int) and chat > 0
            state = _Chat(_Window(*(self.limits.private if private else self.limits.group)))
            self._chats[chat] = state
        return state

    def _forget_idle(self) -> None:
        now = self.clock()
        for key in [
            key
            for key, state in self._chats.items()
            if not state.busy and state.held_until <= now and state.window.idle(now)
        ]:
            del self._chats[key]

    def _ready_at(self, waiter: _Waiter, now: float) -> float:
        """When `waiter` may start: <= now if it may now, inf if only an answer can free it."""
        at = self._held_until
        if waiter.chat is not None:
            state = self._chat(waiter.chat)
            at = max(at, state.held_until)
            if waiter.counted:
                if state.busy:
                    return float("inf")
                at = max(at, state.window.free_at(now))
        if waiter.counted:
            at = max(at, self._overall.free_at(now))
        return at

    def _grant(self, waiter: _Waiter) -> None:
        if waiter.counted:
            assert waiter.chat is not None
            state = self._chat(waiter.chat)
            state.busy = True
            state.window.in_flight += 1
            self._overall.in_flight += 1
        waiter.granted.set_result(None)

    def _release(self, waiter: _Waiter) -> None:
        if waiter.counted:
            assert waiter.chat is not None
            now = self.clock()
            state = self._chat(waiter.chat)
            state.busy = False
            state.window.in_flight -= 1
            state.window.answered.append(now)
            self._overall.in_flight -= 1
            self._overall.answered.append(now)
        self._pump()

    def _pump(self) -> None:
        """Start every waiter that may start now, best priority first; time the next look."""
        if self._closed:
            return
        now = self.clock()
        next_at = float("inf")
        kept: list[_Waiter] = []
        for waiter in sorted(self._waiting):
            if waiter.granted.done():
                continue
            at = self._ready_at(waiter, now)
            if at <= now:
                self._grant(waiter)
            else:
                kept.append(waiter)
                next_at = min(next_at, at)
        self._waiting = kept
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if next_at != float("inf"):
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, next_at - now), self._pump)
