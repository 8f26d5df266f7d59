"""Typed values that flow through the pipeline: fetch, parse, normalize, dedup, match, deliver."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One HTTP response, already size-capped and decompressed."""

    url: str
    final_url: str
    status: int
    body: bytes
    headers: dict[str, str]  # lower-cased names
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: str | None = None  # new URL after a 301/308 chain

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry as the feed states it; strings are untrusted and may hold HTML."""

    title: str
    link: str
    guid: str | None = None
    published: datetime | None = None  # timezone-aware UTC
    content_html: str = ""  # the richest of content / summary / description
    author: str | None = None
    language: str | None = None
    utc_offset: int | None = None  # minutes east of UTC of the zone the date was written in


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: list[FeedEntry]
    language: str | None = None
    ttl_seconds: int | None = None  # RSS <ttl> / sy:updatePeriod, as a lower bound on the interval
    is_feed: bool = True
    feed_links: list[str] = field(
        default_factory=list
    )  # autodiscovered feeds when the body is HTML
    error: str | None = None  # short reason when nothing usable was found
    # Digests of the entries as listed (`LISTING_DIGEST_BYTES` each, in document order), when
    # the body was well-formed enough to read them; the next poll skips those still listed.
    listing: bytes | None = None
    unchanged: int = 0  # entries skipped because the last poll listed them byte for byte
    unchanged_published: tuple[datetime, ...] = ()  # their dates, for the feed's rhythm


@dataclass(frozen=True, slots=True)
class Item:
    """A normalized entry, ready for dedup and matching. All text is plain (no HTML)."""

    source_url: str
    source_name: str
    title: str
    url: str  # canonical: no tracking parameters, no fragment
    guid: str | None
    published: datetime | None
    text: str
    summary: str
    language: str | None = None
    utc_offset: int | None = None  # minutes east of UTC of the zone the date was written in

    @property
    def site(self) -> str:
        return site_of(self.url)

    @property
    def local_published(self) -> datetime | None:
        """The publication time on the writer's clock when the feed said which zone, else UTC:
        "on Monday" in a New York report of Monday evening is that Monday, not the next."""
        if self.published is None or self.utc_offset is None:
            return self.published
        return self.published.astimezone(timezone(timedelta(minutes=self.utc_offset)))


@dataclass(frozen=True, slots=True)
class Article:
    """Main content extracted from a web page."""

    title: str | None
    text: str
    published: datetime | None
    summary: str
    language: str | None = None
    url: str | None = None


class UserError(Exception):
    """A problem the person in the chat can fix. `key` names a text in the reply catalogs and
    `values` fill its placeholders (raw: the reply path escapes them). One type for every
    error a user can see, so each is translated."""

    def __init__(self, key: str, /, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def site_of(url: str, fallback: str = "") -> str:
    """The host of a URL without "www.", lower-cased; `fallback` when it has none."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or fallback
