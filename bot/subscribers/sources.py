"""Checking an address a chat offers as a source: /addsource and /import use the same steps.

The address is read as typed (a scheme added when missing), refused when it names a local or
private host, then fetched once through the guarded fetcher, which re-checks every address it
connects to, redirects included. The answer must be a feed with items or a page with
article links. Any refusal is a `UserError` the reply path translates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.domain import UserError
from bot.render.problems import fetch_problem
from bot.sources.articles import ArticleFetcher
from bot.sources.fetch import Fetcher, FetchError
from bot.sources.netguard import MAX_URL_LENGTH, validate_url, with_scheme
from bot.sources.probe import SourceProbe, probe_source

MAX_CHECKS = 50  # sources one import may check
CHECKS_AT_ONCE = 4
CHECK_DEADLINE = 60.0  # seconds for all of one import's checks


async def check_source(
    fetcher: Fetcher, articles: ArticleFetcher, typed: str, *, allow_private: bool
) -> SourceProbe:
    """What an address offers, or UserError saying why it can't be a source."""
    if len(typed) > MAX_URL_LENGTH:
        raise UserError("url.too_long")
    url = validate_url(with_scheme(typed), allow_private=allow_private)
    try:
        return await probe_source(fetcher, articles, url)
    except FetchError as exc:
        raise fetch_problem(exc) from None


async def check_sources(
    fetcher: Fetcher,
    articles: ArticleFetcher,
    typed: Sequence[str],
    *,
    allow_private: bool,
    deadline: float = CHECK_DEADLINE,
) -> list[SourceProbe | UserError]:
    """Check many addresses, a few at a time, within one deadline; one answer per address.

    UserError("import_check.too_many") when there are more than MAX_CHECKS, and
    UserError("import_check.too_slow") when the deadline passes first."""
    if len(typed) > MAX_CHECKS:
        raise UserError("import_check.too_many", count=len(typed), limit=MAX_CHECKS)
    gate = asyncio.Semaphore(CHECKS_AT_ONCE)

    async def one(address: str) -> SourceProbe | UserError:
        async with gate:
            try:
                return await check_source(fetcher, articles, address, allow_private=allow_private)
            except UserError as exc:
                return exc

    tasks = [asyncio.ensure_future(one(address)) for address in typed]
    try:
        return list(await asyncio.wait_for(asyncio.gather(*tasks), deadline))
    except TimeoutError:
        raise UserError("import_check.too_slow", seconds=int(deadline)) from None
    finally:
        for task in tasks:
            task.cancel()
