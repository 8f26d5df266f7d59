"""Stored translations of items' titles and summaries, one per item and target language."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.storage.models import Chat, Delivery, Translation
from bot.storage.store import Store

Key = tuple[int, str]  # item id, target language


class TranslationStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, keys: Iterable[Key]) -> dict[Key, Translation]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        with self.store.reading() as session:
            rows = session.exec(
                select(Translation).where(
                    tuple_(col(Translation.item_id), col(Translation.target)).in_(wanted)
                )
            )
            return {(row.item_id, row.target): row for row in rows}

    def put(self, rows: Sequence[Translation]) -> None:
        """Store new translations; one already stored (by another process) is kept."""
        for row in rows:
            with self.store.session() as session:
                session.add(Translation.model_validate(row.model_dump()))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()

    def prune(self, older_than: datetime) -> int:
        with self.store.session() as session:
            result = session.exec(
                delete(Translation).where(col(Translation.created_at) < older_than)
            )
            session.commit()
            return int(result.rowcount or 0)

    def chats(self, ids: Iterable[int]) -> dict[int, Chat]:
        return self.store.chats(ids)

    def delivery(self, chat_id: int, delivery_id: int) -> Delivery | None:
        with self.store.reading() as session:
            row = session.get(Delivery, delivery_id)
        return row if row is not None and row.chat_id == chat_id else None
