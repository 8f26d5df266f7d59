"""What every role (the bot, a scaled worker, the command line) builds from `Settings`, and how a
long-running role runs until it is told to stop. The parts of a long-running role are in
`bot.core.role`, apart so that the command line loads no database or pipeline."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from typing import Any, Protocol

from bot.config import USER_AGENT, Settings
from bot.sources.fetch import Fetcher

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 8.0  # seconds a stopping role gives work in flight


def fetcher_options(settings: Settings) -> dict[str, Any]:
    """The deployment's caps and SSRF policy, for any kind of fetcher."""
    return {
        "user_agent": USER_AGENT,
        "allow_private": settings.allow_private_networks,
        "timeout": settings.fetch_timeout,
        "max_bytes": settings.fetch_max_bytes,
        "max_concurrency": settings.fetch_concurrency,
        "per_host": settings.fetch_per_host,
    }


def make_fetcher(settings: Settings) -> Fetcher:
    """The one HTTP client for feeds and pages."""
    return Fetcher(**fetcher_options(settings))


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_until_signal(role: Startable) -> None:
    """Start `role` and run it until SIGINT or SIGTERM, then stop it; a failed start stops
    what it had started before the error goes on."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for name in ("SIGINT", "SIGTERM"):
        with suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(getattr(signal, name), stop.set)
    try:
        await role.start()
    except BaseException:
        await role.stop()
        raise
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await role.stop()
