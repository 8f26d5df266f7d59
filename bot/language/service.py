"""A client for a LibreTranslate-compatible service: POST /translate, GET /languages."""

from __future__ import annotations

import time
from typing import Any

import httpx

MAX_ANSWER_BYTES = 1024 * 1024
LANGUAGES_TTL = 3600.0


class TranslateError(Exception):
    """The service failed: down, slow, refused, or answered something unusable."""


class Unsupported(TranslateError):
    """The service cannot translate between these languages."""


class LibreTranslate:
    def __init__(
        self,
        url: str,
        api_key: str = "",
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport
        )
        self._languages: dict[str, set[str]] | None = None
        self._languages_at = 0.0

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, self.url + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TranslateError("timed out") from exc
        except httpx.HTTPError as exc:
            raise TranslateError(f"unreachable ({type(exc).__name__})") from exc
        if len(response.content) > MAX_ANSWER_BYTES:
            raise TranslateError("answer too large")
        try:
            data = response.json()
        except ValueError as exc:
            raise TranslateError(f"HTTP {response.status_code}, not JSON") from exc
        if response.status_code == 400 and "support" in str(_error(data)).lower():
            raise Unsupported(str(_error(data))[:120])
        if response.status_code != 200:
            raise TranslateError(f"HTTP {response.status_code}: {str(_error(data))[:120]}")
        return data

    async def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        """`texts` translated in one call; an entry the answer lacks comes back empty."""
        payload: dict[str, Any] = {"q": texts, "source": source, "target": target}
        payload["format"] = "text"
        if self.api_key:
            payload["api_key"] = self.api_key
        data = await self._request("POST", "/translate", json=payload)
        found = data.get("translatedText") if isinstance(data, dict) else None
        if isinstance(found, str) and len(texts) == 1:
            found = [found]
        if not isinstance(found, list) or len(found) != len(texts):
            raise TranslateError("answer has no translatedText list")
        return [text if isinstance(text, str) else "" for text in found]

    async def languages(self) -> dict[str, set[str]] | None:
        """Source language -> the targets it can be translated into; None when unknown."""
        if self._languages is not None and time.monotonic() - self._languages_at < LANGUAGES_TTL:
            return self._languages
        try:
            data = await self._request("GET", "/languages")
        except TranslateError:
            return self._languages
        pairs: dict[str, set[str]] = {}
        for entry in data if isinstance(data, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                targets = entry.get("targets")
                pairs[entry["code"]] = {t for t in targets or [] if isinstance(t, str)}
        self._languages, self._languages_at = pairs or None, time.monotonic()
        return self._languages


def _error(data: object) -> object:
    return data.get("error", "") if isinstance(data, dict) else ""
