"""Telegram HTML for alerts and replies. Every outside string is escaped here, nowhere else."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlsplit

from bot.render import i18n
from bot.render.i18n import t, tn

MAX_MESSAGE = 4096
MAX_TITLE = 300
MAX_SOURCE = 80
MAX_TOPIC = 200

_TAG = re.compile(r"<[^>]*>")


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def visible_length(html_text: str) -> int:
    """Length as Telegram counts it: tags removed, entities decoded, in UTF-16 code units."""
    plain = html.unescape(_TAG.sub("", html_text))
    return len(plain.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def safe_link(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        return None
    return url


def format_time(when: datetime | None, lang: str = "en") -> str:
    return i18n.moment(lang, when) if when is not None else ""


@dataclass(frozen=True, slots=True)
class AlertView:
    title: str
    url: str
    summary: str
    source_name: str
    published: datetime | None
    topic: str
    matched_terms: tuple[str, ...] = ()
    lang: str = "en"  # the chat's language, for the alert's own words
    source_lang: str | None = None  # the item's language

    def to_json(self) -> str:
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> AlertView:
        data = json.loads(text)
        published = data.get("published")
        data["published"] = datetime.fromisoformat(published) if published else None
        data["matched_terms"] = tuple(data.get("matched_terms") or ())
        return cls(**data)


def also_reported_line(outlets: Sequence[str], *, shown: int = 3, lang: str = "en") -> str:
    """'Also reported by: X, Y (+N)' for the outlets after the alert's own."""
    if not outlets:
        return ""
    names = ", ".join(escape(shorten(name, 40)) for name in outlets[:shown])
    more = f" (+{len(outlets) - shown})" if len(outlets) > shown else ""
    return t(lang, "chrome.also_reported", names=names + more)


def format_alert(
    alert: AlertView,
    *,
    also_reported: Sequence[str] = (),
    translated_from: str | None = None,
    updates: int = 0,
) -> str:
    """One alert: bold linked title, summary, source and time, the topic that matched,
    the other outlets that carry the story, the language it was translated from, and how
    many follow-ups it had."""
    title = escape(shorten(alert.title, MAX_TITLE) or "(untitled)")
    link = safe_link(alert.url)
    headline = f'<b><a href="{escape(link)}">{title}</a></b>' if link else f"<b>{title}</b>"
    meta = " · ".join(
        part
        for part in (
            escape(shorten(alert.source_name, MAX_SOURCE)),
            format_time(alert.published, alert.lang),
        )
        if part
    )
    footer_parts = [f"<i>{meta}</i>"] if meta else []
    topic_line = f"🔎 {escape(shorten(alert.topic, MAX_TOPIC))}"
    if alert.matched_terms:
        terms = ", ".join(alert.matched_terms[:8])
        matched = t(alert.lang, "chrome.matched", terms=escape(shorten(terms, MAX_TOPIC)))
        topic_line += f" — {matched}"
    footer_parts.append(topic_line)
    also = also_reported_line(also_reported, lang=alert.lang)
    if also:
        footer_parts.append(also)
    if translated_from:
        name = i18n.language_name(alert.lang, translated_from)
        footer_parts.append(t(alert.lang, "translate.from", language=escape(name)))
    if updates > 0:
        footer_parts.append(tn(alert.lang, "story.updates", min(updates, 9999)))
    footer = "\n".join(footer_parts)

    budget = MAX_MESSAGE - visible_length(headline) - visible_length(footer) - 4
    summary = shorten(alert.summary, max(0, budget)) if budget > 0 else ""
    while summary and visible_length(escape(summary)) > budget:
        summary = shorten(summary, len(summary) - 16) if len(summary) > 32 else ""
    body = f"\n{escape(summary)}\n" if summary else ""
    return f"{headline}\n{body}\n{footer}" if body else f"{headline}\n\n{footer}"
