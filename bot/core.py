"""What every role (the bot, a scaled worker, the command line) builds from `Settings`."""

from __future__ import annotations

from typing import Any

from bot.config import USER_AGENT, Settings
from bot.sources.fetch import Fetcher


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
