"""Chats: who the bot talks to, their settings, and a migrated group."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.storage import numbers
from bot.storage.base import StoreBase
from bot.storage.models import (
    Chat,
    ChatSource,
    Delivery,
    Topic,
    utcnow,
)
from bot.storage.rows import (
    WAITING,
)


class ChatRows(StoreBase):
    def ensure_chat(
        self, chat_id: int, *, type: str = "private", title: str = "", language: str | None = None
    ) -> Chat:
        """Create the chat, or refresh it and bring it back if it had been deactivated."""
        with self.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is None:
                chat = Chat(id=chat_id, type=type, title=title[:200], language=language or "en")
                session.add(chat)
            else:
                chat.type = type
                chat.title = title[:200] or chat.title
                if not chat.active:
                    chat.active = True
                    chat.deactivated_at = None
                session.add(chat)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = session.get(Chat, chat_id)
                assert existing is not None
                return existing
            session.refresh(chat)
            return chat

    def get_chat(self, chat_id: int) -> Chat | None:
        with self.reading() as session:
            return session.get(Chat, chat_id)

    def deactivate_chat(self, chat_id: int) -> None:
        with self.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is not None and chat.active:
                chat.active = False
                chat.deactivated_at = utcnow()
                session.add(chat)
            session.exec(
                update(Delivery)
                .where(col(Delivery.chat_id) == chat_id, col(Delivery.status).in_(WAITING))
                .values(status="dropped", last_error="chat inactive")
            )
            session.commit()

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its watches, sources and queued alerts move along."""
        with self.session() as session:
            old = session.get(Chat, old_id)
            new = session.get(Chat, new_id)
            if new is None:
                new = Chat(
                    id=new_id,
                    type="supergroup",
                    title=old.title if old else "",
                    language=old.language if old else "en",
                )
                session.add(new)
            new.active = True
            if old is not None:
                old.active = False
                old.migrated_to = new_id
                old.deactivated_at = utcnow()
                session.add(old)
            session.flush()
            moved = list(session.exec(select(Topic).where(Topic.chat_id == old_id)).all())
            if session.exec(select(Topic.id).where(Topic.chat_id == new_id)).first() is None:
                for topic in moved:
                    topic.chat_id = new_id
                    session.add(topic)
            else:
                for topic in moved:
                    topic.chat_id = new_id
                numbers.renumber_moved(session, new_id, moved)
            already = set(
                session.exec(select(ChatSource.source_id).where(ChatSource.chat_id == new_id)).all()
            )
            number = numbers.next_source_number(session, new_id)
            links = session.exec(
                select(ChatSource)
                .where(ChatSource.chat_id == old_id)
                .order_by(col(ChatSource.number))
            ).all()
            for link in links:
                if link.source_id not in already:
                    kept = link.number if not already else number
                    session.add(ChatSource(chat_id=new_id, source_id=link.source_id, number=kept))
                    number += 1
                session.delete(link)
            delivered = set(
                session.exec(select(Delivery.item_id).where(Delivery.chat_id == new_id)).all()
            )
            for row in session.exec(
                select(Delivery).where(
                    Delivery.chat_id == old_id, col(Delivery.status).in_(WAITING)
                )
            ).all():
                if row.item_id in delivered:
                    row.status = "dropped"
                    row.last_error = "migrated; already queued for the new chat"
                else:
                    row.chat_id = new_id
                    row.next_attempt_at = utcnow()
                session.add(row)
            session.commit()
