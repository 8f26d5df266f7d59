"""Feeds an HTML page announces with <link rel="alternate">."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.html

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json+feed",
        "application/rdf+xml",
        "application/x-rss+xml",
    }
)


def discover_feed_links(html: bytes | str, *, base_url: str) -> list[str]:
    """Feed URLs announced by <link rel="alternate" type="application/rss+xml" ...>."""
    try:
        doc = lxml.html.document_fromstring(html)
    except Exception:
        return []
    base = base_url
    for href in doc.xpath("//base/@href"):
        base = urljoin(base_url, str(href).strip())
        break
    found: list[str] = []
    for link in doc.xpath("//link[@href]"):
        rels = str(link.get("rel") or "").lower().split()
        kind = str(link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rels or kind not in FEED_TYPES:
            continue
        absolute = urljoin(base, re.sub(r"\s+", "", str(link.get("href"))))
        if urlsplit(absolute).scheme in ("http", "https") and absolute not in found:
            found.append(absolute)
    return found
