"""What makes two items one: the keys every item is recorded by."""

from __future__ import annotations

from bot import domain
from bot.dedup.fingerprint import guid_key, title_fingerprint, url_key
from bot.domain import FeedEntry
from bot.sources.normalize import canonical_url, clean_title


def entry_keys(source_url: str, entry: FeedEntry) -> list[str]:
    """The keys `item_keys` gives the normalized entry, from the raw entry (no text work)."""
    url = canonical_url(entry.link) if entry.link else ""
    keys = [url_key(url)] if url else []
    if entry.guid:
        keys.append(guid_key(source_url, entry.guid))
    fingerprint = title_fingerprint(clean_title(entry.title)) if entry.title else ""
    if fingerprint:
        keys.append("t:" + fingerprint)
    return keys


def item_keys(item: domain.Item) -> list[str]:
    """What makes two items one story: same guid at a source, same canonical URL, same title."""
    keys = [url_key(item.url)] if item.url else []
    if item.guid:
        keys.append(guid_key(item.source_url, item.guid))
    fingerprint = title_fingerprint(item.title)
    if fingerprint:
        keys.append("t:" + fingerprint)
    return keys
