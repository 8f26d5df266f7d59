"""Scaled mode: the bot role serves the WebSub callback and queues deliveries to the workers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import Entry, write_sources
from tests.support.hub import LocalHub
from tests.test_scale_out import (
    CHATS,
    alerts,
    all_initialized,
    cluster,
    free_port,
    needs_postgresql,
    open_store,
    seed_chats,
    wait_for,
)
from tests.test_websub_e2e import OLD, pushed_feed

NEWS = Entry(
    "Putin and Modi summit opens in New Delhi",
    "https://outlet-a.test/world/summit-opens",
    description="Vladimir Putin and Narendra Modi opened their summit with a trade pact.",
)


@pytest.fixture
def hub() -> Iterator[LocalHub]:
    with LocalHub() as local:
        yield local


@needs_postgresql
@pytest.mark.timeout(240)
async def test_the_bot_role_takes_deliveries_and_workers_read_them(
    fake: FakeTelegram, feeds: FeedServer, hub: LocalHub, database_url: str, tmp_path: Path
) -> None:
    feed_url = feeds.url("/a.xml")
    feeds.set("/a.xml", pushed_feed([OLD], hub.url, feed_url))
    sources_file = write_sources(tmp_path / "sources.toml", {"Outlet A": feed_url})
    port = free_port()
    with (
        open_store(database_url) as store,
        cluster(
            fake=fake,
            database_url=database_url,
            sources_file=sources_file,
            tmp_path=tmp_path,
            POLL_INTERVAL="300",
            HEALTH_PORT=str(port),  # the bot role's; the workers get their own
            PUBLIC_URL=f"http://127.0.0.1:{port}",
        ) as running,
    ):
        seed_chats(store)
        await running.start()
        await wait_for(lambda: all_initialized(store, 1), 60, "first poll")
        await wait_for(lambda: bool(hub.verified), 60, "the hub's verification")
        [request] = hub.requests
        assert request.callback.startswith(f"http://127.0.0.1:{port}/websub/")
        polls = feeds.hits("/a.xml")
        body = pushed_feed([NEWS, OLD], hub.url, feed_url).encode()
        assert await asyncio.to_thread(hub.publish, feed_url, body) == [202]
        await wait_for(
            lambda: all(len(alerts(fake, chat)) == 1 for chat in CHATS), 60, "pushed alerts"
        )
        assert feeds.hits("/a.xml") == polls  # no poll in between: the alerts came by push
