"""Prometheus metrics and the /healthz and /metrics endpoints (HEALTH_PORT), plus the routes
other parts mount on the same listener (WebSub callbacks under /websub/)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.storage.models import utcnow
from bot.storage.store import Store

log = logging.getLogger(__name__)

ALERT_DELAY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.polls = Counter("summit_polls", "Source polls by result", ["result"], registry=r)
        self.fetch_errors = Counter(
            "summit_fetch_errors", "Failed polls by kind", ["kind"], registry=r
        )
        self.items_seen = Counter("summit_items_seen", "New items recorded", registry=r)
        self.matches = Counter("summit_matches", "Alerts queued for chats", registry=r)
        self.alerts_sent = Counter("summit_alerts_sent", "Alerts Telegram accepted", registry=r)
        self.alerts_edited = Counter(
            "summit_alerts_edited", "Alerts edited as their story grew", registry=r
        )
        self.telegram_errors = Counter(
            "summit_telegram_errors", "Telegram errors while sending, by kind", ["kind"], registry=r
        )
        self.telegram_429 = Counter(
            "summit_telegram_429", "429 Too Many Requests received", registry=r
        )
        self.translations = Counter(
            "summit_translations",
            "Translation outcomes: translated (items), failed (calls), late (alerts sent "
            "untranslated because their translation did not come in time)",
            ["result"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "summit_outbox_backlog", "Alerts waiting to be sent", registry=r
        )
        self.poll_lag = Gauge(
            "summit_poll_lag_seconds", "How late the most overdue source is", registry=r
        )
        self.not_modified_ratio = Gauge(
            "summit_not_modified_ratio", "Share of polls answered 304 Not Modified", registry=r
        )
        self.last_poll_age = Gauge(
            "summit_last_poll_age_seconds", "Seconds since the last poll cycle", registry=r
        )
        self.alert_delay = Histogram(
            "summit_alert_delay_seconds",
            "From an item's publication (or first sight, if earlier or undated) to Telegram "
            "accepting its alert",
            buckets=ALERT_DELAY_BUCKETS,
            registry=r,
        )

    async def refresh_from(self, store: Store, last_cycle_at: datetime | None) -> None:
        """Gauges read at scrape time: outbox backlog, poll lag, 304 share, last poll age."""
        gauges = await asyncio.to_thread(store.gauges)
        self.outbox_backlog.set(gauges.outbox_backlog)
        self.poll_lag.set(gauges.poll_lag_seconds)
        self.not_modified_ratio.set(gauges.not_modified_ratio)
        if last_cycle_at is not None:
            self.last_poll_age.set((utcnow() - last_cycle_at).total_seconds())

    def record_send_event(self, kind: str) -> None:
        if kind == "sent":
            self.alerts_sent.inc()
        elif kind == "edited":
            self.alerts_edited.inc()
        elif kind == "retry_after":
            self.telegram_429.inc()
            self.telegram_errors.labels("retry_after").inc()
        else:
            self.telegram_errors.labels(kind).inc()

    def record_translation_event(self, kind: str) -> None:
        self.translations.labels(kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
# A GET route under a path prefix: the rest of the path -> (status, body, content type).
Route = Callable[[str], Awaitable[tuple[int, bytes, str]]]
MAX_HEADER_LINES = 100
REASONS = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"


# A route that gets the whole request (method, headers, body): WebSub callbacks.
RequestRoute = Callable[[HttpRequest], Awaitable[HttpResponse]]


class _TooLarge(Exception):
    pass


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str], cap: int) -> bytes:
    """The request body, at most `cap` bytes (Content-Length or chunked)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size = int((await asyncio.wait_for(reader.readline(), 10)).split(b";")[0], 16)
            if size == 0:
                await asyncio.wait_for(reader.readline(), 10)
                return bytes(body)
            if len(body) + size > cap:
                raise _TooLarge
            body += await asyncio.wait_for(reader.readexactly(size + 2), 30)
            del body[-2:]
    length = int(headers.get("content-length") or 0)
    if length > cap:
        raise _TooLarge
    return await asyncio.wait_for(reader.readexactly(length), 30) if length > 0 else b""


class HealthServer:
    """A tiny HTTP/1.1 server: GET /healthz (JSON, 200 or 503), GET /metrics, GET `routes`
    (path prefix -> handler of the rest of the path), and `request_routes` (path prefix ->
    handler of the whole request), whose request bodies are capped at `max_body` bytes."""

    def __init__(
        self,
        metrics: Metrics,
        health: HealthCheck,
        refresh: Callable[[], Awaitable[None]],
        *,
        host: str = "0.0.0.0",
        port: int = 0,
        request_routes: Mapping[str, RequestRoute] | None = None,
        max_body: int = 1024 * 1024,
    ) -> None:
        self.request_routes = dict(request_routes or {})
        self.max_body = max_body
        self.metrics = metrics
        self.health = health
        self.refresh = refresh
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self.routes: dict[str, Route] = {}

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets: Iterable[Any] = self._server.sockets or []
        self.port = next(iter(sockets)).getsockname()[1]
        return self.port

    async def _route(self, path: str) -> tuple[int, bytes, str]:
        for prefix, route in self.routes.items():
            if path.startswith(prefix):
                return await route(path[len(prefix) :])
        return 404, b"not found\n", "text/plain"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            headers: dict[str, str] = {}
            for _ in range(MAX_HEADER_LINES):
                line = await asyncio.wait_for(reader.readline(), 5)
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                key = name.strip().lower()
                headers[key] = (
                    f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
                )
            parts = request.decode("latin-1").split()
            method = parts[0] if parts else ""
            target = parts[1] if len(parts) >= 2 else ""
            path, _, query = target.partition("?")
            route = next(
                (r for prefix, r in self.request_routes.items() if path.startswith(prefix)), None
            )
            if route is not None:
                try:
                    body = await _read_body(reader, headers, self.max_body)
                except _TooLarge:
                    answer = HttpResponse(413, b"too large\n")
                except ValueError:
                    answer = HttpResponse(400, b"bad request\n")
                else:
                    answer = await route(
                        HttpRequest(method, path, dict(parse_qsl(query)), headers, body)
                    )
                status, body, ctype = answer.status, answer.body, answer.content_type
            elif path == "/healthz":
                report = await self.health()
                status = 200 if report.get("ok") else 503
                body, ctype = json.dumps(report).encode(), "application/json"
            elif path == "/metrics":
                await self.refresh()
                status, body, ctype = 200, self.metrics.render(), CONTENT_TYPE_LATEST
            else:
                status, body, ctype = await self._route(path)
            reason = REASONS.get(status, "OK")
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("health endpoint failed")
        finally:
            writer.close()
