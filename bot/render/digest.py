"""Digests: many stories in one message, most-covered first, split cleanly at Telegram's limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.render.format import MAX_MESSAGE, escape, format_time, safe_link, shorten, visible_length
from bot.render.i18n import t


@dataclass(frozen=True, slots=True)
class DigestEntry:
    title: str
    url: str
    source_name: str
    outlets: int
    published: datetime | None
    topic: str


def digest_line(entry: DigestEntry, lang: str = "en") -> str:
    title = escape(shorten(entry.title, 200))
    link = safe_link(entry.url)
    headline = f'<a href="{escape(link)}">{title}</a>' if link else title
    coverage = f" · {t(lang, 'digest.outlets', count=entry.outlets)}" if entry.outlets > 1 else ""
    when = format_time(entry.published, lang)
    meta = " · ".join(part for part in (escape(shorten(entry.source_name, 60)), when) if part)
    return f"• {headline}\n  <i>{meta}{coverage}</i>"


def compose_digest(header: str, entries: Sequence[DigestEntry], lang: str = "en") -> list[str]:
    """The messages of one digest: a bold header, then one line per story, most-covered first.
    A story is never cut in two; each part stays within the limit."""
    ordered = sorted(
        entries,
        key=lambda e: (-e.outlets, -(e.published.timestamp() if e.published else 0.0)),
    )
    title = f"<b>{escape(shorten(header, 200))}</b>"
    messages: list[str] = []
    current = title
    for entry in ordered:
        line = digest_line(entry, lang)
        candidate = f"{current}\n{line}"
        if visible_length(candidate) > MAX_MESSAGE and current != title:
            messages.append(current)
            candidate = f"{title} {t(lang, 'digest.continued')}\n{line}"
        current = candidate
    messages.append(current)
    return messages
