"""The HTTP side: request decoding, the spec file, and the threaded server."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from tests.support.fake_api.records import (
    UploadedFile,
    bad_request,
)

if TYPE_CHECKING:
    from tests.support.fake_telegram import FakeTelegram


@lru_cache(maxsize=4)
def load_spec(path: str) -> dict[str, dict[str, Any]] | None:
    """Methods of the Bot API spec keyed by lower-case name, or None when the file is absent."""
    spec_file = Path(path)
    if not spec_file.is_file():
        return None
    data = json.loads(spec_file.read_text(encoding="utf-8"))
    return {name.lower(): method for name, method in data.get("methods", {}).items()}


def parse_multipart(body: bytes, boundary: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    delimiter = b"--" + boundary
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        part = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name_match = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        if not name_match:
            continue
        name = unquote(name_match[1])
        file_match = re.search(r"filename\*=(?:UTF-8|utf-8)''([^;]+)", disposition) or re.search(
            r'filename="([^"]*)"', disposition
        )
        if file_match:
            files[name] = UploadedFile(
                field=name,
                file_name=unquote(file_match[1]),
                content=content,
                content_type=headers.get("content-type", "application/octet-stream"),
            )
        else:
            fields[name] = content.decode("utf-8")
    return fields, files


def parse_body(
    content_type: str, body: bytes, query: str
) -> tuple[dict[str, Any], dict[str, UploadedFile], bool]:
    """Returns (raw params, files, already typed) for a request."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params, files, False
    if media_type == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise bad_request("can't parse JSON object")
        params.update(decoded)
        return params, files, True
    if media_type == "multipart/form-data":
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not match:
            raise bad_request("multipart boundary not found")
        fields, files = parse_multipart(body, match[1].encode("latin-1"))
        params.update(fields)
        return params, files, False
    params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params, files, False


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), RequestHandler)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate small writes
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track_connection(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake records calls itself."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, content_type, payload = self.server.fake._handle_http(
            self.path, self.headers.get("Content-Type", ""), body
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client went away (e.g. a cancelled long poll)


def iter_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_strings(item)
