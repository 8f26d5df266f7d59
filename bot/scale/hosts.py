"""Per-host politeness across worker processes: FETCH_PER_HOST holds for all of them together.

Each host has FETCH_PER_HOST slots. Slot k of host h is the PostgreSQL session advisory lock
(hashtext('summit-host:' || h), k). A worker keeps one plain connection for these locks and
takes a free slot (`pg_try_advisory_lock`, starting from a random one) before every request
to a host, after the fetcher's own per-process slot; it lets go right after the response
(`pg_advisory_unlock`). If the worker dies, PostgreSQL drops its connection and every slot
it held with it, so a crash never leaves a host blocked. Session locks are re-entrant within
one connection, so the worker also remembers which slots it holds and never asks for one of
its own twice.

A request waits, polling every 20-500 ms, while all of a host's slots are taken. If the
database cannot be reached, the worker falls back to the per-process limit alone (and says
so in its log) rather than stop fetching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import psycopg

from bot.sources.hosts import HostLimiter

log = logging.getLogger(__name__)

KEY_PREFIX = "summit-host:"
WAIT_FIRST = 0.02
WAIT_MAX = 0.5

Token = tuple[int, int]  # (connection generation, slot)


class HostSlots:
    def __init__(self, conninfo: str, per_host: int) -> None:
        self.conninfo = conninfo
        self.per_host = per_host
        self.waits = 0  # times a request found every slot of its host taken
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._io = asyncio.Lock()
        self._held: dict[str, set[int]] = {}
        self._generation = 0
        self._degraded = False

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=5
            )
            self._generation += 1
            self._held.clear()
            if self._degraded:
                log.info("host slots are shared across workers again")
                self._degraded = False
        return self._conn

    async def _drop(self, exc: Exception) -> None:
        if not self._degraded:
            log.warning(
                "host slots unavailable (%s): per-host limits hold per worker only meanwhile",
                type(exc).__name__,
            )
            self._degraded = True
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _try(self, host: str) -> Token | None:
        async with self._io:
            conn = await self._connection()
            held = self._held.setdefault(host, set())
            first = random.randrange(self.per_host)  # few tries even with many slots busy
            for slot in ((first + n) % self.per_host for n in range(self.per_host)):
                if slot in held:
                    continue
                cursor = await conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s), %s::int)", (KEY_PREFIX + host, slot)
                )
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    held.add(slot)
                    return self._generation, slot
            if not held:
                del self._held[host]
            return None

    async def acquire(self, host: str) -> Token | None:
        """Wait for a free slot of `host`; None if the database could not be asked."""
        delay = WAIT_FIRST
        while True:
            try:
                token = await self._try(host)
            except (psycopg.Error, OSError) as exc:
                await self._drop(exc)
                return None
            if token is not None:
                return token
            self.waits += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, WAIT_MAX)

    async def release(self, host: str, token: Token) -> None:
        generation, slot = token
        async with self._io:
            if generation != self._generation or self._conn is None:
                return  # that connection is gone, and its locks with it
            held = self._held.get(host)
            if held is not None:
                held.discard(slot)
                if not held:
                    del self._held[host]
            try:
                await self._conn.execute(
                    "SELECT pg_advisory_unlock(hashtext(%s), %s::int)", (KEY_PREFIX + host, slot)
                )
            except (psycopg.Error, OSError) as exc:
                await self._drop(exc)

    async def aclose(self) -> None:
        async with self._io:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()
                self._conn = None


class SharedHostLimiter:
    """The process's own limit per host, then one of the host's slots shared by every worker,
    so the whole deployment keeps `FETCH_PER_HOST` however many workers poll."""

    def __init__(self, slots: HostSlots, local: HostLimiter) -> None:
        self.slots = slots
        self.local = local

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        async with self.local.slot(host):
            token = await self.slots.acquire(host)
            try:
                yield
            finally:
                if token is not None:
                    await asyncio.shield(self.slots.release(host, token))
