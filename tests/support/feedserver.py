"""A local HTTP server for tests that fetch feeds and pages. Binds 127.0.0.1 only.

Typical use::

    with FeedServer() as server:
        server.set("/feed.xml", "<rss>...</rss>")
        result = await fetcher.fetch(server.url("/feed.xml"))
        assert server.hits("/feed.xml") == 1

Static bodies go through `set` (with ETag / Last-Modified and 304 answers). Anything
else goes through `set_handler`, whose function gets a `RequestInfo` and returns a
`Response`; a Response body may be an iterable of chunks, which is sent as it is
produced (chunked, unless the handler sets Content-Length). Helpers below build the
usual awkward answers: `redirect`, `trickle`, `stream_zeros`, `gzip_bomb`,
`brotli_bomb`, `retry_after`.

To use the `feed_server` fixture in a test module (or a conftest)::

    from tests.support.feedserver import feed_server_fixture  # noqa: F401
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

import pytest

GIB = 1024 * 1024 * 1024


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str  # as requested, query included
    headers: dict[str, str]  # lower-cased names

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RequestInfo], Response]


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


class FeedServer:
    """Threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[RequestInfo] = []
        self.connections = 0  # TCP connections accepted
        self.stopping = threading.Event()
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self) -> None:
        server = self

        class RequestHandler(_RequestHandler):
            feed_server = server

        self._httpd = _Server((self.host, 0), RequestHandler)
        port = self._httpd.server_address[1]
        self.base_url = f"http://{self.host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def set(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/rss+xml; charset=utf-8",
        headers: dict[str, str] | None = None,
        etag: bool = True,
    ) -> None:
        """Serves a fixed body at `path`; with `etag`, answers 304 to a matching validator."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        tag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        last_modified = formatdate(time.time(), usegmt=True)

        def handler(request: RequestInfo) -> Response:
            out = {"Content-Type": content_type, **(headers or {})}
            if etag:
                out["ETag"] = tag
                out["Last-Modified"] = last_modified
                inm = request.headers.get("if-none-match")
                ims = request.headers.get("if-modified-since")
                if (inm is not None and _etag_matches(inm, tag)) or (
                    inm is None and ims == last_modified
                ):
                    return Response(304, b"", out)
            return Response(status, data, out)

        self.set_handler(path, handler)

    def set_handler(self, path: str, fn: Handler) -> None:
        with self._lock:
            self._routes[path] = fn

    def hits(self, path: str) -> int:
        """Requests seen for `path` (matched with or without the query string)."""
        with self._lock:
            return sum(1 for r in self.requests if path in (r.path, r.route))

    def _record(self, request: RequestInfo) -> Handler | None:
        with self._lock:
            self.requests.append(request)
            return self._routes.get(request.path) or self._routes.get(request.route)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients in these tests hang up mid-body on purpose.
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    # Without it every response waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    feed_server: FeedServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.feed_server._lock:
            self.feed_server.connections += 1

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _serve(self, *, send_body: bool) -> None:
        info = RequestInfo(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        handler = self.feed_server._record(info)
        if handler is None:
            response = Response(404, b"not found", {"Content-Type": "text/plain"})
        else:
            try:
                response = handler(info)
            except Exception as exc:
                response = Response(500, repr(exc).encode(), {"Content-Type": "text/plain"})
        try:
            self._send(response, send_body=send_body)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True
        finally:
            close = getattr(response.body, "close", None)
            if callable(close):
                close()

    def _send(self, response: Response, *, send_body: bool) -> None:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Status"
        self.send_response_only(response.status, reason)
        names = {k.lower() for k in response.headers}
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        no_body = response.status in (204, 304) or 100 <= response.status < 200
        if isinstance(response.body, bytes):
            if "content-length" not in names and not no_body:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if send_body and not no_body:
                self.wfile.write(response.body)
            return
        chunked = "content-length" not in names
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not send_body:
            return
        stopping = self.feed_server.stopping
        for piece in response.body:
            if stopping.is_set():
                self.close_connection = True
                return
            if not piece:
                continue
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        else:
            # The handler may have promised more bytes than it sent.
            self.close_connection = True


# --- helpers for awkward answers -------------------------------------------------------


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", {"Location": location})


def retry_after(value: str, status: int = 429) -> Response:
    return Response(status, b"slow down", {"Retry-After": value, "Content-Type": "text/plain"})


def trickle(interval: float = 0.5, piece: bytes = b" ", limit: int = 10_000) -> Response:
    """Sends `piece` every `interval` seconds, up to `limit` times; never completes quickly."""

    def chunks() -> Iterator[bytes]:
        yield b"<?xml version='1.0'?>"
        for _ in range(limit):
            time.sleep(interval)
            yield piece

    return Response(200, chunks(), {"Content-Type": "application/rss+xml"})


def stream_zeros(size: int, *, chunk: int = 64 * 1024, content_length: bool = False) -> Response:
    """`size` bytes of zeros produced chunk by chunk, never held in memory at once."""
    block = bytes(chunk)

    def chunks() -> Iterator[bytes]:
        left = size
        while left > 0:
            n = min(left, chunk)
            yield block if n == chunk else block[:n]
            left -= n

    headers = {"Content-Type": "application/rss+xml"}
    if content_length:
        headers["Content-Length"] = str(size)
    return Response(200, chunks(), headers)


@functools.cache
def gzip_bomb_bytes(expanded: int = GIB, layers: int = 1) -> bytes:
    """A gzip body that inflates to `expanded` zero bytes.

    One layer is ~1 MB per GB; `layers=2` gzips that again to a couple of KB (served
    as "Content-Encoding: gzip, gzip"). Built from one compressed 1 MB block repeated:
    a full flush resets the compressor, so each 1 MB of zeros compresses to the same
    bytes and the whole GB never has to be run through zlib.
    """
    block_size = 1024 * 1024
    if expanded % block_size:
        raise ValueError("expanded must be a multiple of 1 MiB")
    if layers > 1:
        return gzip.compress(gzip_bomb_bytes(expanded, layers - 1), compresslevel=9, mtime=0)
    zeros = bytes(block_size)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    crc = 0
    for _ in range(expanded // block_size):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (expanded & 0xFFFFFFFF).to_bytes(4, "little")
    return header + block * (expanded // block_size) + tail + trailer


def gzip_bomb(expanded: int = GIB, layers: int = 1) -> Response:
    encoding = ", ".join(["gzip"] * layers)
    return Response(
        200,
        gzip_bomb_bytes(expanded, layers),
        {"Content-Type": "application/rss+xml", "Content-Encoding": encoding},
    )


@functools.cache
def brotli_bomb_bytes(expanded: int = GIB) -> bytes:
    """A brotli body that inflates to `expanded` zero bytes (a few KB per GB)."""
    import brotli

    compressor = brotli.Compressor(quality=5)
    zeros = bytes(1024 * 1024)
    parts = []
    left = expanded
    while left > 0:
        n = min(left, len(zeros))
        parts.append(compressor.process(zeros[:n]))
        left -= n
    parts.append(compressor.finish())
    return b"".join(parts)


def brotli_bomb(expanded: int = GIB) -> Response:
    return Response(
        200,
        brotli_bomb_bytes(expanded),
        {"Content-Type": "application/rss+xml", "Content-Encoding": "br"},
    )


@pytest.fixture(name="feed_server")
def feed_server_fixture() -> Iterator[FeedServer]:
    """A started FeedServer, stopped after the test."""
    with FeedServer() as server:
        yield server
