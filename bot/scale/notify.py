"""Prompt delivery in scaled mode: workers NOTIFY the bot when they wrote outbox rows.

A worker sends `NOTIFY summit_outbox` after a transaction that queued alerts or marked
alerts for an edit has committed (pokes in quick succession become one NOTIFY). The bot
LISTENs on a plain psycopg connection and wakes its sender, so an alert goes out within
milliseconds of being written instead of at the sender's next one-second check. A lost
connection is opened again with backoff; meanwhile the one-second check still delivers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "summit_outbox"
IDLE_CHECK = 30.0  # with no notification for this long, check the connection is alive
RECONNECT_MAX = 30.0


class OutboxNotifier:
    """Worker side: `poke()` from any callback; `run()` sends the NOTIFYs."""

    def __init__(self, execute: Callable[[str], Awaitable[None]]) -> None:
        self._execute = execute
        self._pending = asyncio.Event()
        self.sent = 0

    def poke(self) -> None:
        self._pending.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiters = [
                asyncio.ensure_future(self._pending.wait()),
                asyncio.ensure_future(stop.wait()),
            ]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if not self._pending.is_set():
                continue
            self._pending.clear()
            try:
                await self._execute(f"NOTIFY {OUTBOX_CHANNEL}")
                self.sent += 1
            except Exception as exc:  # the bot's sender still finds the rows within a second
                log.info("could not notify the bot of new alerts: %s", type(exc).__name__)


async def listen_outbox(conninfo: str, on_notify: Callable[[], None]) -> None:
    """Bot side: call `on_notify` for every NOTIFY on the outbox channel, until cancelled."""
    delay = 1.0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, connect_timeout=5
            ) as conn:
                await conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                log.info("listening for new alerts from workers")
                on_notify()  # rows written while nobody listened
                delay = 1.0
                while True:
                    async for _ in conn.notifies(timeout=IDLE_CHECK):
                        on_notify()
                    await conn.execute("SELECT 1")
        except (psycopg.Error, OSError) as exc:
            log.warning(
                "alert notifications unavailable (%s); retrying in %.0fs",
                type(exc).__name__,
                delay,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX)
