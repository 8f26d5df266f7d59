"""Burst mode: when a topic's stories arrive at several times their usual rate.

The rule compares two counts of the topic's matches (alerts queued for it):

- `recent`: matches in the last `window` (30 minutes);
- `usual`: matches in the `baseline` (24 hours) before that window, scaled to the window's
  length, and never taken below `floor` (one match in two hours), so a quiet topic needs a
  few matches, not one, to count as breaking.

A topic is bursting while `recent >= min_matches` and `recent >= factor * usual`. The state
is read from the outbox each time, so any process computes the same answer and nothing is
stored; a burst ends by itself once its matches slide out of the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class BurstRule:
    window: timedelta = timedelta(minutes=30)
    baseline: timedelta = timedelta(hours=24)
    factor: float = 4.0
    min_matches: int = 3
    floor: float = 0.25  # usual matches per window, at least

    def bursting(self, matches: Iterable[tuple[int, datetime]], now: datetime) -> set[int]:
        """Topics bursting at `now`, from (topic, when matched) pairs."""
        start = now - self.window
        early = start - self.baseline
        counts: dict[int, tuple[int, int]] = {}
        for topic, when in matches:
            recent, before = counts.get(topic, (0, 0))
            if start <= when <= now:
                counts[topic] = (recent + 1, before)
            elif early <= when < start:
                counts[topic] = (recent, before + 1)
        return self.decide(counts)

    def decide(self, counts: Mapping[int, tuple[int, int]]) -> set[int]:
        """Topics bursting, from their (recent, baseline) match counts."""
        share = self.window / self.baseline
        found = set()
        for topic, (recent, before) in counts.items():
            usual = max(self.floor, before * share)
            if recent >= self.min_matches and recent >= self.factor * usual:
                found.add(topic)
        return found
