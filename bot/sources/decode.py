"""Bounded decompression of response bodies: gzip, deflate and brotli, never past the cap."""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli


class TooLarge(Exception):
    pass


class Layer(Protocol):
    def decode(self, data: bytes, limit: int) -> bytes: ...
    def flush(self) -> bytes: ...


class ZlibLayer:
    """gzip / deflate, never producing much more than `limit` bytes per call."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._obj = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback
        self._started = False

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._raw_fallback and not self._started and data:
            self._started = True
            probe = self._obj.copy()
            try:
                probe.decompress(data[:2])
            except zlib.error:
                # "deflate" without the zlib header, as some servers send it.
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        out = bytearray()
        while True:
            out += self._obj.decompress(data, limit + 1 - len(out))
            data = self._obj.unconsumed_tail
            if len(out) > limit or not data:
                return bytes(out)

    def flush(self) -> bytes:
        return self._obj.flush()


class BrotliLayer:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray(self._obj.process(data, output_buffer_limit=limit + 1))
        while len(out) <= limit and not self._obj.can_accept_more_data():
            more = self._obj.process(b"", output_buffer_limit=limit + 1 - len(out))
            if not more:
                break
            out += more
        return bytes(out)

    def flush(self) -> bytes:
        return b""


class BodyDecoder:
    """Undoes Content-Encoding with a bound on every step.

    httpx's own decoders inflate each network chunk in one call, so 64 KB of brotli
    or stacked gzip can become gigabytes before any size check runs.
    """

    def __init__(self, content_encoding: str) -> None:
        names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
        self._layers: list[Layer] = []
        for name in reversed(names):
            if name in ("gzip", "x-gzip"):
                self._layers.append(ZlibLayer(zlib.MAX_WBITS | 16))
            elif name == "deflate":
                self._layers.append(ZlibLayer(zlib.MAX_WBITS, raw_fallback=True))
            elif name == "br":
                self._layers.append(BrotliLayer())
            # Anything else (identity, or nonsense) passes through, as browsers do.

    def feed(self, data: bytes, limit: int) -> bytes:
        for layer in self._layers:
            data = layer.decode(data, limit)
            if len(data) > limit:
                raise TooLarge
        if len(data) > limit:
            raise TooLarge
        return data

    def finish(self, limit: int) -> bytes:
        data = b""
        for layer in self._layers:
            data = (layer.decode(data, limit) if data else b"") + layer.flush()
            if len(data) > limit:
                raise TooLarge
        return data
