"""When to check a source next: its own rhythm, the server's hints, and backoff on errors."""

from __future__ import annotations

import itertools
import random
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MIN_INTERVAL = 120.0
MAX_INTERVAL = 6 * 3600.0
MAX_BACKOFF = 24 * 3600.0
JITTER = 0.1

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Clamp:
    low: float = MIN_INTERVAL
    high: float = MAX_INTERVAL


DEFAULT_CLAMP = Clamp()


def server_floor(headers: Mapping[str, str], ttl_seconds: int | None = None) -> float | None:
    """The shortest interval the server asks for: Cache-Control max-age, Expires, RSS ttl."""
    hints: list[float] = []
    cache_control = headers.get("cache-control", "")
    if "no-cache" not in cache_control.lower():
        found = _MAX_AGE.search(cache_control)
        if found:
            hints.append(float(found.group(1)))
    expires = headers.get("expires")
    if expires and not hints:
        try:
            when = parsedate_to_datetime(expires)
            date_header = headers.get("date")
            now = parsedate_to_datetime(date_header) if date_header else datetime.now(UTC)
            if when.tzinfo is not None and now.tzinfo is not None:
                hints.append((when - now).total_seconds())
        except (TypeError, ValueError, IndexError):
            pass
    if ttl_seconds:
        hints.append(float(ttl_seconds))
    positive = [hint for hint in hints if hint > 0]
    return min(max(positive), MAX_BACKOFF) if positive else None


def observed_gap(published: Iterable[datetime | None], *, sample: int = 20) -> float | None:
    """Median seconds between consecutive entries, from the newest `sample` dated ones."""
    moments = sorted((moment for moment in published if moment is not None), reverse=True)[:sample]
    gaps = [
        (newer - older).total_seconds()
        for newer, older in itertools.pairwise(moments)
        if newer > older
    ]
    return statistics.median(gaps) if len(gaps) >= 2 else None


def poll_interval(
    *,
    default: float,
    explicit: float | None = None,
    gap: float | None = None,
    floor: float | None = None,
    clamp: Clamp = DEFAULT_CLAMP,
) -> float:
    """The interval before the next check.

    A source's explicit interval, or a default below the lower clamp (local testing), is taken
    as given. Otherwise the interval follows the feed's own rhythm (half its median gap between
    entries), clamped; the server's hints are lower bounds either way.
    """
    if explicit is not None:
        interval = explicit
    elif default < clamp.low:
        return default
    elif gap is not None:
        interval = min(max(gap / 2, clamp.low), clamp.high)
    else:
        interval = min(max(default, clamp.low), clamp.high)
    if floor is not None:
        interval = max(interval, min(floor, MAX_BACKOFF))
    return interval


def jittered(interval: float, rng: random.Random | None = None) -> float:
    """Spread checks so sources added together do not stay in lockstep."""
    if interval < 60:
        return interval
    return interval * (1 + (rng or random).uniform(-JITTER, JITTER))


def error_backoff(interval: float, streak: int, retry_after: float | None = None) -> float:
    """Exponential from the source's interval, capped at a day, never giving up;
    a server's Retry-After is honoured when it asks for longer."""
    delay = min(MAX_BACKOFF, interval * (2 ** max(0, streak)))
    if retry_after:
        delay = max(delay, min(retry_after, MAX_BACKOFF))
    return delay
