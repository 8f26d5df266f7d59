"""Local time for a chat: time zones, quiet hours and digest moments. Pure functions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain import UserError

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")


class TimingError(UserError, ValueError):
    """A time, time zone or quiet-hours window the user has to fix; `key` is `timing.<name>`."""

    def __init__(self, message: str, key: str, /, **values: object) -> None:
        super().__init__(f"timing.{key}", **values)
        self.message = message

    def __str__(self) -> str:
        return self.message


def parse_timezone(text: str) -> str:
    """An IANA name ("Asia/Kolkata") or a UTC offset ("+05:30", "UTC-4"), normalized."""
    text = text.strip()
    if text.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    found = _OFFSET.match(text)
    if found:
        sign, hours, minutes = found.group(1), int(found.group(2)), int(found.group(3) or 0)
        if hours > 14 or minutes >= 60:
            raise TimingError("An offset runs from -14:00 to +14:00.", "offset_range")
        return f"{sign}{hours:02d}:{minutes:02d}"
    if len(text) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", text):
        raise TimingError(
            "Give an IANA time zone like Europe/Moscow or an offset like +05:30.", "zone_form"
        )
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimingError(f"Unknown time zone: {text}", "unknown_zone", zone=text) from exc
    return text


def zone(name: str) -> tzinfo:
    """The tzinfo of a stored zone name; UTC for anything unreadable."""
    found = _OFFSET.match(name or "")
    if found:
        sign = -1 if found.group(1) == "-" else 1
        delta = timedelta(hours=int(found.group(2)), minutes=int(found.group(3) or 0))
        from datetime import timezone as fixed

        return fixed(sign * delta)
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_clock(text: str) -> str:
    found = _CLOCK.match(text.strip())
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise TimingError("Times look like 23:00 or 7:30.", "clock")
    return f"{int(found.group(1)):02d}:{found.group(2)}"


def parse_quiet(text: str) -> tuple[str, str] | None:
    """'23:00-07:00' -> ('23:00', '07:00'); 'off' -> None."""
    text = text.strip().lower()
    if text in ("off", "none", "no"):
        return None
    parts = re.split(r"\s*[-–—]\s*|\s+to\s+", text)
    if len(parts) != 2:
        raise TimingError("Quiet hours look like 23:00-07:00 (or off).", "quiet_form")
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start == end:
        raise TimingError("Quiet hours need a start and an end that differ.", "quiet_same")
    return start, end


def _at(clock: str) -> time:
    hours, minutes = clock.split(":")
    return time(int(hours), int(minutes))


def in_quiet(now: datetime, tz_name: str, start: str | None, end: str | None) -> bool:
    if not start or not end:
        return False
    local = now.astimezone(zone(tz_name)).time()
    begin, finish = _at(start), _at(end)
    if begin < finish:
        return begin <= local < finish
    return local >= begin or local < finish  # the window crosses midnight


def quiet_ends(now: datetime, tz_name: str, end: str) -> datetime:
    """The next moment (UTC) the quiet hours end."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    finish = datetime.combine(local.date(), _at(end), tzinfo=tz)
    if finish <= local:
        finish += timedelta(days=1)
    return finish.astimezone(UTC)


def last_occurrence(now: datetime, tz_name: str, clock: str) -> datetime:
    """The latest moment (UTC), not after `now`, when the local clock read `clock`."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    moment = datetime.combine(local.date(), _at(clock), tzinfo=tz)
    if moment > local:
        moment -= timedelta(days=1)
    return moment.astimezone(UTC)


def digest_due(mode: str, oldest: datetime, now: datetime, tz_name: str, clock: str) -> bool:
    """Hourly digests go out each full local hour, daily ones at the chat's digest time,
    with whatever arrived before that moment."""
    if mode == "hourly":
        local = now.astimezone(zone(tz_name))
        boundary = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    else:
        boundary = last_occurrence(now, tz_name, clock)
    return oldest < boundary
