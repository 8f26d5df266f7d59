"""The fields of a parsed feed and its entries made safe to keep (dates, languages, links,
text), and feedparser's entries turned into FeedEntry."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from bot.domain import FeedEntry
from bot.sources.normalize import clean_title

MAX_ENTRIES = 500
MAX_TTL_SECONDS = 24 * 3600
MAX_UTC_OFFSET = 14 * 3600  # seconds; no zone on Earth is farther from UTC
_UPDATE_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}
_EARLIEST_YEAR = 1990
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_date(value: datetime | None, now: datetime | None = None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    now = now or datetime.now(UTC)
    if value.year < _EARLIEST_YEAR or value > now + timedelta(days=2):
        return None
    return value


def from_struct(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def primary_language(value: Any) -> str | None:
    """The primary language subtag ("en-US" -> "en"), or None."""
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def absolute_http(link: Any, base: str) -> str:
    if not isinstance(link, str) or not link.strip():
        return ""
    link = re.sub(r"\s+", "", link)
    try:
        absolute = urljoin(base, link)
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return ""
    return absolute if scheme in ("http", "https") else ""


def text_value(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    if _SURROGATE.search(value):
        # A JSON Feed's "\ud800" escapes: no UTF-8 output (database, Telegram) takes them.
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value.strip()


def feed_title(feed: Mapping[str, Any]) -> str | None:
    """The feed's title as plain text; feedparser hands over HTML for type="html" titles."""
    title = text_value(feed.get("title"))
    detail = feed.get("title_detail")
    if title and isinstance(detail, Mapping) and "html" in str(detail.get("type", "")):
        title = clean_title(title)
    return title or None


def ttl_seconds(feed: Mapping[str, Any]) -> int | None:
    candidates: list[int] = []
    ttl = text_value(feed.get("ttl"))
    if ttl.isdigit() and int(ttl) > 0:
        candidates.append(int(ttl) * 60)
    period = _UPDATE_PERIODS.get(text_value(feed.get("sy_updateperiod")).lower())
    if period:
        frequency = text_value(feed.get("sy_updatefrequency"))
        divisor = int(frequency) if frequency.isdigit() and int(frequency) > 0 else 1
        candidates.append(period // divisor)
    if not candidates:
        return None
    return max(60, min(max(candidates), MAX_TTL_SECONDS))


# --- feedparser result -> FeedEntry ----------------------------------------------------------


def _entry_link(entry: Mapping[str, Any], base: str) -> str:
    link = absolute_http(entry.get("link"), base)
    if link:
        return link
    for candidate in entry.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate":
            link = absolute_http(candidate.get("href"), base)
            if link:
                return link
    guid = text_value(entry.get("id"))
    if guid.startswith(("http://", "https://")):
        return absolute_http(guid, base)
    return ""


def _entry_content(entry: Mapping[str, Any]) -> str:
    values = [
        text_value(c.get("value")) for c in entry.get("content") or [] if isinstance(c, Mapping)
    ]
    values.append(text_value(entry.get("summary")))
    return max(values, key=len)


def _entry_language(entry: Mapping[str, Any], feed_language: str | None) -> str | None:
    details = [entry.get("title_detail"), entry.get("summary_detail")]
    details.extend(entry.get("content") or [])
    for detail in details:
        if isinstance(detail, Mapping) and (lang := primary_language(detail.get("language"))):
            return lang
    return feed_language


def _entry_published(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = valid_date(from_struct(_field(entry, key)))
        if value:
            return value
    return None


def utc_offset_of(raw: str) -> int | None:
    """Minutes east of UTC of the zone a feed's date string names (RFC 822 or ISO 8601); None
    when it names none or an impossible one."""
    text = raw.strip()[:100]
    parsed = email.utils.parsedate_tz(text)
    if parsed is not None:
        seconds = parsed[9]
    else:
        try:
            offset = datetime.fromisoformat(text).utcoffset()
        except ValueError:
            return None
        seconds = None if offset is None else int(offset.total_seconds())
    if seconds is None or abs(seconds) > MAX_UTC_OFFSET:
        return None
    return seconds // 60


def _entry_offset(entry: Mapping[str, Any]) -> int | None:
    """The zone of the date that `_entry_published` reads."""
    for key in ("published", "updated", "created"):
        value = _field(entry, f"{key}_parsed")
        if valid_date(from_struct(value)):
            raw = _field(entry, key)
            return utc_offset_of(raw) if isinstance(raw, str) else None
    return None


def _field(entry: Mapping[str, Any], key: str) -> Any:
    # dict.get skips FeedParserDict's deprecated updated -> published aliasing.
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def to_entry(entry: Mapping[str, Any], base: str, feed_language: str | None) -> FeedEntry:
    return FeedEntry(
        title=text_value(entry.get("title")),
        link=_entry_link(entry, base),
        guid=text_value(entry.get("id")) or None,
        published=_entry_published(entry),
        content_html=_entry_content(entry),
        author=text_value(entry.get("author")) or None,
        language=_entry_language(entry, feed_language),
        utc_offset=_entry_offset(entry),
    )
