"""The outbox: a row per chat per story, written before any send."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import col, select

from bot.storage.base import StoreBase
from bot.storage.models import (
    Chat,
    Delivery,
    Source,
    Story,
    Topic,
    utcnow,
)
from bot.storage.rows import (
    Gauges,
    OutboxRow,
    insert_ignore,
    outbox_values,
)


class OutboxRows(StoreBase):
    def enqueue(self, rows: Sequence[OutboxRow]) -> int:
        if not rows:
            return 0
        with self.session() as session:
            inserted = insert_ignore(session, Delivery, outbox_values(rows))
            session.commit()
            return inserted

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        with self.reading() as session:
            return list(
                session.exec(
                    select(Delivery)
                    .where(Delivery.status == "pending", col(Delivery.next_attempt_at) <= now)
                    .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
                    .limit(limit)
                ).all()
            )

    def next_due_at(self) -> datetime | None:
        with self.reading() as session:
            return session.exec(
                select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")
            ).one()

    def mark_sent(
        self, delivery_id: int, message_id: int, rendered: datetime | None = None
    ) -> None:
        """The alert went out as rendered from its story's state at `rendered` (the story's
        updated_at then): an edit stays due only if the story changed after that, e.g. a copy
        folded in by another poller while the send was in flight."""
        row = col(Delivery.id) == delivery_id
        with self.session() as session:
            session.exec(
                update(Delivery)
                .where(row)
                .values(
                    status="sent",
                    message_id=message_id,
                    sent_at=utcnow(),
                    last_error=None,
                    edit_due=False,
                )
            )
            if rendered is not None:
                # A statement of its own: it reads the story as committed after any fold that
                # held this row (PostgreSQL), where one statement would read it as it was
                # before and clear the fold's edit.
                story = col(Story.id) == col(Delivery.story_id)
                changed = select(Story.id).where(story, col(Story.updated_at) > rendered).exists()
                session.exec(update(Delivery).where(row, changed).values(edit_due=True))
            session.commit()

    def mark_retry(self, delivery_id: int, *, at: datetime, error: str, attempt: bool) -> None:
        with self.session() as session:
            row = session.get(Delivery, delivery_id)
            if row is None or row.status != "pending":
                return
            row.next_attempt_at = at
            row.last_error = error[:500]
            row.attempts += int(attempt)
            session.add(row)
            session.commit()

    def hold(self, delivery_id: int) -> None:
        """Quiet hours with holding: the alert waits to go out with the others when they end."""
        with self.session() as session:
            session.exec(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id, col(Delivery.status) == "pending")
                .values(status="held")
            )
            session.commit()

    def waiting(self) -> dict[int, list[tuple[Delivery, str]]]:
        """Alerts held for quiet hours or kept for a digest, per chat, with their topic's mode."""
        with self.reading() as session:
            rows = session.exec(
                select(Delivery, Topic.mode)
                .join(Topic, col(Topic.id) == col(Delivery.topic_id), isouter=True)
                .where(col(Delivery.status).in_(["held", "digest"]))
                .order_by(col(Delivery.id))
            ).all()
        grouped: dict[int, list[tuple[Delivery, str]]] = {}
        for row, mode in rows:
            grouped.setdefault(row.chat_id, []).append((row, mode or "instant"))
        return grouped

    def chats(self, ids: Iterable[int]) -> dict[int, Chat]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self.reading() as session:
            return {c.id: c for c in session.exec(select(Chat).where(col(Chat.id).in_(wanted)))}

    def mark_batch_sent(self, delivery_ids: Sequence[int], message_id: int) -> None:
        with self.session() as session:
            session.exec(
                update(Delivery)
                .where(col(Delivery.id).in_(list(delivery_ids)))
                .values(status="sent", message_id=message_id, sent_at=utcnow(), edit_due=False)
            )
            session.commit()

    def mark_failed(self, delivery_id: int, error: str) -> None:
        self._update_delivery(delivery_id, status="failed", last_error=error[:500])

    def outbox_backlog(self) -> int:
        with self.reading() as session:
            return int(
                session.exec(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
                ).one()
            )

    def gauges(self) -> Gauges:
        now = utcnow()
        with self.reading() as session:
            backlog = session.exec(
                select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
            ).one()
            oldest_due = session.exec(
                select(func.min(Source.next_check_at)).where(col(Source.retired).is_(False))
            ).one()
            polls, not_modified = session.exec(
                select(
                    func.coalesce(func.sum(Source.polls), 0),
                    func.coalesce(func.sum(Source.not_modified_count), 0),
                )
            ).one()
        lag = max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else 0.0
        return Gauges(int(backlog), lag, (not_modified / polls) if polls else 0.0)

    def deliveries_for_chat(self, chat_id: int) -> list[Delivery]:
        with self.reading() as session:
            return list(
                session.exec(
                    select(Delivery).where(Delivery.chat_id == chat_id).order_by(col(Delivery.id))
                ).all()
            )
