"""Announced future meetings: finding them in items, merging reports, and calendars."""

from bot.events.extract import extract_events
from bot.events.merge import EventRecord, merge_report, same_event
from bot.events.model import AnnouncedEvent, DateSpan

__all__ = [
    "AnnouncedEvent",
    "DateSpan",
    "EventRecord",
    "extract_events",
    "merge_report",
    "same_event",
]
