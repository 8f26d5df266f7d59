"""Words for announced meetings: /upcoming, /calendar, reminders, topic ends and wrap-ups.
Every value that came from a feed or a user is escaped here."""

from __future__ import annotations

import json
from datetime import date
from html import escape

from bot.events.lifecycle import Until
from bot.render.i18n import t, tn
from bot.storage.models import Event

MAX_FIELD = 120  # characters of a place, a name list or a title shown


def _cut(text: str, limit: int = MAX_FIELD) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def day_range(start: date, end: date, precision: str, lang: str) -> str:
    if precision == "week":
        return t(lang, "events.week_of", day=start.isoformat())
    if start == end:
        return start.isoformat()
    return f"{start.isoformat()} – {end.isoformat()}"


def event_title(event: Event) -> str:
    names = json.loads(event.participants)[:3]
    return "–".join(names) + f" {event.kind}" if names else event.kind.capitalize()


def link(url: str, label: str) -> str:
    if not url.startswith(("http://", "https://")):
        return escape(label)
    return f'<a href="{escape(url, quote=True)}">{escape(label)}</a>'


def upcoming_line(event: Event, lang: str) -> str:
    outlets = len(json.loads(event.outlets)) or 1
    place = t(lang, "events.place", place=escape(_cut(event.place))) if event.place else ""
    names = json.loads(event.participants)
    who = t(lang, "events.who", names=escape(_cut(", ".join(names)))) if names else ""
    moved = t(lang, "events.moved", day=event.moved_from.isoformat()) if event.moved_from else ""
    return t(
        lang,
        "events.line",
        dates=day_range(event.start, event.end, event.precision, lang),
        title=escape(_cut(event_title(event))),
        place=place,
        moved=moved,
        who=who,
        outlets=tn(lang, "events.outlets", outlets),
        source=link(event.url, _cut(event.best_outlet or t(lang, "events.source"), 60)),
    )


def upcoming(events: list[Event], total: int, offset: int, lang: str) -> str:
    if not events:
        return t(lang, "events.none")
    lines = [t(lang, "events.title", total=total)]
    lines += [upcoming_line(event, lang) for event in events]
    shown = offset + len(events)
    if shown < total:
        lines.append(t(lang, "events.more", shown=shown, total=total))
    return "\n\n".join(lines)


def reminder(event: Event, lang: str) -> str:
    outlets = len(json.loads(event.outlets)) or 1
    place = t(lang, "events.place", place=escape(_cut(event.place))) if event.place else ""
    return t(
        lang,
        "events.reminder",
        title=escape(_cut(event_title(event))),
        place=place,
        outlets=tn(lang, "events.outlets", outlets),
        source=link(event.url, _cut(event.best_outlet or t(lang, "events.source"), 60)),
    )


def wrapup(
    query: str, days: tuple[date, date], stories: list[tuple[str, str, int]], lang: str
) -> str:
    first, last = days
    lines = [
        t(
            lang,
            "events.wrapup_title",
            query=escape(_cut(query)),
            dates=day_range(first, last, "day", lang),
        )
    ]
    for title, url, count in stories:
        lines.append(
            t(
                lang,
                "events.wrapup_line",
                link=link(url, _cut(title)),
                outlets=tn(lang, "events.outlets", count),
            )
        )
    if not stories:
        lines.append(t(lang, "events.wrapup_none"))
    return "\n".join(lines)


def until_note(until: Until | None, lang: str) -> str:
    if until is None:
        return ""
    if until.ends_on is not None:
        return "\n" + t(lang, "events.until_date", day=until.ends_on.isoformat())
    return "\n" + t(lang, "events.until_event")
