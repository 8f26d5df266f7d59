"""What a test reads back: recorded calls and messages, and waiting for a state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.support.fake_api.records import (
    Call,
    SentMessage,
)
from tests.support.fake_api.state import FakeState, commands_key

if TYPE_CHECKING:
    from tests.support.fake_telegram import FakeTelegram


Predicate = Callable[["FakeTelegram"], bool]


class Observing(FakeState):
    """Recorded calls, messages and answers, and waiting until a predicate holds."""

    @property
    def calls(self) -> list[Call]:
        with self._cond:
            return list(self._calls)

    def calls_for(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if c.method == method]

    @property
    def messages(self) -> list[SentMessage]:
        """Accepted sends and edits (each edit a separate record with edited=True), in order."""
        with self._cond:
            return list(self._messages)

    @property
    def count_429(self) -> int:
        with self._cond:
            return self._count_429

    @property
    def sends_during_penalty(self) -> int:
        """Sends and edits that arrived while a 429's retry_after still applied to them."""
        with self._cond:
            return len(self._penalty_sends)

    @property
    def penalty_sends(self) -> list[tuple[int, str]]:
        """(chat id, method) of each send or edit made during a penalty, in order."""
        with self._cond:
            return list(self._penalty_sends)

    @property
    def internal_errors(self) -> list[str]:
        """Exceptions inside the fake itself (answered as 500); should stay empty."""
        with self._cond:
            return list(self._internal_errors)

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        """Parameters of every accepted answerCallbackQuery, in order."""
        with self._cond:
            return [dict(a) for a in self._callback_answers]

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        with self._cond:
            for answer in self._callback_answers:
                if answer.get("callback_query_id") == query_id:
                    return dict(answer)
            return None

    @property
    def chat_actions(self) -> list[tuple[int, str]]:
        with self._cond:
            return list(self._chat_actions)

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return len(self._updates)

    @property
    def waiting_polls(self) -> int:
        """getUpdates requests currently waiting for an update (long polling)."""
        with self._cond:
            return self._waiting_polls

    @property
    def spec_loaded(self) -> bool:
        """Whether requests are validated against the Bot API spec file."""
        return self._spec is not None

    def update_served(self, update_id: int) -> bool:
        """Whether getUpdates has returned this update at least once."""
        with self._cond:
            return update_id in self._served_update_ids

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict]:
        with self._cond:
            return [dict(c) for c in self._commands.get(commands_key(scope, language_code), [])]

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """sendMessage calls to `chat_id` as sent (edits not applied), in order."""
        with self._cond:
            return [
                m
                for m in self._messages
                if m.chat_id == chat_id and m.method == "sendMessage" and not m.edited
            ]

    def documents_to(self, chat_id: int) -> list[SentMessage]:
        """sendDocument calls to `chat_id`, in order."""
        with self._cond:
            return [
                m
                for m in self._messages
                if m.chat_id == chat_id and m.method == "sendDocument" and not m.edited
            ]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages still in `chat_id`, current state (edits applied), by id."""
        with self._cond:
            stored = self._chat_messages.get(chat_id, {})
            return [
                s.sent
                for _, s in sorted(stored.items())
                if s.from_bot and s.sent is not None and not s.deleted
            ]

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """Current state of one bot message (deleted=True once deleted), or None."""
        with self._cond:
            stored = self._chat_messages.get(chat_id, {}).get(message_id)
            if stored is None or stored.sent is None:
                return None
            return stored.sent

    def edits_of(self, chat_id: int, message_id: int) -> list[SentMessage]:
        """Every accepted edit of one message, in order."""
        with self._cond:
            return list(self._edits.get((chat_id, message_id), []))

    def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> bool:
        """Block until `predicate(fake)` holds (re-checked on every state change) or timeout.

        Do not call this from a coroutine: use `await_for`.
        """
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    async def await_for(self, predicate: Predicate, timeout: float = 10.0) -> bool:
        """`wait_for` for coroutines: wakes on every state change without blocking the loop."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        deadline = loop.time() + timeout
        with self._cond:
            self._async_waiters.add(waiter)
        try:
            while True:
                event.clear()
                with self._cond:
                    if predicate(self):
                        return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._cond:
                self._async_waiters.discard(waiter)
