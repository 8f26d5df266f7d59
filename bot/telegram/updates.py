"""Updates of different chats are handled side by side; those of one chat one after another.

A reply may wait for its chat's flood limit, so handling updates one at a time would let one
busy chat hold up everyone. Within a chat, order is kept: replies come in the order of the
commands, and two commands never change the same chat's topics at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.delivery.flood import REPLY, send_priority

MAX_UPDATES_IN_HAND = 256  # updates being handled or waiting for their chat's turn


class ChatOrderedUpdates(BaseUpdateProcessor):
    def __init__(self, max_in_hand: int = MAX_UPDATES_IN_HAND) -> None:
        super().__init__(max_in_hand)
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        token = send_priority.set(REPLY)  # what is sent while handling it answers someone
        try:
            await self._in_chat_order(update, coroutine)
        finally:
            send_priority.reset(token)

    async def _in_chat_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock, users = self._chat_locks.get(chat.id, (asyncio.Lock(), 0))
        self._chat_locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._chat_locks[chat.id]
            if users <= 1:
                del self._chat_locks[chat.id]
            else:
                self._chat_locks[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: locks go with the updates that held them."""
