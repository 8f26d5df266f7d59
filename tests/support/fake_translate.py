"""A fake LibreTranslate on 127.0.0.1 that records every call.

It answers `POST /translate` (JSON: q as a string or a list, source, target, format, api_key)
with {"translatedText": ...} and `GET /languages` with the loaded languages, as LibreTranslate
does. Translations come from `phrases` ((source, target, text) -> translation); other texts come
back as "[target] text". `mode` makes it misbehave: "down" (503), "slow" (answers after
`delay` seconds), "garbage" (an HTML page), "short" (a list one entry short), or "hostile"
(`hostile` output for every text).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class TranslateCall:
    texts: list[str]
    source: str
    target: str
    format: str | None
    api_key: str | None


@dataclass
class FakeTranslateState:
    languages: tuple[str, ...] = ("en", "ru", "hi")
    api_key: str | None = None
    mode: str = "ok"
    delay: float = 0.0
    hostile: str = ""
    phrases: dict[tuple[str, str, str], str] = field(default_factory=dict)
    calls: list[TranslateCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, payload: object, ctype: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.server.state
        if self.path.split("?")[0] != "/languages":
            self._answer(404, {"error": "Not Found"})
            return
        codes = state.languages
        self._answer(200, [{"code": c, "name": c, "targets": list(codes)} for c in codes])

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._answer(400, {"error": "Invalid request"})
            return
        q = data.get("q")
        texts = q if isinstance(q, list) else [q]
        call = TranslateCall(
            [str(t) for t in texts],
            str(data.get("source")),
            str(data.get("target")),
            data.get("format"),
            data.get("api_key"),
        )
        with state.lock:
            state.calls.append(call)
        if self.path != "/translate":
            self._answer(404, {"error": "Not Found"})
            return
        self._misbehave_or_translate(state, call, isinstance(q, list))

    def _misbehave_or_translate(
        self, state: FakeTranslateState, call: TranslateCall, batched: bool
    ) -> None:
        if state.mode == "down":
            self._answer(503, {"error": "Service Unavailable"})
            return
        if state.mode == "slow":
            time.sleep(state.delay)
        if state.mode == "garbage":
            self._answer(200, b"<html><body>Bad Gateway</body></html>", "text/html")
            return
        if state.api_key is not None and call.api_key != state.api_key:
            self._answer(403, {"error": "Invalid API key"})
            return
        for code in (call.source, call.target):
            if code not in state.languages:
                self._answer(400, {"error": f"{code} is not supported"})
                return
        out = [self._one(state, call, text) for text in call.texts]
        if state.mode == "short":
            out = out[:-1]
        self._answer(200, {"translatedText": out if batched else out[0]})

    def _one(self, state: FakeTranslateState, call: TranslateCall, text: str) -> str:
        if state.mode == "hostile":
            return state.hostile
        known = state.phrases.get((call.source, call.target, text))
        return known if known is not None else f"[{call.target}] {text}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeTranslateState


class FakeTranslate:
    def __init__(self) -> None:
        self.state = FakeTranslateState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def calls(self) -> list[TranslateCall]:
        with self.state.lock:
            return list(self.state.calls)

    def start(self) -> FakeTranslate:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTranslate:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
