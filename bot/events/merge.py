"""One event per meeting, however many outlets report it; a later report may move its dates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from bot.events.model import AnnouncedEvent
from bot.match.words import normalize

MAX_OUTLETS = 200
SAME_EVENT_WINDOW = timedelta(days=62)  # a move farther than this is a different meeting


@dataclass(frozen=True, slots=True)
class EventRecord:
    """What is known of one meeting: the latest dates, every outlet that reported it."""

    kind: str
    start: date
    end: date
    precision: str
    place: str | None
    participants: tuple[str, ...]
    evidence: str
    url: str
    outlets: tuple[str, ...]
    reported_at: datetime  # publication time of the report the dates come from
    moved_from: tuple[date, date] | None = None
    best_outlet: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def outlet_count(self) -> int:
        return max(1, len(self.outlets))

    @property
    def title(self) -> str:
        who = "–".join(self.participants[:3])
        return f"{who} {self.kind}" if who else self.kind.capitalize()

    @classmethod
    def from_report(cls, event: AnnouncedEvent) -> EventRecord:
        return cls(
            kind=event.kind,
            start=event.dates.start,
            end=event.dates.end,
            precision=event.dates.precision,
            place=event.place,
            participants=event.participants,
            evidence=event.evidence,
            url=event.url,
            outlets=(event.outlet,) if event.outlet else (),
            reported_at=event.published,
            best_outlet=event.outlet,
        )


def _key(name: str | None) -> str:
    return normalize(name or "").strip()


def same_event(record: EventRecord, event: AnnouncedEvent) -> bool:
    """Same place or same people, and dates that overlap or lie within a plausible move."""
    place_a, place_b = _key(record.place), _key(event.place)
    people_a = {_key(p) for p in record.participants}
    people_b = {_key(p) for p in event.participants}
    overlap = record.start <= event.dates.end and event.dates.start <= record.end
    near = abs(record.start - event.dates.start) <= SAME_EVENT_WINDOW
    same_place = bool(place_a) and place_a == place_b
    shared_people = len(people_a & people_b) >= min(2, len(people_a), len(people_b)) > 0
    if same_place and shared_people:
        return near
    if same_place or shared_people:
        return overlap and (same_place or not (place_a and place_b))
    return (
        overlap and not (place_a or place_b or people_a or people_b) and record.kind == event.kind
    )


def merge_report(record: EventRecord, event: AnnouncedEvent) -> EventRecord:
    """`record` with one more report; a newer report with other, non-overlapping dates moves
    the event."""
    outlets = record.outlets
    if event.outlet and event.outlet not in outlets and len(outlets) < MAX_OUTLETS:
        outlets = (*outlets, event.outlet)
    merged = replace(
        record,
        outlets=outlets,
        place=record.place or event.place,
        participants=record.participants
        + tuple(p for p in event.participants if p not in record.participants)[:6],
    )
    overlap = record.start <= event.dates.end and event.dates.start <= record.end
    if overlap:
        if record.precision == "week" and event.dates.precision == "day":
            return replace(  # the day within the announced week: a refinement, not a move
                merged, start=event.dates.start, end=event.dates.end, precision="day"
            )
        return merged  # one report gave a part of the range the other gave
    if event.published <= record.reported_at or (
        event.dates.precision == "week" and record.precision == "day"
    ):
        return merged  # an older report, or a vaguer one, does not move it
    return replace(
        merged,
        start=event.dates.start,
        end=event.dates.end,
        precision=event.dates.precision,
        evidence=event.evidence,
        url=event.url or record.url,
        best_outlet=event.outlet or record.best_outlet,
        reported_at=event.published,
        moved_from=(record.start, record.end),
    )
