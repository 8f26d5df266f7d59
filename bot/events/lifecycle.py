"""`/watch <query> until YYYY-MM-DD` and `until event`: when a watched topic ends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_UNTIL_RE = re.compile(r"\s+(?:until|до)\s+(\S+)\s*$", re.IGNORECASE)
MAX_WATCH_AHEAD = timedelta(days=3 * 366)


class UntilError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Until:
    ends_on: date | None = None  # the last day watched
    event: bool = False  # until the end of the soonest matching event


def split_until(text: str, today: date) -> tuple[str, Until | None]:
    """The query without its `until …` suffix, and what the suffix asks for."""
    found = _UNTIL_RE.search(text)
    if not found:
        return text, None
    query, value = text[: found.start()].strip(), found.group(1).casefold()
    if value in ("event", "события", "событие"):
        return query, Until(event=True)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UntilError(value) from None
    if day < today or day - today > MAX_WATCH_AHEAD:
        raise UntilError(value)
    return query, Until(ends_on=day)


def has_ended(ends_on: date | None, local_today: date) -> bool:
    """The topic's last day is over in the chat's own time zone."""
    return ends_on is not None and local_today > ends_on
