from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import threading
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import brotli
import pytest

from bot.sources.fetch import Fetcher, FetchError, Resolver, parse_retry_after
from bot.sources.netguard import IPAddress
from tests.support.feedserver import (
    FeedServer,
    RequestInfo,
    Response,
    brotli_bomb,
    brotli_bomb_bytes,
    feed_server_fixture,  # noqa: F401
    gzip_bomb,
    gzip_bomb_bytes,
    redirect,
    retry_after,
    stream_zeros,
    trickle,
)

UA = "SummitWatch/0.1 (+https://github.com/summit-watch)"
RSS = "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title></channel></rss>"
MB = 1024 * 1024
GB = 1024 * MB


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(user_agent=UA, allow_private=True) as f:
        yield f


def fake_dns(table: dict[str, list[str]]) -> Resolver:
    async def resolver(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        raise socket.gaierror(socket.EAI_NONAME, "unknown test host")

    return resolver


def only(*allowed: str) -> Callable[[IPAddress], bool]:
    permitted = {ipaddress.ip_address(a) for a in allowed}
    return lambda ip: ip in permitted


def redirecting(location: str, status: int) -> Callable[[RequestInfo], Response]:
    return lambda request: redirect(location, status)


async def expect_error(fetcher: Fetcher, url: str, kind: str, **kwargs: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url, **kwargs)
    assert info.value.kind == kind, repr(info.value)
    assert str(info.value)
    return info.value


# --- plain fetching ------------------------------------------------------------------


async def test_fetches_body_and_headers(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set("/feed.xml", RSS, headers={"X-Custom": "yes"})
    result = await fetcher.fetch(feed_server.url("/feed.xml"))
    assert result.status == 200
    assert result.body == RSS.encode()
    assert result.url == result.final_url == feed_server.url("/feed.xml")
    assert result.content_type == "application/rss+xml"
    assert result.headers["x-custom"] == "yes"
    assert all(name == name.lower() for name in result.headers)
    assert result.etag and result.last_modified
    assert result.permanent_redirect is None
    assert not result.not_modified
    sent = feed_server.requests[0].headers
    assert sent["user-agent"] == UA
    assert "application/rss+xml" in sent["accept"]
    assert "gzip" in sent["accept-encoding"]


async def test_custom_accept_header(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set("/page", "<html></html>", content_type="text/html")
    await fetcher.fetch(feed_server.url("/page"), accept="text/html")
    assert feed_server.requests[0].headers["accept"] == "text/html"


async def test_conditional_get_returns_304_with_validators(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set("/feed.xml", RSS)
    first = await fetcher.fetch(feed_server.url("/feed.xml"))
    second = await fetcher.fetch(
        feed_server.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified
    )
    assert second.status == 304
    assert second.not_modified
    assert second.body == b""
    assert second.etag == first.etag
    assert second.last_modified == first.last_modified
    sent = feed_server.requests[1].headers
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified


async def test_304_without_validators_keeps_the_old_ones(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set_handler("/bare", lambda r: Response(304))
    result = await fetcher.fetch(
        feed_server.url("/bare"), etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT"
    )
    assert result.not_modified
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"


async def test_304_with_new_validators_returns_them(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set_handler("/new", lambda r: Response(304, b"", {"ETag": '"v2"'}))
    result = await fetcher.fetch(feed_server.url("/new"), etag='"v1"')
    assert result.etag == '"v2"'


async def test_cookies_are_not_kept_between_fetches(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set("/feed.xml", RSS, headers={"Set-Cookie": "session=abc; Path=/"})
    await fetcher.fetch(feed_server.url("/feed.xml"))
    await fetcher.fetch(feed_server.url("/feed.xml"))
    assert "cookie" not in feed_server.requests[1].headers


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("br", brotli.compress),
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
    ],
)
async def test_compressed_bodies_are_decoded(
    feed_server: FeedServer,
    fetcher: Fetcher,
    encoding: str,
    encode: Callable[[bytes], bytes],
) -> None:
    body = (RSS * 200).encode()
    feed_server.set("/c", encode(body), headers={"Content-Encoding": encoding})
    result = await fetcher.fetch(feed_server.url("/c"))
    assert result.body == body


async def test_corrupt_gzip_is_an_http_error(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set("/bad", b"definitely not gzip", headers={"Content-Encoding": "gzip"})
    await expect_error(fetcher, feed_server.url("/bad"), "http")


# --- size and time caps --------------------------------------------------------------


@pytest.mark.parametrize("layers", [1, 2])
async def test_gzip_bomb_is_too_large_with_bounded_memory(
    feed_server: FeedServer, layers: int
) -> None:
    gzip_bomb_bytes(layers=layers)  # built before measuring
    feed_server.set_handler("/bomb", lambda r: gzip_bomb(layers=layers))
    async with Fetcher(user_agent=UA, allow_private=True, max_bytes=2 * MB) as fetcher:
        tracemalloc.start()
        try:
            await expect_error(fetcher, feed_server.url("/bomb"), "too_large")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # Inflating whole network chunks would need 64 MB (one layer) or 1 GB (two).
    assert peak < 32 * MB


async def test_brotli_bomb_is_too_large_with_bounded_memory(feed_server: FeedServer) -> None:
    brotli_bomb_bytes(256 * MB)
    feed_server.set_handler("/bomb", lambda r: brotli_bomb(256 * MB))
    async with Fetcher(user_agent=UA, allow_private=True, max_bytes=2 * MB) as fetcher:
        tracemalloc.start()
        try:
            await expect_error(fetcher, feed_server.url("/bomb"), "too_large")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 32 * MB


async def test_huge_streamed_body_is_too_large(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_handler("/huge", lambda r: stream_zeros(60 * MB))
    await expect_error(fetcher, feed_server.url("/huge"), "too_large")


async def test_declared_length_above_cap_fails_before_reading(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set_handler("/declared", lambda r: stream_zeros(60 * MB, content_length=True))
    await expect_error(fetcher, feed_server.url("/declared"), "too_large")


async def test_body_at_exactly_the_cap_is_accepted(feed_server: FeedServer) -> None:
    feed_server.set_handler("/exact", lambda r: stream_zeros(MB))
    async with Fetcher(user_agent=UA, allow_private=True, max_bytes=MB) as fetcher:
        result = await fetcher.fetch(feed_server.url("/exact"))
    assert len(result.body) == MB


async def test_trickling_server_hits_the_total_deadline(feed_server: FeedServer) -> None:
    feed_server.set_handler("/slow", lambda r: trickle(interval=0.5))
    async with Fetcher(
        user_agent=UA, allow_private=True, timeout=5.0, total_deadline=1.5
    ) as fetcher:
        async with asyncio.timeout(30):
            await expect_error(fetcher, feed_server.url("/slow"), "timeout")


# --- redirects -----------------------------------------------------------------------


async def test_connections_are_reused_across_304s_redirects_and_errors(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set("/feed.xml", RSS)
    feed_server.set_handler("/moved", lambda r: redirect("/feed.xml", 302))
    feed_server.set("/gone", "not here any more", status=404, etag=False)
    first = await fetcher.fetch(feed_server.url("/feed.xml"))
    for _ in range(5):
        assert (await fetcher.fetch(feed_server.url("/feed.xml"), etag=first.etag)).not_modified
        assert (await fetcher.fetch(feed_server.url("/moved"), etag=first.etag)).not_modified
        await expect_error(fetcher, feed_server.url("/gone"), "http")
    assert len(feed_server.requests) == 21
    assert feed_server.connections == 1


async def test_a_large_unwanted_body_is_not_read_to_its_end(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set_handler("/big-error", lambda r: Response(500, stream_zeros(GB).body))
    await expect_error(fetcher, feed_server.url("/big-error"), "http")
    feed_server.set("/feed.xml", RSS)
    assert (await fetcher.fetch(feed_server.url("/feed.xml"))).body == RSS.encode()
    assert feed_server.connections == 2


async def test_redirect_loop(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_handler("/loop", lambda r: redirect("/loop"))
    await expect_error(fetcher, feed_server.url("/loop"), "redirects")
    assert feed_server.hits("/loop") == 6


async def test_permanent_chain_sets_permanent_redirect(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set_handler("/old", lambda r: redirect("/older", 301))
    feed_server.set_handler("/older", lambda r: redirect(feed_server.url("/feed.xml"), 308))
    feed_server.set("/feed.xml", RSS)
    result = await fetcher.fetch(feed_server.url("/old"))
    assert result.status == 200
    assert result.body == RSS.encode()
    assert result.final_url == feed_server.url("/feed.xml")
    assert result.permanent_redirect == feed_server.url("/feed.xml")
    assert result.url == feed_server.url("/old")


@pytest.mark.parametrize("chain", [[302], [301, 302], [307, 301], [303]])
async def test_any_temporary_hop_clears_permanent_redirect(
    feed_server: FeedServer, fetcher: Fetcher, chain: list[int]
) -> None:
    for i, status in enumerate(chain):
        target = f"/hop{i + 1}" if i + 1 < len(chain) else "/feed.xml"
        feed_server.set_handler(f"/hop{i}", redirecting(target, status))
    feed_server.set("/feed.xml", RSS)
    result = await fetcher.fetch(feed_server.url("/hop0"))
    assert result.final_url == feed_server.url("/feed.xml")
    assert result.permanent_redirect is None


async def test_conditional_headers_follow_redirects(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set("/feed.xml", RSS)
    first = await fetcher.fetch(feed_server.url("/feed.xml"))
    feed_server.set_handler("/moved", lambda r: redirect("/feed.xml", 301))
    result = await fetcher.fetch(feed_server.url("/moved"), etag=first.etag)
    assert result.not_modified
    assert result.permanent_redirect == feed_server.url("/feed.xml")


async def test_redirect_without_location_is_http_error(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set_handler("/nowhere", lambda r: Response(302))
    error = await expect_error(fetcher, feed_server.url("/nowhere"), "http")
    assert error.status == 302


async def test_redirect_to_other_scheme_is_bad_url(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.set_handler("/ftp", lambda r: redirect("ftp://example.com/feed"))
    await expect_error(fetcher, feed_server.url("/ftp"), "bad_url")


# --- HTTP errors ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500, 502, 503])
async def test_error_statuses(feed_server: FeedServer, fetcher: Fetcher, status: int) -> None:
    feed_server.set("/e", "nope", status=status, etag=False)
    error = await expect_error(fetcher, feed_server.url("/e"), "http")
    assert error.status == status
    assert error.retry_after is None


async def test_retry_after_seconds(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_handler("/busy", lambda r: retry_after("7"))
    error = await expect_error(fetcher, feed_server.url("/busy"), "http")
    assert error.status == 429
    assert error.retry_after == 7.0


async def test_retry_after_http_date(feed_server: FeedServer, fetcher: Fetcher) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    feed_server.set_handler("/busy", lambda r: retry_after(when, status=503))
    error = await expect_error(fetcher, feed_server.url("/busy"), "http")
    assert error.status == 503
    assert error.retry_after is not None
    assert 3000 < error.retry_after <= 3600


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("999999999", 86400.0),
        ("Wed, 01 Jan 2025 00:10:00 GMT", 600.0),
        ("Tue, 31 Dec 2024 23:00:00 GMT", 0.0),
        ("Fri, 10 Jan 2025 00:00:00 GMT", 86400.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


async def test_connection_refused_is_connect_error(fetcher: Fetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await expect_error(fetcher, f"http://127.0.0.1:{port}/", "connect")


async def test_unresolvable_host_is_connect_error() -> None:
    async with Fetcher(user_agent=UA, resolver=fake_dns({})) as fetcher:
        await expect_error(fetcher, "http://nowhere.test/", "connect")


async def test_tls_failure_is_tls_error(feed_server: FeedServer, fetcher: Fetcher) -> None:
    # A plain-HTTP server answering a TLS handshake.
    await expect_error(fetcher, f"https://127.0.0.1:{feed_server.port}/", "tls")


@pytest.mark.parametrize("url", ["ftp://example.com/", "not a url", "http://"])
async def test_bad_urls(fetcher: Fetcher, url: str) -> None:
    await expect_error(fetcher, url, "bad_url")


# --- SSRF ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "127.1", "2130706433", "[::ffff:127.0.0.1]"]
)
async def test_local_server_is_blocked_without_allow_private(
    feed_server: FeedServer, host: str
) -> None:
    feed_server.set("/feed.xml", RSS)
    async with Fetcher(user_agent=UA) as fetcher:
        await expect_error(fetcher, f"http://{host}:{feed_server.port}/feed.xml", "blocked")
    assert feed_server.requests == []


async def test_dns_rebinding_is_blocked_at_connect(feed_server: FeedServer) -> None:
    feed_server.set("/feed.xml", RSS)
    dns = fake_dns({"rebind.test": ["127.0.0.1"]})
    async with Fetcher(user_agent=UA, resolver=dns) as fetcher:
        await expect_error(fetcher, f"http://rebind.test:{feed_server.port}/feed.xml", "blocked")
    assert feed_server.requests == []


async def test_any_private_address_in_the_answer_blocks(feed_server: FeedServer) -> None:
    dns = fake_dns({"mixed.test": ["93.184.216.34", "127.0.0.1"]})
    async with Fetcher(user_agent=UA, resolver=dns) as fetcher:
        await expect_error(fetcher, f"http://mixed.test:{feed_server.port}/", "blocked")
    assert feed_server.requests == []


async def test_resolver_can_be_swapped_on_a_live_fetcher(feed_server: FeedServer) -> None:
    async with Fetcher(user_agent=UA) as fetcher:
        fetcher.backend.resolver = fake_dns({"swap.test": ["10.1.2.3"]})
        await expect_error(fetcher, "http://swap.test/", "blocked")


@pytest.fixture
async def guarded(feed_server: FeedServer) -> AsyncIterator[Fetcher]:
    """A fetcher that treats "public.test" (the feed server) as the only public address."""
    dns = fake_dns({"public.test": ["127.0.0.1"], "evil.test": ["127.0.0.2"]})
    async with Fetcher(
        user_agent=UA,
        resolver=dns,
        address_allowed=only("127.0.0.1"),
    ) as fetcher:
        yield fetcher


async def test_allowed_first_hop_works(feed_server: FeedServer, guarded: Fetcher) -> None:
    feed_server.set("/feed.xml", RSS)
    result = await guarded.fetch(f"http://public.test:{feed_server.port}/feed.xml")
    assert result.body == RSS.encode()
    assert feed_server.requests[0].headers["host"] == f"public.test:{feed_server.port}"


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/feed",
        "http://127.0.0.2:{port}/feed",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",
    ],
)
async def test_redirect_to_private_literal_is_blocked(
    feed_server: FeedServer, guarded: Fetcher, target: str
) -> None:
    location = target.format(port=feed_server.port)
    feed_server.set_handler("/start", lambda r: redirect(location))
    await expect_error(guarded, f"http://public.test:{feed_server.port}/start", "blocked")
    assert [r.path for r in feed_server.requests] == ["/start"]


async def test_redirect_to_name_resolving_private_is_blocked_at_connect(
    feed_server: FeedServer, guarded: Fetcher
) -> None:
    other = FeedServer(host="127.0.0.2")
    try:
        other.start()
    except OSError:
        pytest.skip("cannot bind 127.0.0.2 here")
    try:
        other.set("/feed", RSS)
        location = f"http://evil.test:{other.port}/feed"
        feed_server.set_handler("/start", lambda r: redirect(location))
        await expect_error(guarded, f"http://public.test:{feed_server.port}/start", "blocked")
        assert other.requests == []
    finally:
        other.stop()


# --- concurrency ---------------------------------------------------------------------


class InFlight:
    """Counts requests being handled at once.

    Requests are held until `expect` overlap (or all `total` arrived), so reaching the
    cap does not depend on scheduling luck; the wait is bounded in case it never comes.
    """

    def __init__(self, expect: int, total: int) -> None:
        self.expect = expect
        self.total = total
        self.started = 0
        self.now = 0
        self.peak = 0
        self.cond = threading.Condition()

    def __call__(self, request: RequestInfo) -> Response:
        with self.cond:
            self.started += 1
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.cond.notify_all()
            self.cond.wait_for(
                lambda: self.peak >= self.expect or self.started >= self.total, timeout=5
            )
            self.now -= 1
        return Response(200, b"ok")


async def test_per_host_cap(feed_server: FeedServer) -> None:
    counter = InFlight(expect=2, total=10)
    feed_server.set_handler("/c", counter)
    async with Fetcher(user_agent=UA, allow_private=True, per_host=2) as fetcher:
        async with asyncio.timeout(60):
            await asyncio.gather(*(fetcher.fetch(feed_server.url(f"/c?{i}")) for i in range(10)))
    assert counter.peak == 2
    assert feed_server.hits("/c") == 10


async def test_per_host_cap_is_per_host(feed_server: FeedServer) -> None:
    counter = InFlight(expect=4, total=10)
    feed_server.set_handler("/c", counter)
    dns = fake_dns({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    async with Fetcher(
        user_agent=UA,
        allow_private=True,
        per_host=2,
        resolver=dns,
    ) as fetcher:
        urls = [f"http://{h}.test:{feed_server.port}/c?{i}" for h in "ab" for i in range(5)]
        async with asyncio.timeout(60):
            await asyncio.gather(*(fetcher.fetch(u) for u in urls))
    assert counter.peak == 4


async def test_global_cap(feed_server: FeedServer) -> None:
    counter = InFlight(expect=3, total=9)
    feed_server.set_handler("/c", counter)
    async with Fetcher(
        user_agent=UA, allow_private=True, per_host=10, max_concurrency=3
    ) as fetcher:
        async with asyncio.timeout(60):
            await asyncio.gather(*(fetcher.fetch(feed_server.url(f"/c?{i}")) for i in range(9)))
    assert counter.peak == 3


async def test_a_connection_the_server_closed_while_idle_is_not_reused(fetcher: Fetcher) -> None:
    """The server hangs up a kept-alive connection between two polls: the next fetch opens
    a new one instead of failing on the dead one."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        body = RSS.encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()  # without saying so: the client believes it may reuse the connection

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for _ in range(3):
            result = await fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
            assert result.body == RSS.encode()
            await asyncio.sleep(0.1)
    assert connections == 3


async def test_concurrent_fetches_share_the_pool_within_its_limit(
    feed_server: FeedServer,
) -> None:
    """Rounds of fetches that all arrive at once: never more connections than the cap, the
    same ones reused from round to round, and every answer complete."""
    bodies = [RSS.replace("<title>T<", f"<title>T{n}<") for n in range(12)]
    for n, body in enumerate(bodies):
        feed_server.set(f"/f{n}.xml", body)
    async with Fetcher(user_agent=UA, allow_private=True, per_host=4, max_concurrency=4) as fetcher:
        for _ in range(3):
            results = await asyncio.gather(
                *(fetcher.fetch(feed_server.url(f"/f{n}.xml")) for n in range(12))
            )
            assert [r.body.decode() for r in results] == bodies
    assert feed_server.connections == 4


async def test_a_full_pool_closes_an_idle_connection_for_another_host(
    feed_server: FeedServer,
) -> None:
    feed_server.set("/feed.xml", RSS)
    with FeedServer() as other:
        other.set("/other.xml", RSS.replace("<title>T<", "<title>Other<"))
        async with Fetcher(
            user_agent=UA, allow_private=True, per_host=2, max_concurrency=2
        ) as fetcher:
            await asyncio.gather(*(fetcher.fetch(feed_server.url("/feed.xml")) for _ in range(4)))
            async with asyncio.timeout(10):  # waiting for a free connection would hang here
                result = await fetcher.fetch(other.url("/other.xml"))
            assert b"Other" in result.body
            assert (await fetcher.fetch(feed_server.url("/feed.xml"))).status == 200
    assert feed_server.connections == 2  # the one kept idle was reused
    assert other.connections == 1
