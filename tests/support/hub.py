"""A local WebSub hub on 127.0.0.1 for tests and the bench.

It takes subscription requests (POST form, answered 202), verifies intent by GETting the
callback with a challenge as the spec says (in a thread, after answering), and `publish`
POSTs content to verified subscribers, signed with their secret. Knobs make it misbehave:
`verify=False` (never verifies), `deny=True` (denies), `lease` (the lease it grants).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlencode

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class HubSubscription:
    callback: str
    topic: str
    secret: str
    lease: int


@dataclass
class HubRequest:
    mode: str
    callback: str
    topic: str
    secret: str
    lease_seconds: str


@dataclass
class LocalHub:
    verify: bool = True
    deny: bool = False
    lease: int | None = None  # granted lease; None grants what was asked
    requests: list[HubRequest] = field(default_factory=list)
    verified: dict[str, HubSubscription] = field(default_factory=dict)  # by callback
    verifications: list[tuple[str, int, bytes]] = field(
        default_factory=list
    )  # (mode, status, body)
    _httpd: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- server --------------------------------------------------------------------------

    def __enter__(self) -> LocalHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                request = HubRequest(
                    form.get("hub.mode", ""),
                    form.get("hub.callback", ""),
                    form.get("hub.topic", ""),
                    form.get("hub.secret", ""),
                    form.get("hub.lease_seconds", ""),
                )
                with hub._lock:
                    hub.requests.append(request)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=hub._verify, args=(request,), daemon=True).start()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    # -- verification of intent ----------------------------------------------------------

    def _verify(self, request: HubRequest) -> None:
        if self.deny:
            query = {"hub.mode": "denied", "hub.topic": request.topic, "hub.reason": "not here"}
            self._get(request.callback, query, "denied")
            return
        if not self.verify:
            return
        challenge = secrets.token_urlsafe(16)
        lease = self.lease if self.lease is not None else int(request.lease_seconds or 0)
        query = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
        if request.mode == "subscribe":
            query["hub.lease_seconds"] = str(lease)
        status, body = self._get(request.callback, query, request.mode)
        if not (200 <= status < 300 and body == challenge.encode()):
            return
        with self._lock:
            if request.mode == "subscribe":
                self.verified[request.callback] = HubSubscription(
                    request.callback, request.topic, request.secret, lease
                )
            else:
                self.verified.pop(request.callback, None)

    def _get(self, callback: str, query: dict[str, str], mode: str) -> tuple[int, bytes]:
        separator = "&" if "?" in callback else "?"
        try:
            with _NO_PROXY.open(callback + separator + urlencode(query), timeout=10) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError:
            status, body = 0, b""
        with self._lock:
            self.verifications.append((mode, status, body))
        return status, body

    # -- content distribution ------------------------------------------------------------

    def publish(
        self,
        topic: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        method: str | None = "sha256",
        secret: str | None = None,
    ) -> list[int]:
        """POST `body` to every verified subscriber of `topic`; the statuses they answered.
        `method=None` sends no signature; `secret` signs with another secret (a forgery)."""
        with self._lock:
            targets = [s for s in self.verified.values() if s.topic == topic]
        return [
            self.deliver(
                s.callback,
                body,
                content_type=content_type,
                method=method,
                secret=s.secret if secret is None else secret,
            )
            for s in targets
        ]

    def deliver(
        self,
        callback: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        method: str | None = "sha256",
        secret: str = "",
    ) -> int:
        headers = {
            "Content-Type": content_type,
            "Link": f'<{self.url}>; rel="hub"',
        }
        if method is not None:
            digest = hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()
            headers["X-Hub-Signature"] = f"{method}={digest}"
        request = urllib.request.Request(callback, data=body, headers=headers, method="POST")
        try:
            with _NO_PROXY.open(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
