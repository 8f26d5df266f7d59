"""How many requests may be open to one host at once. The fetcher takes a limiter; the single
process limits each host in memory, scaled mode adds slots shared by every worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class HostLimiter(Protocol):
    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """Held for the whole of one request to `host`."""
        ...


class _HostSlot:
    __slots__ = ("semaphore", "users")

    def __init__(self, limit: int) -> None:
        self.semaphore = asyncio.Semaphore(limit)
        self.users = 0


class LocalHostLimiter:
    """At most `per_host` requests at once to one host, in this process. A host's semaphore
    lives only while some request wants it, so thousands of hosts cost nothing at rest."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._hosts: dict[str, _HostSlot] = {}

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = _HostSlot(self.per_host)
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._hosts[host]
