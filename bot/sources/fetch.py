"""HTTP fetching for feeds and pages: conditional GET, size and time caps, SSRF-safe.

Every connection goes through `GuardedBackend`, which resolves the host itself, checks
every address and connects to the checked address, so a DNS answer that changes
between a check and the connect (rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Literal

import brotli
import httpx

from bot.domain import FetchResult
from bot.sources.decode import BodyDecoder, TooLarge
from bot.sources.hosts import HostLimiter, LocalHostLimiter
from bot.sources.netguard import (
    AddressPolicy,
    BlockedAddress,
    is_public_address,
    resolve,
    validate_url,
)
from bot.sources.transport import KEEPALIVE_EXPIRY, GuardedBackend, LinearPool, Resolver

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, "
    "text/html;q=0.7, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate, br"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
MAX_RETRY_AFTER = 24 * 3600.0

FetchErrorKind = Literal[
    "blocked", "bad_url", "timeout", "connect", "too_large", "http", "redirects", "tls"
]


class FetchError(Exception):
    """A fetch that produced no usable response; `kind` says which way it failed."""

    def __init__(
        self,
        kind: FetchErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FetchErrorKind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.url = url

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"FetchError(kind={self.kind!r}, message={self.message!r}, status={self.status!r})"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date), capped at 24 h."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(delta, MAX_RETRY_AFTER))


@dataclass(frozen=True, slots=True)
class _Redirect:
    status: int
    location: str


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class _Budget:
    """Time left for one fetch; only time spent on the network counts."""

    def __init__(self, seconds: float) -> None:
        self.remaining = seconds

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(max(self.remaining, 0.0)):
                yield
        finally:
            self.remaining -= loop.time() - started


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


DRAIN_LIMIT = 64 * 1024


async def _drain(response: httpx.Response) -> None:
    """Read a small unwanted body to its end, so its connection is kept alive for reuse.

    A response closed before its end (even a 304's empty one) closes the connection.
    """
    read = 0
    async for raw in response.aiter_raw():
        read += len(raw)
        if read > DRAIN_LIMIT:
            return


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


class Fetcher:
    """Shared HTTP client for all feed and page fetches.

    `resolver` and `address_allowed` exist for tests and special deployments: the
    first replaces DNS resolution, the second replaces the public-address policy
    applied at connect time (by default: `is_public_address`, or nothing when
    `allow_private`).
    """

    def __init__(
        self,
        *,
        user_agent: str,
        allow_private: bool = False,
        timeout: float = 20.0,
        total_deadline: float | None = None,
        max_bytes: int = 10 * 1024 * 1024,
        max_concurrency: int = 50,
        per_host: int = 2,
        max_redirects: int = 5,
        resolver: Resolver | None = None,
        address_allowed: AddressPolicy | None = None,
        host_limiter: HostLimiter | None = None,
    ) -> None:
        self._allow_private = allow_private
        # One deadline for the whole fetch, redirects and body included: by default the
        # timeout itself, so a server that trickles bytes holds a fetch no longer than that.
        self._total_deadline = timeout if total_deadline is None else total_deadline
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self.hosts = host_limiter or LocalHostLimiter(per_host)
        self.max_concurrency = max_concurrency
        self._global = asyncio.Semaphore(max_concurrency)

        policy = address_allowed
        if policy is None and not allow_private:
            policy = is_public_address
        self.backend = GuardedBackend(allowed=policy, resolver=resolver or resolve)

        limits = httpx.Limits(
            max_connections=max_concurrency,
            max_keepalive_connections=max_concurrency,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )
        ssl_context = httpx.create_ssl_context()
        transport = httpx.AsyncHTTPTransport(
            verify=ssl_context, http2=True, limits=limits, trust_env=False
        )
        # httpx 0.28 has no public way to hand a network backend to its transport.
        transport._pool = LinearPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=self.backend,
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            # One client serves every site; cookies would leak state between feeds.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GETs `url`, following redirects; raises FetchError on any failure.

        A 304 comes back as a FetchResult with an empty body and the validators to keep.
        """
        current = self._checked(url)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        budget = _Budget(self._total_deadline)
        redirects = 0
        all_permanent = True
        async with self._global:
            while True:
                hop = await self._guarded_hop(url, current, headers, budget)
                if isinstance(hop, _Redirect):
                    if redirects >= self._max_redirects:
                        raise FetchError(
                            "redirects", f"more than {self._max_redirects} redirects", url=url
                        )
                    redirects += 1
                    all_permanent = all_permanent and hop.status in PERMANENT_REDIRECTS
                    try:
                        target = str(httpx.URL(current).join(hop.location))
                    except httpx.InvalidURL as exc:
                        raise FetchError("bad_url", "redirect to a malformed URL", url=url) from exc
                    current = self._checked(target)
                    continue
                moved = current if redirects and all_permanent else None
                if hop.status == 304:
                    return FetchResult(
                        url=url,
                        final_url=current,
                        status=304,
                        body=b"",
                        headers=hop.headers,
                        etag=hop.headers.get("etag") or etag,
                        last_modified=hop.headers.get("last-modified") or last_modified,
                        permanent_redirect=moved,
                    )
                return FetchResult(
                    url=url,
                    final_url=current,
                    status=hop.status,
                    body=hop.body,
                    headers=hop.headers,
                    etag=hop.headers.get("etag"),
                    last_modified=hop.headers.get("last-modified"),
                    permanent_redirect=moved,
                )

    def _checked(self, url: str) -> str:
        try:
            return validate_url(url, allow_private=self._allow_private)
        except BlockedAddress as exc:
            raise FetchError("blocked", str(exc), url=url) from exc
        except ValueError as exc:
            raise FetchError("bad_url", str(exc), url=url) from exc

    async def _guarded_hop(
        self, original: str, url: str, headers: dict[str, str], budget: _Budget
    ) -> _Redirect | _Answer:
        """One request, with every library error turned into a FetchError."""
        try:
            async with self.hosts.slot(httpx.URL(url).host), budget.running():
                return await self._hop(url, headers)
        except FetchError as exc:
            exc.url = original
            raise
        except BlockedAddress as exc:
            raise FetchError("blocked", str(exc), url=original) from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise FetchError("timeout", "timed out", url=original) from exc
        except httpx.ConnectError as exc:
            if _is_tls_error(exc):
                raise FetchError("tls", f"TLS failed: {exc}", url=original) from exc
            raise FetchError("connect", f"cannot connect: {exc}", url=original) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError("bad_url", str(exc), url=original) from exc
        except httpx.HTTPError as exc:
            message = str(exc) or type(exc).__name__
            raise FetchError("connect", f"connection failed: {message}", url=original) from exc
        except httpx.StreamError as exc:
            raise FetchError("connect", f"stream failed: {exc}", url=original) from exc

    async def _hop(self, url: str, headers: dict[str, str]) -> _Redirect | _Answer:
        request = self._client.build_request("GET", url, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            status = response.status_code
            lowered = {k.lower(): v for k, v in response.headers.items()}
            if not 200 <= status < 300:
                await _drain(response)
            if status in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise FetchError("http", f"HTTP {status} without a Location", status=status)
                return _Redirect(status, location)
            if status == 304:
                return _Answer(304, b"", lowered)
            if not 200 <= status < 300:
                retry_after = None
                if status in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise FetchError("http", f"HTTP {status}", status=status, retry_after=retry_after)
            return _Answer(status, await self._read_body(response), lowered)
        finally:
            await response.aclose()

    async def _read_body(self, response: httpx.Response) -> bytes:
        limit = self._max_bytes
        too_large = FetchError(
            "too_large", f"response larger than {_megabytes(limit)}", status=response.status_code
        )
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        decoder = BodyDecoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        try:
            async for raw in response.aiter_raw():
                body += decoder.feed(raw, limit - len(body))
            body += decoder.finish(limit - len(body))
        except TooLarge:
            raise too_large from None
        except (zlib.error, brotli.error) as exc:
            raise FetchError(
                "http", "response body could not be decoded", status=response.status_code
            ) from exc
        return bytes(body)
