"""WebSub push end to end: a feed names a local hub, the bot subscribes on its health
listener, the hub pushes, and the alert reaches the fake Bot API long before a poll could."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from bot.push import websub
from bot.storage.models import Item, WebSubscription, utcnow
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources
from tests.support.hub import LocalHub

ALICE = 1001
OLD = Entry("Putin and Modi plan a summit next year", "https://outlet-a.test/old-summit")
NEWS = Entry(
    "Putin and Modi hold summit in New Delhi",
    "https://outlet-a.test/world/putin-modi-summit",
    description="Russian President Vladimir Putin and Prime Minister Narendra Modi met on Friday.",
)
LATER = Entry(
    "Modi and Putin sign energy deal at summit",
    "https://outlet-a.test/world/energy-deal",
    description="The two leaders signed agreements on trade and energy at the summit.",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pushed_feed(entries: list[Entry], hub: str, self_url: str) -> str:
    """An RSS feed that names its hub and its own URL with atom:link, as WordPress does."""
    links = f'<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{self_url}"/>'
    body = rss(entries, title="Outlet A")
    body = body.replace(
        '<rss version="2.0">', '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
    )
    return body.replace("<channel>", "<channel>" + links, 1)


@pytest.fixture
def hub() -> Iterator[LocalHub]:
    with LocalHub() as local:
        yield local


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, hub: LocalHub, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    feed_url = feeds.url("/a.xml")
    feeds.set("/a.xml", pushed_feed([OLD], hub.url, feed_url))
    sources = write_sources(tmp_path / "sources.toml", {"Outlet A": feed_url})
    port = free_port()
    settings = make_settings(
        fake=fake,
        database_url=database_url,
        sources_file=sources,
        poll_interval=300.0,
        health_port=port,
        public_url=f"http://127.0.0.1:{port}",
        fetch_max_bytes=256 * 1024,
    )
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    yield under_test
    await under_test.stop()


def alerts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text for m in fake.sent_to(chat_id) if "🔎" in m.text]


def subscriptions(bot: BotUnderTest) -> list[WebSubscription]:
    with bot.store.reading() as session:
        return list(session.exec(select(WebSubscription)).all())


def item_count(bot: BotUnderTest) -> int:
    with bot.store.reading() as session:
        return int(session.exec(select(func.count()).select_from(Item)).one())


async def verified(bot: BotUnderTest, hub: LocalHub) -> WebSubscription:
    assert await wait_until(lambda: bool(hub.verified), 15), hub.verifications
    assert await wait_until(lambda: [s.state for s in subscriptions(bot)] == ["active"], 5)
    [row] = subscriptions(bot)
    return row


async def test_a_pushed_entry_alerts_within_seconds_while_polling_waits(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer, hub: LocalHub
) -> None:
    row = await verified(bot, hub)
    [request] = hub.requests
    assert request.mode == "subscribe" and request.topic == feeds.url("/a.xml")
    assert request.callback == f"{bot.settings.public_url}/websub/{row.id}"
    assert len(request.secret) >= 32 and request.secret == row.secret
    assert "Watching topic" in await bot.command(ALICE, "/watch Putin Modi summit")
    polls = feeds.hits("/a.xml")

    body = pushed_feed([NEWS, OLD], hub.url, feeds.url("/a.xml")).encode()
    statuses = await asyncio.to_thread(hub.publish, feeds.url("/a.xml"), body)
    assert statuses == [202]
    assert await wait_until(lambda: len(alerts(fake, ALICE)) >= 1, 15)
    [alert] = alerts(fake, ALICE)
    assert "Putin and Modi hold summit in New Delhi" in alert
    # With POLL_INTERVAL=300 the feed was read once, at start: the alert came by push.
    assert feeds.hits("/a.xml") == polls == 1

    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{bot.settings.public_url}/metrics")).text
    assert "summit_alert_delay_seconds_count 1.0" in metrics
    status = await bot.command(ALICE, "/status")
    assert "pushed by its hub (WebSub)" in status and "alert delay, median" in status

    # The same body again (a hub retrying) alerts nobody twice.
    assert await asyncio.to_thread(hub.publish, feeds.url("/a.xml"), body) == [202]
    await asyncio.sleep(1.0)
    assert len(alerts(fake, ALICE)) == 1


async def test_forged_deliveries_are_answered_as_the_spec_says_and_store_nothing(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer, hub: LocalHub
) -> None:
    row = await verified(bot, hub)
    await bot.command(ALICE, "/watch Putin Modi summit")
    before = item_count(bot)
    callback = f"{bot.settings.public_url}/websub/{row.id}"
    body = pushed_feed([NEWS, OLD], hub.url, feeds.url("/a.xml")).encode()

    unsigned = await asyncio.to_thread(hub.deliver, callback, body, method=None)
    forged = await asyncio.to_thread(hub.deliver, callback, body, secret="guessed")
    garbled = await asyncio.to_thread(hub.deliver, callback, body, method="md5", secret=row.secret)
    unknown = await asyncio.to_thread(
        hub.deliver, f"{bot.settings.public_url}/websub/999", body, secret=row.secret
    )
    huge = b"<rss>" + b" " * (300 * 1024) + b"</rss>"
    oversized = await asyncio.to_thread(hub.deliver, callback, huge, secret=row.secret)
    assert 200 <= unsigned < 300 and 200 <= forged < 300
    assert (unknown, oversized) == (404, 413)
    assert garbled >= 200  # an unknown method is no signature at all
    await asyncio.sleep(1.0)
    assert item_count(bot) == before and alerts(fake, ALICE) == []

    # sha1 is in the spec too: a correctly signed sha1 delivery is taken.
    statuses = await asyncio.to_thread(hub.publish, feeds.url("/a.xml"), body, method="sha1")
    assert statuses == [202]
    assert await wait_until(lambda: len(alerts(fake, ALICE)) == 1, 15)


async def test_renewal_before_the_lease_ends_and_unsubscribe_when_no_chat_needs_it(
    fake: FakeTelegram, feeds: FeedServer, hub: LocalHub, database_url: str, tmp_path: Path
) -> None:
    feed_url = feeds.url("/b.xml")
    feeds.set("/b.xml", pushed_feed([OLD], hub.url, feed_url))
    port = free_port()
    hub.lease = 0  # a hub granting no lease at all: taken as the shortest we accept
    settings = make_settings(
        fake=fake,
        database_url=database_url,
        sources_file=tmp_path / "none.toml",
        poll_interval=2.0,
        health_port=port,
        public_url=f"http://127.0.0.1:{port}",
    )
    bot = BotUnderTest(settings, fake, feeds)
    runtime = await bot.start()
    try:
        reply = await bot.command(ALICE, f"/addsource {feed_url}")
        assert "Outlet" in reply or "added" in reply.lower(), reply
        row = await verified(bot, hub)
        assert row.lease_seconds == websub.MIN_LEASE
        assert runtime.subscriber is not None

        # Renewal: once the renewal time has come, the subscriber asks the hub again.
        hub.lease = 10 * 365 * 24 * 3600  # and a hub granting ten years gets ten days
        runtime.subscriber.clock = lambda: utcnow() + timedelta(seconds=websub.MIN_LEASE - 30)
        assert await runtime.subscriber.sync() == 1
        assert [r.mode for r in hub.requests] == ["subscribe", "subscribe"]
        assert await wait_until(lambda: subscriptions(bot)[0].lease_seconds == websub.MAX_LEASE, 10)
        runtime.subscriber.clock = utcnow

        await bot.command(ALICE, f"/removesource {feed_url}")
        assert await runtime.subscriber.sync() == 1
        assert hub.requests[-1].mode == "unsubscribe"
        assert await wait_until(
            lambda: [s.state for s in subscriptions(bot)] == ["left"] and not hub.verified, 10
        )
        # A chat that adds the source again has it pushed again.
        await bot.command(ALICE, f"/addsource {feed_url}")
        assert await runtime.subscriber.sync() == 1
        assert await wait_until(lambda: subscriptions(bot)[0].state == "active", 10)
    finally:
        await bot.stop()


async def start_bot(
    fake: FakeTelegram,
    feeds: FeedServer,
    hub: LocalHub,
    database_url: str,
    tmp_path: Path,
    **overrides: object,
) -> BotUnderTest:
    feed_url = feeds.url("/a.xml")
    feeds.set("/a.xml", pushed_feed([OLD], hub.url, feed_url))
    port = free_port()
    values: dict[str, object] = {
        "poll_interval": 1.0,
        "health_port": port,
        "public_url": f"http://127.0.0.1:{port}",
    }
    values.update(overrides)
    settings = make_settings(
        fake=fake,
        database_url=database_url,
        sources_file=write_sources(tmp_path / "sources.toml", {"Outlet A": feed_url}),
        **values,
    )
    bot = BotUnderTest(settings, fake, feeds)
    await bot.start()
    return bot


async def test_a_hub_that_never_verifies_or_denies_leaves_the_source_polled(
    fake: FakeTelegram, feeds: FeedServer, hub: LocalHub, database_url: str, tmp_path: Path
) -> None:
    hub.verify = False
    bot = await start_bot(fake, feeds, hub, database_url, tmp_path, websub_verify_timeout=0.5)
    try:
        assert await wait_until(lambda: bool(hub.requests), 15)
        assert [s.state for s in subscriptions(bot)] == ["pending"]
        await asyncio.sleep(0.6)
        assert bot.runtime is not None and bot.runtime.subscriber is not None
        await bot.runtime.subscriber.sync()
        [row] = subscriptions(bot)
        assert row.state == "failed" and "never verified" in (row.last_error or "")
        assert row.retry_at is not None
        polls = feeds.hits("/a.xml")
        await bot.wait_polls(2)  # still polled at its usual interval
        assert feeds.hits("/a.xml") >= polls + 2

        hub.verify, hub.deny = True, True
        bot.runtime.subscriber.clock = lambda: utcnow() + timedelta(days=2)
        await bot.runtime.subscriber.sync()
        assert await wait_until(lambda: subscriptions(bot)[0].state == "denied", 10)
        assert "not here" in (subscriptions(bot)[0].last_error or "")
    finally:
        await bot.stop()


async def test_a_hub_that_goes_silent_hands_the_source_back_to_polling(
    fake: FakeTelegram, feeds: FeedServer, hub: LocalHub, database_url: str, tmp_path: Path
) -> None:
    bot = await start_bot(fake, feeds, hub, database_url, tmp_path, push_safety_interval=3.0)
    try:
        await verified(bot, hub)
        await bot.command(ALICE, "/watch Putin Modi summit")
        assert bot.runtime is not None
        await bot.runtime.hints.refresh(force=True)
        assert bot.runtime.hints.pushed
        # The hub stays silent about a new entry; the safety-net poll finds it.
        feeds.set("/a.xml", pushed_feed([NEWS, OLD], hub.url, feeds.url("/a.xml")))
        assert await wait_until(lambda: len(alerts(fake, ALICE)) == 1, 20)
        assert await wait_until(lambda: subscriptions(bot)[0].trusted is False, 5)
        assert not bot.runtime.hints.pushed
        # From now on the usual interval (1 s) again, not the safety net's 3 s.
        polls = feeds.hits("/a.xml")
        await bot.wait_polls(3, names={"Outlet A"})
        assert feeds.hits("/a.xml") >= polls + 3
    finally:
        await bot.stop()
