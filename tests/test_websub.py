"""WebSub parts a hub or a feed can get wrong: discovery, signatures, leases, private hubs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import FetchResult
from bot.push import websub
from bot.push.subscriber import HubDiscovery, WebSubSubscriber
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Source
from bot.storage.push import PushStore
from bot.storage.store import Store

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Example blog</title>
  <link rel="alternate" type="text/html" href="https://blog.example.com/"/>
  <link href='https://pubsubhubbub.appspot.com/' rel='hub' />
  <link rel="self" type="application/atom+xml" href="/feeds/posts/default"/>
  <entry><title>Post</title><link rel="alternate" href="https://blog.example.com/p"/></entry>
</feed>"""

WORDPRESS_RSS = b"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
 xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>News</title>
 <atom:link href="https://news.example.org/feed/" rel="self" type="application/rss+xml" />
 <atom:link rel="hub" href="https://websubhub.com/hub"/>
 <item><title>One</title><link>https://news.example.org/one</link></item></channel></rss>"""


def test_discovery_in_atom_and_rss_feeds() -> None:
    found = websub.discover({}, ATOM, "https://blog.example.com/feeds/posts/default?alt=atom")
    assert found == websub.Discovery(
        "https://pubsubhubbub.appspot.com/", "https://blog.example.com/feeds/posts/default"
    )
    found = websub.discover({}, WORDPRESS_RSS, "https://news.example.org/feed")
    assert found == websub.Discovery("https://websubhub.com/hub", "https://news.example.org/feed/")


def test_link_headers_win_over_the_body_and_a_feed_without_hub_has_none() -> None:
    headers = {
        "link": '<https://hub.example.net/>; rel="hub", <https://a.example/feed.xml>; rel=self'
    }
    found = websub.discover(headers, ATOM, "https://a.example/feed")
    assert found == websub.Discovery("https://hub.example.net/", "https://a.example/feed.xml")
    plain = b"<rss><channel><title>x</title><link>https://a.example/</link></channel></rss>"
    assert websub.discover({}, plain, "https://a.example/rss") == websub.Discovery(None, None)
    # A hub without a self link: the feed's own URL is the topic.
    only_hub = {"link": "<https://hub.example.net/>; rel=hub"}
    assert (
        websub.discover(only_hub, plain, "https://a.example/rss").topic == "https://a.example/rss"
    )


def test_signatures_sha1_and_sha256_and_forgeries() -> None:
    secret, body = websub.new_secret(), b"<feed>news</feed>"
    assert len(secret) == 64
    for method in ("sha1", "sha256", "sha512"):
        assert websub.signature_valid(websub.sign(secret, body, method), secret, body)
    good = websub.sign(secret, body)
    assert good.startswith("sha256=")
    assert not websub.signature_valid(good, secret, body + b" ")
    assert not websub.signature_valid(websub.sign("other", body), secret, body)
    assert not websub.signature_valid(None, secret, body)
    assert not websub.signature_valid("", secret, body)
    assert not websub.signature_valid("md5=" + "0" * 32, secret, body)
    assert not websub.signature_valid("sha256", secret, body)


def test_leases_are_clamped_and_renewed_before_they_end() -> None:
    assert websub.clamp_lease("0") == websub.MIN_LEASE
    assert websub.clamp_lease(str(10 * 365 * 24 * 3600)) == websub.MAX_LEASE
    assert websub.clamp_lease("-5") == websub.MIN_LEASE
    assert websub.clamp_lease("soon") == websub.MIN_LEASE
    assert websub.clamp_lease(None) == websub.REQUESTED_LEASE
    assert websub.clamp_lease("86400") == 86400
    start = datetime(2026, 12, 4, tzinfo=UTC)
    assert websub.renew_at(start, 86400) == start + timedelta(seconds=86400 - 8640)
    short = websub.renew_at(start, websub.MIN_LEASE)
    assert start < short < start + timedelta(seconds=websub.MIN_LEASE)


@pytest.fixture
def push_store(tmp_path: Path) -> PushStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'push.db'}")
    upgrade_database(engine)
    store = Store(engine)
    with store.session() as session:
        session.add(Source(id=1, url="https://a.example/feed", is_global=True))
        session.commit()
    return PushStore(store)


@pytest.mark.parametrize(
    "hub",
    ["http://10.0.0.5/hub", "http://127.0.0.1:8080/", "http://localhost/hub", "http://[::1]/"],
)
async def test_a_hub_on_a_private_address_is_refused(push_store: PushStore, hub: str) -> None:
    discovery = HubDiscovery(push_store, allow_private=False, on_new=lambda: None)
    body = f'<feed><link rel="hub" href="{hub}"/></feed>'.encode()
    source = Source(id=1, url="https://a.example/feed")
    await discovery.note(source, FetchResult(source.url, source.url, 200, body, {}))
    assert push_store.all() == []

    # One stored before the deployment turned private networks off is refused when asked.
    push_store.want(1, hub, source.url, websub.new_secret())
    subscriber = WebSubSubscriber(
        push_store,
        public_url="https://bot.example.com",
        ingest=lambda *_: None,  # type: ignore[arg-type,return-value]
        allow_private=False,
        user_agent="test",
    )
    try:
        assert await subscriber.sync() == 0
    finally:
        await subscriber.aclose()
    [row] = push_store.all()
    assert row.state == "failed" and "refused" in (row.last_error or "")
