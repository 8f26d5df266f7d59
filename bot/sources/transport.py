"""Every use of httpcore's internals, kept here beside the version range that allows them
(`httpcore>=1.0.5,<1.1` in pyproject.toml): the guarded network backend and the pool that
hands out connections in order."""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore

from bot.sources.netguard import (
    AddressPolicy,
    check_addresses,
    resolve,
)

# Idle connections are closed soon: every request makes the pool check each of its connections,
# so connections left over from a burst would tax the whole cycle, while a feed host polled
# again minutes later gains nothing from them.
KEEPALIVE_EXPIRY = 5.0
Resolver = Callable[[str, int], Awaitable[list[str]]]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Network backend that connects only to addresses `allowed` accepts.

    `resolver` and `allowed` are plain attributes so tests and callers can swap them;
    `allowed=None` switches the check off.
    """

    def __init__(self, *, allowed: AddressPolicy | None, resolver: Resolver = resolve) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.allowed = allowed
        self.resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no addresses")
        if self.allowed is not None:
            check_addresses(host, addresses, self.allowed)
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return PooledStream(stream, stream.get_extra_info("socket"))
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PooledStream(httpcore.AsyncNetworkStream):
    """A connection's stream that answers the pool's "has the server hung up?" cheaply.

    The pool asks it of every connection it holds, on every request; anyio's answer
    builds a table of socket attributes (a getpeername call among them) each time.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream, sock: socket.socket | None) -> None:
        self._inner = inner
        self._sock = sock

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return PooledStream(tls, self._sock)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Readable while idle means the server closed it (or sent junk): not reusable.
            fd = self._sock.fileno() if self._sock is not None else -1
            if fd < 0:
                return True
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(0))
        return self._inner.get_extra_info(info)


class LinearPool(httpcore.AsyncConnectionPool):
    """httpcore's pool, with its bookkeeping made linear in the number of connections.

    httpcore 1.0 re-counts every connection for each idle one, on every request and every
    response close: with 50 mostly idle connections that is 2,500 state checks per call and
    more CPU than the requests themselves (a warm poll cycle of 1,000 feeds made 2.3 million
    `is_idle` calls). It also hands an idle connection to every request that arrives before
    the first one has started on it, and all but one then go round again.

    The rules are otherwise the same: drop closed connections, close expired ones and surplus
    idle ones (only an idle connection can expire), then give each queued request an
    available connection no other request is waiting to start on, a new one below the limit,
    an available one that is promised (HTTP/2 takes many), or a new one in place of an idle one.
    """

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        idle = [connection.is_idle() for connection in self._connections]
        surplus = sum(idle) - self._max_keepalive_connections
        for connection, was_idle in zip(list(self._connections), idle, strict=True):
            if connection.is_closed():
                self._connections.remove(connection)
                surplus -= was_idle
            elif was_idle and (connection.has_expired() or surplus > 0):
                self._connections.remove(connection)
                closing.append(connection)
                surplus -= 1

        promised = {id(r.connection) for r in self._requests if r.connection is not None}
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            available = [
                connection
                for connection in self._connections
                if connection.can_handle_request(origin) and connection.is_available()
            ]
            chosen = next((c for c in available if id(c) not in promised), None)
            if chosen is None and len(self._connections) < self._max_connections:
                chosen = self.create_connection(origin)
                self._connections.append(chosen)
            elif chosen is None and available:
                chosen = available[0]
            elif chosen is None:
                spare = next((c for c in self._connections if c.is_idle()), None)
                if spare is None:
                    continue
                self._connections.remove(spare)
                closing.append(spare)
                chosen = self.create_connection(origin)
                self._connections.append(chosen)
            pool_request.assign_to_connection(chosen)
            promised.add(id(chosen))
        return closing
