"""Typed values for announced meetings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class DateSpan:
    """Inclusive day range. `precision` is "day" or "week" (a "next week" kind of phrase)."""

    start: date
    end: date
    precision: str = "day"
    phrase: str = ""


@dataclass(frozen=True, slots=True)
class AnnouncedEvent:
    """One future meeting as one report states it."""

    kind: str  # summit | visit | talks | conference | meeting
    dates: DateSpan
    place: str | None
    participants: tuple[str, ...]
    evidence: str  # the sentence that announced it
    published: datetime
    url: str = ""
    outlet: str = ""

    @property
    def title(self) -> str:
        who = "–".join(self.participants[:3])
        if who:
            return f"{who} {self.kind}"
        return self.kind.capitalize()
