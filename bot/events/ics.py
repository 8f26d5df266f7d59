"""A chat's announced meetings as an iCalendar file (RFC 5545), one VEVENT each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Calendar
from icalendar import Event as VEvent

from bot.events.merge import EventRecord

PRODUCT_ID = "-//Summit Watch//Announced meetings//EN"


def build_calendar(
    events: Iterable[tuple[str, EventRecord]], *, name: str, stamp: datetime
) -> bytes:
    """`events` are (stable uid, record) pairs; all-day events, the end exclusive as RFC 5545
    wants it."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for uid, record in events:
        entry = VEvent()
        entry.add("uid", uid)
        entry.add("dtstamp", stamp)
        entry.add("dtstart", record.start)
        entry.add("dtend", record.end + timedelta(days=1))
        entry.add("summary", record.title)
        if record.place:
            entry.add("location", record.place)
        count = record.outlet_count
        outlets = f"{count} outlet" if count == 1 else f"{count} outlets"
        entry.add("description", f"{record.evidence}\n\n{outlets}")
        if record.url:
            entry.add("url", record.url)
        calendar.add_component(entry)
    return calendar.to_ical()
