"""Rows and statements shared by the store's modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot import domain
from bot.dedup.near import StorySignature
from bot.dedup.stories import Report
from bot.storage.models import utcnow

__all__ = ["Candidate", "NewItem", "insert_ignore", "utcnow"]


@dataclass(frozen=True, slots=True)
class NewItem:
    id: int
    item: domain.Item
    story_id: int | None = None


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
