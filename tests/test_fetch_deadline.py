"""FETCH_TIMEOUT is one deadline for a whole fetch: redirects and a trickling body included."""

from __future__ import annotations

import asyncio
import time

from bot.config import Settings
from bot.core import make_fetcher
from bot.sources.fetch import FetchError
from tests.support.feedserver import FeedServer, Response, redirect, trickle

TIMEOUT = 2.0


def slow_redirect(request: object) -> Response:
    time.sleep(TIMEOUT * 0.6)  # each hop well within the timeout, together beyond it
    return redirect("/trickle")


async def test_a_trickling_server_is_cut_off_at_fetch_timeout(feeds: FeedServer) -> None:
    feeds.set_handler("/moved", slow_redirect)
    feeds.set_handler("/trickle", lambda r: trickle(interval=TIMEOUT / 5))
    settings = Settings(_env_file=None, fetch_timeout=TIMEOUT, allow_private_networks=True)  # type: ignore[call-arg]
    async with make_fetcher(settings) as fetcher:
        for path in ("/trickle", "/moved"):
            started = time.monotonic()
            async with asyncio.timeout(30):
                try:
                    await fetcher.fetch(feeds.url(path))
                except FetchError as exc:
                    assert exc.kind == "timeout", exc
                else:
                    raise AssertionError("a body that never ends was read to its end")
            # the trickle alone would take 2,000 s; the old deadline was three timeouts
            assert time.monotonic() - started < TIMEOUT * 1.75, path
