"""The WebSub subscriber: subscriptions at hubs, their verification, and content deliveries.

A subscription moves through these states (`WebSubscription.state`):

- `wanted`: a poll found the feed's hub; the subscriber asks the hub soon;
- `pending`: asked; waiting for the hub's verification GET;
- `active`: verified; renewed before the lease ends;
- `denied` / `failed`: the hub said no, or never verified, or could not be reached; asked
  again after `retry_at`;
- `leaving`: no chat needs the source any more; unsubscribed, and `left` once the hub
  verifies that (or after the verification timeout); subscribed again if a chat needs it.

Deliveries are accepted only with a valid `X-Hub-Signature` under the subscription's own
secret. Per the spec, a missing or wrong signature is acknowledged (2xx) and ignored, an
unknown subscription gets 404; bodies over the fetch cap get 413 from the listener.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpcore
import httpx

from bot.domain import FetchResult
from bot.observability import HttpRequest, HttpResponse
from bot.push import websub
from bot.sources.netguard import BlockedAddress, is_public_address, validate_url
from bot.sources.transport import GuardedBackend
from bot.storage.models import Source, WebSubscription, utcnow
from bot.storage.push import PushStore, aware

log = logging.getLogger(__name__)

VERIFY_TIMEOUT = 600.0  # seconds a hub has to verify a request
RETRY_AFTER = 3600.0  # first wait after a hub failed or denied; doubles up to a day
MAX_RETRY = 24 * 3600.0
MAX_PENDING = 64  # deliveries being read at once; more are answered 503, and hubs retry
SYNC_EVERY = 10.0  # also how soon the bot role sees hubs its workers found
CALLBACK_PREFIX = "/websub/"

Ingest = Callable[[Source, FetchResult], Awaitable[Any]]


class HubDiscovery:
    """Notes the hub a polled feed names (in any role); the subscriber does the asking."""

    def __init__(self, push_store: PushStore, *, allow_private: bool, on_new: Callable[[], None]):
        self.push_store = push_store
        self.allow_private = allow_private
        self.on_new = on_new
        self._known: dict[int, websub.Discovery] = {}

    async def note(self, source: Source, result: FetchResult) -> None:
        if source.id is None or source.kind == "page":
            return
        found = websub.discover(result.headers, result.body, result.final_url)
        if found.hub is None or found.topic is None or self._known.get(source.id) == found:
            return
        try:
            validate_url(found.hub, allow_private=self.allow_private)
            validate_url(found.topic, allow_private=self.allow_private)
        except (BlockedAddress, ValueError) as exc:
            log.info("source %s names a hub we will not use: %s", source.url, exc)
            self._known[source.id] = found
            return
        self._known[source.id] = found
        new = await asyncio.to_thread(
            self.push_store.want, source.id, found.hub, found.topic, websub.new_secret()
        )
        if new:
            log.info("source %s offers push through %s", source.url, found.hub)
            self.on_new()


def _guarded_client(allow_private: bool, user_agent: str, timeout: float) -> httpx.AsyncClient:
    """An HTTP client that refuses hubs resolving to private addresses, like the fetcher."""
    backend = GuardedBackend(allowed=None if allow_private else is_public_address)
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(network_backend=backend)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": user_agent},
    )


class WebSubSubscriber:
    def __init__(
        self,
        push_store: PushStore,
        *,
        public_url: str,
        ingest: Ingest,
        allow_private: bool,
        user_agent: str,
        timeout: float = 20.0,
        verify_timeout: float = VERIFY_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.push_store = push_store
        self.public_url = public_url
        self.ingest = ingest
        self.allow_private = allow_private
        self.verify_timeout = verify_timeout
        self.clock = clock
        self._client = _guarded_client(allow_private, user_agent, timeout)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.deliveries = 0  # accepted ones
        self.ignored = 0  # unsigned or forged

    def wake(self) -> None:
        self._wake.set()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Work on subscriptions when woken (a new hub) and every SYNC_EVERY seconds."""
        while not stop.is_set():
            try:
                await self.sync()
            except Exception:
                log.exception("WebSub pass failed; retrying shortly")
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=SYNC_EVERY, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    # -- asking hubs ----------------------------------------------------------------------

    async def sync(self) -> int:
        """One pass: subscribe, renew, retry, give up on silent hubs, unsubscribe. Returns
        the number of requests sent to hubs."""
        rows = await asyncio.to_thread(self.push_store.all)
        needed = await asyncio.to_thread(
            self.push_store.needed_sources, [row.source_id for row in rows]
        )
        sent = 0
        for row in rows:
            try:
                sent += await self._step(row, row.source_id in needed, self.clock())
            except Exception:
                log.exception("WebSub subscription %s failed", row.id)
        return sent

    async def _step(self, row: WebSubscription, needed: bool, now: datetime) -> int:
        assert row.id is not None
        asked = aware(row.requested_at)
        overdue = asked is not None and now - asked > timedelta(seconds=self.verify_timeout)
        if not needed:
            if row.state in ("pending", "active"):
                return await self._ask(row, "unsubscribe", now)
            if row.state != "left" and (row.state != "leaving" or overdue):
                await asyncio.to_thread(self.push_store.update, row.id, state="left")
            return 0
        if row.state in ("wanted", "leaving", "left"):
            return await self._ask(row, "subscribe", now)
        if row.state == "pending" and overdue:
            await self._fail(row, "the hub never verified the subscription", now)
            return 0
        if row.state == "active":
            renew = aware(row.renew_at)
            verified = aware(row.verified_at)
            lease_end = verified + timedelta(seconds=row.lease_seconds or 0) if verified else now
            if lease_end <= now:
                await asyncio.to_thread(self.push_store.update, row.id, state="wanted")
                return await self._ask(row, "subscribe", now)
            if renew is not None and renew <= now and (asked is None or overdue or asked < renew):
                return await self._ask(row, "subscribe", now, renewing=True)
            return 0
        retry = aware(row.retry_at)
        if row.state in ("denied", "failed") and (retry is None or retry <= now):
            return await self._ask(row, "subscribe", now)
        return 0

    async def _ask(
        self, row: WebSubscription, mode: str, now: datetime, *, renewing: bool = False
    ) -> int:
        assert row.id is not None
        state = "active" if renewing else ("pending" if mode == "subscribe" else "leaving")
        await asyncio.to_thread(
            self.push_store.update, row.id, state=state, requested_at=now, last_error=None
        )
        form = {
            "hub.callback": websub.callback_url(self.public_url, row.id),
            "hub.mode": mode,
            "hub.topic": row.topic,
        }
        if mode == "subscribe":
            form["hub.lease_seconds"] = str(websub.REQUESTED_LEASE)
            form["hub.secret"] = row.secret
        try:
            hub = validate_url(row.hub, allow_private=self.allow_private)
            response = await self._client.post(hub, data=form)
            await response.aread()
        except (BlockedAddress, ValueError) as exc:
            await self._fail(row, f"hub refused: {exc}", now, mode=mode)
            return 0
        except httpx.HTTPError as exc:
            await self._fail(row, f"hub unreachable: {type(exc).__name__}", now, mode=mode)
            return 1
        if not 200 <= response.status_code < 300:
            await self._fail(row, f"hub answered HTTP {response.status_code}", now, mode=mode)
        return 1

    async def _fail(
        self, row: WebSubscription, reason: str, now: datetime, *, mode: str = "subscribe"
    ) -> None:
        assert row.id is not None
        log.info("WebSub %s for %s: %s", mode, row.topic, reason)
        if mode == "unsubscribe":
            await asyncio.to_thread(self.push_store.update, row.id, state="left")
            return
        current = await asyncio.to_thread(self.push_store.get, row.id)
        if current is not None and current.state == "active":
            # A renewal that failed (the lease still runs), or a hub that verified before it
            # answered: the subscription stands.
            await asyncio.to_thread(self.push_store.update, row.id, last_error=reason[:500])
            return
        wait = min(MAX_RETRY, RETRY_AFTER * 2 ** min(row.attempts, 8))
        await asyncio.to_thread(
            self.push_store.update,
            row.id,
            state="failed",
            attempts=row.attempts + 1,
            last_error=reason[:500],
            retry_at=now + timedelta(seconds=wait),
        )

    # -- the callback ---------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """GET: a hub's verification or denial; POST: a content delivery."""
        key = request.path[len(CALLBACK_PREFIX) :]
        row = await asyncio.to_thread(self.push_store.get, int(key)) if key.isdigit() else None
        if row is None:
            return HttpResponse(404, b"unknown subscription\n")
        if request.method == "GET":
            return await self._verify(row, request.query)
        if request.method == "POST":
            return await self._deliver(row, request)
        return HttpResponse(405, b"GET or POST\n")

    async def _verify(self, row: WebSubscription, query: dict[str, str]) -> HttpResponse:
        assert row.id is not None
        mode = query.get("hub.mode", "")
        topic = query.get("hub.topic", "")
        challenge = query.get("hub.challenge", "")
        now = self.clock()
        if topic.rstrip("/") != row.topic.rstrip("/"):
            return HttpResponse(404, b"not our topic\n")
        if mode == "denied":
            reason = query.get("hub.reason", "the hub denied the subscription")
            await asyncio.to_thread(
                self.push_store.update,
                row.id,
                state="denied",
                last_error=reason[:500],
                attempts=row.attempts + 1,
                retry_at=now + timedelta(seconds=MAX_RETRY),
            )
            log.info("WebSub hub denied %s: %s", row.topic, reason[:200])
            return HttpResponse(200)
        if not challenge:
            return HttpResponse(404, b"no challenge\n")
        if mode == "subscribe" and row.state in ("pending", "active"):
            lease = websub.clamp_lease(query.get("hub.lease_seconds"))
            await asyncio.to_thread(
                self.push_store.update,
                row.id,
                state="active",
                lease_seconds=lease,
                verified_at=now,
                renew_at=websub.renew_at(now, lease),
                trusted=True,
                attempts=0,
                last_error=None,
            )
            log.info("WebSub subscription to %s verified (lease %d s)", row.topic, lease)
            return HttpResponse(200, challenge.encode())
        if mode == "unsubscribe" and row.state == "leaving":
            await asyncio.to_thread(self.push_store.update, row.id, state="left")
            return HttpResponse(200, challenge.encode())
        return HttpResponse(404, b"not wanted\n")

    async def _deliver(self, row: WebSubscription, request: HttpRequest) -> HttpResponse:
        assert row.id is not None
        signature = request.headers.get("x-hub-signature")
        if row.state != "active" or not websub.signature_valid(signature, row.secret, request.body):
            self.ignored += 1
            log.info("WebSub delivery for subscription %s ignored: bad signature", row.id)
            return HttpResponse(202)
        source = await asyncio.to_thread(self.push_store.store.get_source, row.source_id)
        if source is None or source.retired:
            return HttpResponse(202)
        if len(self._tasks) >= MAX_PENDING:
            return HttpResponse(503, b"busy, retry later\n")
        self.deliveries += 1
        await asyncio.to_thread(
            self.push_store.update, row.id, last_delivery_at=self.clock(), trusted=True
        )
        headers = {"content-type": request.headers.get("content-type", "application/xml")}
        result = FetchResult(source.url, source.url, 200, request.body, headers)
        task = asyncio.create_task(self._ingest(source, result), name=f"websub-{row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return HttpResponse(202)

    async def _ingest(self, source: Source, result: FetchResult) -> None:
        try:
            await self.ingest(source, result)
        except Exception:
            log.exception("WebSub delivery for %s could not be read", source.url)
