"""What /status tells a chat about push, burst mode and alert delays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.push.burst import BurstRule
from bot.storage.models import Topic, utcnow
from bot.storage.push import PushStore

DELAY_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SourceSpeed:
    pushed: bool = False
    bursting: bool = False
    median_delay: float | None = None  # seconds, over the last DELAY_WINDOW
    server_floor: float | None = None  # seconds the host asks between checks, burst or not

    def burst_interval(self, minimum: float) -> float:
        return max(minimum, self.server_floor or 0.0)


@dataclass(frozen=True, slots=True)
class SpeedReport:
    bursting_topics: list[str] = field(default_factory=list)
    sources: dict[int, SourceSpeed] = field(default_factory=dict)


def speed_report(
    push_store: PushStore,
    topics: Sequence[Topic],
    source_ids: Sequence[int],
    *,
    rule: BurstRule | None = None,
    now: datetime | None = None,
) -> SpeedReport:
    """Burst mode for the chat's topics, and per source: pushed, bursting, median delay."""
    rule = rule or BurstRule()
    now = now or utcnow()
    bursting = rule.decide(push_store.match_counts(now, rule.window, rule.baseline))
    mine = [topic for topic in topics if topic.id in bursting and topic.active]
    found = push_store.story_sources(
        [t.id for t in mine if t.id is not None], now - rule.window - rule.baseline
    )
    burst_sources = set().union(*found.values()) if found else set()
    pushed = push_store.pushed_sources()
    delays = push_store.median_delays(source_ids, now - DELAY_WINDOW)
    floors = push_store.server_floors(burst_sources & set(source_ids))
    return SpeedReport(
        [topic.query for topic in mine],
        {
            source_id: SourceSpeed(
                source_id in pushed,
                source_id in burst_sources,
                delays.get(source_id),
                floors.get(source_id),
            )
            for source_id in source_ids
        },
    )
