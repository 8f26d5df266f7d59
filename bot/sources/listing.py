"""Entries a feed lists unchanged since the last poll: digested, and cut out before
feedparser reads the document."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lxml.etree
from feedparser.datetimes import _parse_date

from bot.sources.feed_entries import MAX_ENTRIES, from_struct, valid_date

# Most polls of a changed feed re-list dozens of entries it listed before, byte for byte, next
# to one or two new ones. A C parser finds the entry elements and digests them; those listed
# last time are cut out before the much slower feedparser reads the rest of the document.
LISTING_DIGEST_BYTES = 8
DATED_ENTRIES = 40  # unchanged entries whose dates are read, twice `observed_gap`'s sample
_LISTING_PARSER = lxml.etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, strip_cdata=False
)
_ENTRY_NAMES = frozenset({"item", "entry"})
_LISTING_ROOTS = frozenset({"rss", "rdf", "feed"})
# In feedparser's order of preference: published, then updated, then created.
_DATE_RANKS = {
    "pubdate": 0, "published": 0, "issued": 0, "updated": 1, "modified": 1, "date": 1, "created": 2
}  # fmt: skip


@dataclass(slots=True)
class Listing:
    digests: bytes
    body: bytes | None  # the document without the entries cut out, if any were
    unchanged: int = 0
    unchanged_published: tuple[datetime, ...] = ()


def listed_digests(listing: bytes) -> set[bytes]:
    size = LISTING_DIGEST_BYTES
    return {listing[i : i + size] for i in range(0, len(listing) - size + 1, size)}


def _local_name(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower() if isinstance(tag, str) else ""


def _entry_date(entry: Any) -> datetime | None:
    found: tuple[int, str] | None = None
    for child in entry:
        rank = _DATE_RANKS.get(_local_name(child))
        if rank is not None and child.text and (found is None or rank < found[0]):
            found = (rank, child.text)
    return valid_date(from_struct(_parse_date(found[1].strip()))) if found else None


def cut_listed(converted: bytes, unchanged: bytes) -> Listing | None:
    """Digest every entry of a well-formed feed and cut out those listed last time.

    `converted` is the document as feedparser reads it: in UTF-8, declared so.
    """
    try:
        # feedparser reads past whitespace before the XML declaration; libxml2 would not.
        root = lxml.etree.fromstring(converted.lstrip(), _LISTING_PARSER)
    except (lxml.etree.LxmlError, ValueError):
        return None
    if _local_name(root) not in _LISTING_ROOTS:
        return None
    parents = [root, *(child for child in root if _local_name(child) == "channel")]
    entries = [e for parent in parents for e in parent if _local_name(e) in _ENTRY_NAMES]
    seen = listed_digests(unchanged)
    digests: list[bytes] = []
    cut: list[Any] = entries[MAX_ENTRIES:]
    published: list[datetime] = []
    for entry in entries[:MAX_ENTRIES]:
        markup = lxml.etree.tostring(entry, with_tail=False)
        digest = hashlib.blake2b(markup, digest_size=LISTING_DIGEST_BYTES).digest()
        digests.append(digest)
        if digest in seen:
            cut.append(entry)
            # The feed's rhythm is read from its newest entries, which feeds list first.
            if len(published) < DATED_ENTRIES and (moment := _entry_date(entry)):
                published.append(moment)
    body = None
    if cut:
        for entry in cut:
            entry.getparent().remove(entry)
        body = lxml.etree.tostring(root, encoding="utf-8", xml_declaration=True)
    unchanged_count = len(cut) - len(entries[MAX_ENTRIES:])
    return Listing(b"".join(digests), body, unchanged_count, tuple(published))
