"""JSON Feed (jsonfeed.org) bodies turned into a ParsedFeed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from feedparser.datetimes import _parse_date

from bot.domain import FeedEntry, ParsedFeed
from bot.sources.feed_entries import (
    MAX_ENTRIES,
    absolute_http,
    from_struct,
    primary_language,
    text_value,
    valid_date,
)


def parse_json_feed(body: bytes, url: str) -> ParsedFeed | None:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return None
    if "jsonfeed.org" not in str(data.get("version", "")) and not data.get("title"):
        return None
    base = absolute_http(data.get("feed_url"), url) or url
    feed_language = primary_language(data.get("language"))
    entries: list[FeedEntry] = []
    for item in data["items"][:MAX_ENTRIES]:
        if not isinstance(item, dict):
            continue
        link = absolute_http(item.get("url"), base)
        link = link or absolute_http(item.get("external_url"), base)
        content = text_value(item.get("content_html"))
        if not content and (plain := text_value(item.get("content_text"))):
            content = "<p>" + plain.replace("&", "&amp;").replace("<", "&lt;") + "</p>"
        summary = text_value(item.get("summary"))
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next(
            (text_value(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")),
            None,
        )
        published = None
        for key in ("date_published", "date_modified"):
            published = valid_date(_iso_datetime(item.get(key)))
            if published:
                break
        item_id = item.get("id")
        entries.append(
            FeedEntry(
                title=text_value(item.get("title")),
                link=link,
                guid=None if item_id is None else (str(item_id).strip() or None),
                published=published,
                content_html=content if len(content) >= len(summary) else summary,
                author=author or None,
                language=primary_language(item.get("language")) or feed_language,
            )
        )
    return ParsedFeed(
        title=text_value(data.get("title")) or None,
        link=absolute_http(data.get("home_page_url"), url) or None,
        entries=entries,
        language=feed_language,
    )


def _iso_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        parsed = _parse_date(value)
        return from_struct(parsed)
