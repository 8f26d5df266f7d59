"""Rows and statements shared by the store's modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot import domain
from bot.dedup.near import StorySignature
from bot.dedup.stories import (
    Fold,
    Report,
    StoryState,
    query_terms,
)
from bot.storage.models import (
    utcnow,
)


@dataclass(frozen=True, slots=True)
class NewItem:
    id: int
    item: domain.Item
    story_id: int | None = None

    def rows(self, drafts: Sequence[AlertDraft]) -> list[OutboxRow]:
        return [draft.row(self.id) for draft in drafts]


@dataclass(frozen=True, slots=True)
class Candidate:
    item: domain.Item
    keys: list[str]
    signature: StorySignature | None = None
    report: Report | None = None  # its story terms; None folds copies only


def insert_ignore(session: Session, model: Any, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on both SQLite and PostgreSQL; returns rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    key = next(iter(table.primary_key.columns))
    # PostgreSQL takes at most 65,535 parameters per statement: a story for thousands of
    # chats goes in chunks. RETURNING counts what was inserted (rowcount is -1 on psycopg).
    per_statement = max(1, 30_000 // len(rows[0]))
    inserted = 0
    # One statement for any number of rows, so its compiled form is cached: SQLAlchemy sends
    # the rows as multi-row VALUES batches within the parameter limits.
    statement = insert(table).on_conflict_do_nothing().returning(key)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        inserted += len(session.connection().execute(statement, chunk).all())
    return inserted


STORY_WINDOW = timedelta(days=7)
WAITING = ("pending", "held", "digest")  # delivery states not yet sent
STORY_FOLD_LOCK = 0x5357_5346  # PostgreSQL advisory lock key ("SWSF")


class QuotaExceeded(Exception):
    """A chat would pass its limit of topics or sources: `count` of at most `limit`."""

    def __init__(self, kind: Literal["topics", "sources"], limit: int, count: int) -> None:
        super().__init__(kind, limit, count)
        self.kind = kind
        self.limit = limit
        self.count = count

    def __str__(self) -> str:
        return f"{self.count} {self.kind} where the limit is {self.limit}"


@dataclass(frozen=True, slots=True)
class ActiveTopic:
    id: int
    chat_id: int
    query: str
    thread_id: int | None
    mode: str = "instant"
    language: str = "en"


FoldRule = Callable[[Report, Sequence[StoryState]], Fold | None]


@dataclass(frozen=True, slots=True)
class Gauges:
    outbox_backlog: int
    poll_lag_seconds: float
    not_modified_ratio: float


@dataclass(frozen=True, slots=True)
class Ingested:
    claimed: list[NewItem]
    alerts: int
    story_updates: int = 0


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What one successful poll changes on its source."""

    source_id: int
    next_check_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    new_url: str | None = None  # where a permanent redirect led
    name: str | None = None  # taken only while the source has none
    current_interval: float | None = None
    server_floor: float | None = None  # None: the server asked for no floor this time
    kind: str | None = None
    listing: bytes | None = None  # the entries read this time; None keeps the stored ones
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    chat_id: int
    item_id: int
    topic_id: int | None
    thread_id: int | None
    text: str
    link: str
    view: str | None = None  # the alert's parts as JSON, to render it again when its story changes
    status: str = "pending"  # or "digest": waits for the topic's next digest


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """One chat's alert of an item, decided before the item is stored: rendered when sent."""

    chat_id: int
    topic_id: int | None
    thread_id: int | None
    view: str  # the alert's parts as JSON (an AlertView)
    link: str
    status: str = "pending"  # or "digest": waits for the topic's next digest

    def row(self, item_id: int) -> OutboxRow:
        return OutboxRow(
            self.chat_id,
            item_id,
            self.topic_id,
            self.thread_id,
            "",
            self.link,
            self.view,
            self.status,
        )


Alerts = Mapping[int, Sequence[AlertDraft]]  # a candidate's position -> its chats' alerts


def may_fold(candidate: Candidate) -> bool:
    """Whether the item could fold into a story by measure (not only by its keys)."""
    if candidate.signature is not None and candidate.signature.bands:
        return True
    return candidate.report is not None and bool(query_terms(candidate.report))


def insert_row(session: Session, row: Any) -> int:
    """INSERT one new row without the unit of work (much cheaper per row); returns its id."""
    table = type(row).__table__
    values = row.model_dump(exclude={"id"})
    return int(
        session.connection().execute(table.insert().returning(table.c.id), values).scalar_one()
    )


def outbox_values(rows: Sequence[OutboxRow], story_id: int | None = None) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "story_id": story_id,
            "view": r.view,
            "chat_id": r.chat_id,
            "item_id": r.item_id,
            "topic_id": r.topic_id,
            "thread_id": r.thread_id,
            "text": r.text,
            "link": r.link,
            "status": r.status,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for r in rows
    ]
