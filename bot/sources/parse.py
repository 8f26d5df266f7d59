"""Turn a fetched feed body (RSS, Atom, RDF or JSON Feed) into a ParsedFeed.

feedparser does the heavy lifting. Around it this module puts what a bot polling
untrusted URLs needs: a guard against XML entity expansion (`xml_guard`), a size and
entry cap, detection of HTML pages (with feed autodiscovery), JSON Feed support
(`json_feed`), repairs to the raw bytes (`feed_bytes`), and strict "never raise" behaviour.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import feedparser
from feedparser.encodings import RE_XML_PI_ENCODING, convert_to_utf8

from bot.domain import FetchResult, ParsedFeed
from bot.sources.autodiscovery import discover_feed_links
from bot.sources.feed_bytes import fix_surrogate_refs, repair_double_utf8, undeclared_charset
from bot.sources.feed_entries import (
    MAX_ENTRIES,
    absolute_http,
    feed_title,
    primary_language,
    to_entry,
    ttl_seconds,
)
from bot.sources.json_feed import parse_json_feed
from bot.sources.listing import Listing, cut_listed
from bot.sources.xml_guard import EntityRefused, Prolog, guard_entities, scan_prolog

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 10 * 1024 * 1024
ENTITIES_REFUSED = "Feed declares XML entities; refused"
_FEED_ROOTS = frozenset({b"rss", b"feed", b"rdf:rdf", b"rdf", b"channel", b"redirect"})
_HTML_ROOTS = frozenset({b"html", b"head", b"body"})


# --- HTML pages ------------------------------------------------------------------------------


def _looks_like_html(head: bytes, content_type: str) -> bool:
    ctype = content_type.split(";")[0].strip().lower()
    sample = head[:4096].lower()
    if b"<rss" in sample or b"<feed" in sample or b"<rdf:rdf" in sample:
        return False
    return (
        ctype in ("text/html", "application/xhtml+xml")
        or b"<!doctype html" in sample
        or re.search(rb"<(html|head|body)[\s>]", sample) is not None
    )


def _html_result(body: bytes, url: str) -> ParsedFeed:
    return ParsedFeed(
        title=None,
        link=None,
        entries=[],
        is_feed=False,
        feed_links=discover_feed_links(body, base_url=url),
        error="Not a feed (HTML page)",
    )


# --- feedparser ---------------------------------------------------------------------------------


def _prepare(
    body: bytes, *, url: str, content_type: str, unchanged: bytes = b""
) -> tuple[bytes, dict[str, str], Prolog, Listing | None]:
    """Apply the entity guard and cut out entries listed last time; returns the bytes and
    headers to give feedparser, and the entries' listing."""
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    if charset := undeclared_charset(body, content_type):
        headers["content-type"] = f"application/xml; charset={charset}"
    probe: dict[str, Any] = {}
    try:
        # Scan the document as feedparser will see it, so UTF-16 or UTF-7 cannot hide a DOCTYPE.
        converted = convert_to_utf8(dict(headers), body, probe)
    except UnicodeDecodeError:
        # feedparser chokes on a non-UTF-8 encoding name in the XML declaration; blank it.
        if bogus := RE_XML_PI_ENCODING.match(body):
            body = body[: bogus.start(1)] + body[bogus.end(1) :]
        converted = convert_to_utf8(dict(headers), body, probe)
    prolog = scan_prolog(converted)
    rewritten = guard_entities(converted, prolog)
    listing = None
    if rewritten is None and prolog.doctype is None and probe.get("encoding"):
        listing = cut_listed(converted, unchanged)
        rewritten = listing.body if listing is not None else None
    if rewritten is not None:
        body = rewritten
        headers["content-type"] = "application/xml; charset=utf-8"
    return body, headers, prolog, listing


def _run_feedparser(body: bytes, headers: dict[str, str]) -> Any:
    # A stream, not a str: feedparser treats strings as URLs or file names.
    return feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        resolve_relative_uris=True,
        sanitize_html=True,
    )


# --- entry point -------------------------------------------------------------------------------


def _failure(error: str, *, is_feed: bool = False) -> ParsedFeed:
    return ParsedFeed(title=None, link=None, entries=[], is_feed=is_feed, error=error)


def _short(exc: BaseException | None) -> str:
    text = re.sub(r"\s+", " ", str(exc or "")).strip() or type(exc).__name__
    return text[:80]


def parse_feed(
    body: bytes, *, url: str, content_type: str = "", unchanged: bytes = b""
) -> ParsedFeed:
    """Parse an already fetched feed body. Never raises and never touches the network.

    `unchanged` is the `listing` of the feed's last parse: entries listed then, byte for byte,
    are left out of `entries` (counted in `unchanged`).
    """
    try:
        return _parse(body, url=url, content_type=content_type, unchanged=unchanged)
    except Exception as exc:  # untrusted input must not break a polling cycle
        log.warning("feed parse failed for %s: %r", url, exc)
        return _failure(f"Malformed feed: {_short(exc)}")


def _parse(body: bytes, *, url: str, content_type: str, unchanged: bytes = b"") -> ParsedFeed:
    if not body or not body.strip():
        return _failure("Empty response")
    if len(body) > MAX_FEED_BYTES:
        return _failure("Feed too large", is_feed=True)
    body = fix_surrogate_refs(repair_double_utf8(body))
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        parsed = parse_json_feed(body, url)
        return parsed if parsed is not None else _failure("Not a feed")
    if body[:1].isspace() and head.startswith(b"<?xml"):
        # Blank lines before the XML declaration (a common server-side slip) would make it
        # ill-formed and push feedparser to its loose parser.
        body = head
    try:
        data, headers, prolog, listing = _prepare(
            body, url=url, content_type=content_type, unchanged=unchanged
        )
    except EntityRefused:
        return _failure(ENTITIES_REFUSED, is_feed=True)
    if prolog.root in _HTML_ROOTS:
        return _html_result(body, url)
    result = _run_feedparser(data, headers)

    feed = result.get("feed") or {}
    raw_entries = result.get("entries") or []
    if not raw_entries and not result.get("version"):
        if _looks_like_html(head, content_type):
            return _html_result(body, url)
        if prolog.root not in _FEED_ROOTS:
            return _failure("Not a feed")
        if result.get("bozo"):
            return _failure(f"Malformed feed: {_short(result.get('bozo_exception'))}")

    feed_language = primary_language(feed.get("language"))
    entries = [to_entry(e, url, feed_language) for e in raw_entries[:MAX_ENTRIES]]
    return ParsedFeed(
        title=feed_title(feed),
        link=absolute_http(feed.get("link"), url) or None,
        entries=entries,
        language=feed_language,
        ttl_seconds=ttl_seconds(feed),
        is_feed=True,
        listing=listing.digests if listing is not None else None,
        unchanged=listing.unchanged if listing is not None else 0,
        unchanged_published=listing.unchanged_published if listing is not None else (),
    )


def parse_response(result: FetchResult, unchanged: bytes = b"") -> ParsedFeed:
    """Parse a fetched response, handing feedparser the HTTP charset."""
    return parse_feed(
        result.body,
        url=result.final_url,
        content_type=result.headers.get("content-type", ""),
        unchanged=unchanged,
    )
