"""What every part of the store stands on: its engine, sessions and SQLite's writer queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from threading import RLock
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.storage.db import READ_ONLY
from bot.storage.models import Delivery


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        # SQLite has one writer at a time. Writers of this process queue on a lock, which
        # wakes the next one at once, instead of in SQLite's busy handler, which sleeps.
        sqlite = engine.dialect.name == "sqlite"
        self._write_turn: AbstractContextManager[Any] = RLock() if sqlite else nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for work that writes."""
        with self._write_turn, Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it neither waits for nor blocks writers."""
        with Session(self._reader, expire_on_commit=False) as session:
            yield session

    def ping(self) -> bool:
        with self.reading() as session:
            session.exec(select(1)).one()
        return True

    def _update_delivery(self, delivery_id: int, **values: Any) -> None:
        with self.session() as session:
            session.exec(update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))
            session.commit()
