"""Reads and writes of WebSub subscriptions, burst mode and alert delays."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, update
from sqlmodel import col, select

from bot.storage.models import (
    Chat,
    ChatSource,
    Delivery,
    Item,
    Source,
    WebSubscription,
    utcnow,
)
from bot.storage.store import Store

WORKING = ("wanted", "pending", "active")


@dataclass(frozen=True, slots=True)
class SentAlert:
    """One alert Telegram accepted, with what its delay is measured from."""

    source_id: int
    sent_at: datetime
    seen_at: datetime
    published: datetime | None

    @property
    def delay_seconds(self) -> float:
        start = self.seen_at
        if self.published is not None and self.published < start:
            start = self.published
        return max(0.0, (self.sent_at - start).total_seconds())


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class PushStore:
    """Store methods of the subscriptions table and of the queries burst mode and the alert
    delay metric need; it shares the main store's engine and write lock."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- subscriptions ------------------------------------------------------------------

    def want(self, source_id: int, hub: str, topic: str, secret: str) -> bool:
        """Record a source's hub; True if that is new (or its hub or topic changed)."""
        with self.store.session() as session:
            row = session.exec(
                select(WebSubscription).where(WebSubscription.source_id == source_id)
            ).first()
            if row is not None and row.hub == hub and row.topic == topic:
                return False
            if row is not None:
                session.delete(row)
                session.flush()
            session.add(
                WebSubscription(
                    source_id=source_id, hub=hub[:2048], topic=topic[:2048], secret=secret
                )
            )
            session.commit()
            return True

    def get(self, subscription_id: int) -> WebSubscription | None:
        with self.store.reading() as session:
            return session.get(WebSubscription, subscription_id)

    def for_source(self, source_id: int) -> WebSubscription | None:
        with self.store.reading() as session:
            return session.exec(
                select(WebSubscription).where(WebSubscription.source_id == source_id)
            ).first()

    def update(self, subscription_id: int, **values: Any) -> None:
        with self.store.session() as session:
            session.exec(
                update(WebSubscription)
                .where(col(WebSubscription.id) == subscription_id)
                .values(**values)
            )
            session.commit()

    def all(self) -> list[WebSubscription]:
        with self.store.reading() as session:
            return list(session.exec(select(WebSubscription).order_by(col(WebSubscription.id))))

    def needed_sources(self, source_ids: Iterable[int]) -> set[int]:
        """Those of the sources someone still needs: global, or linked to an active chat."""
        wanted = list(source_ids)
        if not wanted:
            return set()
        with self.store.reading() as session:
            linked = (
                select(ChatSource.source_id)
                .join(Chat, col(Chat.id) == col(ChatSource.chat_id))
                .where(col(Chat.active).is_(True))
            )
            found = session.exec(
                select(Source.id).where(
                    col(Source.id).in_(wanted),
                    col(Source.retired).is_(False),
                    col(Source.is_global).is_(True) | col(Source.id).in_(linked),
                )
            )
            return {source_id for source_id in found if source_id is not None}

    def distrust(self, source_id: int) -> None:
        with self.store.session() as session:
            session.exec(
                update(WebSubscription)
                .where(col(WebSubscription.source_id) == source_id)
                .values(trusted=False)
            )
            session.commit()

    def pushed_sources(self) -> set[int]:
        """Sources whose hub pushes to us and has not been caught missing entries."""
        with self.store.reading() as session:
            return set(
                session.exec(
                    select(WebSubscription.source_id).where(
                        WebSubscription.state == "active", col(WebSubscription.trusted).is_(True)
                    )
                )
            )

    # -- burst mode ---------------------------------------------------------------------

    def match_counts(
        self, now: datetime, window: timedelta, baseline: timedelta
    ) -> dict[int, tuple[int, int]]:
        """Per topic, alerts queued in the last `window` and in the `baseline` before it."""
        start = now - window
        with self.store.reading() as session:
            rows = session.exec(
                select(
                    Delivery.topic_id,
                    func.sum(case((col(Delivery.created_at) >= start, 1), else_=0)),
                    func.sum(case((col(Delivery.created_at) < start, 1), else_=0)),
                )
                .where(
                    col(Delivery.created_at) >= start - baseline,
                    col(Delivery.created_at) <= now,
                    col(Delivery.topic_id).is_not(None),
                )
                .group_by(col(Delivery.topic_id))
            ).all()
        return {int(t): (int(r or 0), int(b or 0)) for t, r, b in rows if t is not None}

    def story_sources(self, topic_ids: Iterable[int], since: datetime) -> dict[int, set[int]]:
        """Per topic, the sources that carried the stories it matched since `since`, and its
        news-search feeds."""
        wanted = list(topic_ids)
        found: dict[int, set[int]] = {topic: set() for topic in wanted}
        if not wanted:
            return found
        with self.store.reading() as session:
            stories = (
                select(Delivery.topic_id, Delivery.story_id)
                .where(col(Delivery.topic_id).in_(wanted), col(Delivery.created_at) >= since)
                .subquery()
            )
            for topic, source in session.exec(
                select(stories.c.topic_id, Item.source_id).join(
                    Item, col(Item.story_id) == stories.c.story_id
                )
            ).all():
                found[int(topic)].add(int(source))
            for search_topic, search_source in session.exec(
                select(Source.topic_id, Source.id).where(
                    col(Source.topic_id).in_(wanted), Source.kind == "search"
                )
            ).all():
                if search_topic is not None and search_source is not None:
                    found[int(search_topic)].add(int(search_source))
        return found

    def server_floors(self, source_ids: Iterable[int]) -> dict[int, float]:
        """The interval each of these sources' servers last asked for, where they did."""
        ids = list(source_ids)
        if not ids:
            return {}
        with self.store.reading() as session:
            rows = session.exec(
                select(Source.id, Source.server_floor).where(
                    col(Source.id).in_(ids), col(Source.server_floor).is_not(None)
                )
            ).all()
        return {int(i): float(f) for i, f in rows if i is not None and f is not None}

    def hasten(self, source_ids: Iterable[int], interval: float, now: datetime) -> int:
        """Bring forward the next check of these sources to `interval` after their last one,
        or to the interval their server asks for if longer.

        Sources whose last check failed keep their backoff (and any Retry-After)."""
        ids = list(source_ids)
        if not ids:
            return 0
        moved = 0
        with self.store.session() as session:
            for source in session.exec(select(Source).where(col(Source.id).in_(ids))):
                if source.error_streak:
                    continue
                last = aware(source.last_success_at) or now
                wait = max(interval, source.server_floor or 0.0)
                soon = max(now, last + timedelta(seconds=wait))
                if (aware(source.next_check_at) or now) > soon:
                    source.next_check_at = soon
                    session.add(source)
                    moved += 1
            session.commit()
        return moved

    # -- alert delays -------------------------------------------------------------------

    def sent_alerts(self, since: datetime, limit: int = 10_000) -> list[SentAlert]:
        """Alerts Telegram accepted after `since`, oldest first."""
        with self.store.reading() as session:
            rows = session.exec(
                select(Item.source_id, Delivery.sent_at, Item.seen_at, Item.published)
                .join(Item, col(Item.id) == col(Delivery.item_id))
                .where(Delivery.status == "sent", col(Delivery.sent_at) > since)
                .order_by(col(Delivery.sent_at))
                .limit(limit)
            ).all()
        return [
            SentAlert(int(source), aware(sent) or utcnow(), aware(seen) or utcnow(), aware(pub))
            for source, sent, seen, pub in rows
            if sent is not None
        ]

    def median_delays(self, source_ids: Iterable[int], since: datetime) -> dict[int, float]:
        """Median alert delay per source over alerts sent since `since`."""
        ids = set(source_ids)
        per_source: dict[int, list[float]] = {}
        for alert in self.sent_alerts(since, limit=50_000):
            if alert.source_id in ids:
                per_source.setdefault(alert.source_id, []).append(alert.delay_seconds)
        return {source: statistics.median(delays) for source, delays in per_source.items()}
