"""Topics, mutes and feedback, and the story reads the chat screens show."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from bot.storage import numbers
from bot.storage.base import StoreBase
from bot.storage.models import (
    Chat,
    Delivery,
    Feedback,
    Item,
    Source,
    Story,
    Topic,
    utcnow,
)
from bot.storage.rows import (
    ActiveTopic,
    QuotaExceeded,
)


class TopicRows(StoreBase):
    def add_topic(
        self, chat_id: int, query: str, *, thread_id: int | None = None, limit: int = 50
    ) -> Topic:
        with self.session() as session:
            count = session.exec(
                select(func.count()).select_from(Topic).where(Topic.chat_id == chat_id)
            ).one()
            if count >= limit:
                raise QuotaExceeded("topics", limit, count)
            number = numbers.next_topic_number(session, chat_id)
            topic = Topic(chat_id=chat_id, query=query, number=number, thread_id=thread_id)
            session.add(topic)
            session.commit()
            session.refresh(topic)
            return topic

    def list_topics(self, chat_id: int) -> list[Topic]:
        with self.reading() as session:
            return list(
                session.exec(
                    select(Topic)
                    .where(Topic.chat_id == chat_id)
                    .order_by(col(Topic.number), col(Topic.id))
                ).all()
            )

    def topic_by_number(self, chat_id: int, number: int) -> Topic | None:
        with self.reading() as session:
            return numbers.topic_by_number(session, chat_id, number)

    def numbered_sources(self, chat_id: int) -> list[tuple[Source, int | None]]:
        """The chat's sources with the numbers it knows them by (None for global ones)."""
        with self.reading() as session:
            return numbers.numbered_sources(session, chat_id)

    def remove_topic(self, chat_id: int, id_or_query: str) -> Topic | None:
        with self.session() as session:
            statement = select(Topic).where(Topic.chat_id == chat_id)
            wanted = id_or_query.strip().lstrip("#")
            topic: Topic | None = None
            if wanted.isdigit() and len(wanted) < 10:
                topic = numbers.topic_by_number(session, chat_id, int(wanted))
            if topic is None:
                for candidate in session.exec(statement).all():
                    if candidate.query.casefold() == id_or_query.strip().casefold():
                        topic = candidate
                        break
            if topic is None:
                return None
            session.delete(topic)
            session.commit()
            return topic

    def active_topics(self) -> list[ActiveTopic]:
        with self.reading() as session:
            rows = session.exec(
                select(Topic, Chat.language)
                .join(Chat, col(Chat.id) == col(Topic.chat_id))
                .where(
                    col(Topic.active).is_(True),
                    col(Chat.active).is_(True),
                    col(Topic.muted_until).is_(None) | (col(Topic.muted_until) < utcnow()),
                )
            ).all()
            return [
                ActiveTopic(t.id, t.chat_id, t.query, t.thread_id, t.mode, language)
                for t, language in rows
                if t.id is not None
            ]

    def update_topic(self, chat_id: int, topic_id: int, **values: Any) -> Topic | None:
        """Change a chat's own topic (active, mode, …); None if it is not that chat's."""
        with self.session() as session:
            topic = session.get(Topic, topic_id)
            if topic is None or topic.chat_id != chat_id:
                return None
            for name, value in values.items():
                setattr(topic, name, value)
            session.add(topic)
            session.commit()
            session.refresh(topic)
            return topic

    def update_chat(self, chat_id: int, **values: Any) -> Chat | None:
        """Change a chat's preferences (timezone, quiet hours, language, …)."""
        with self.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is None:
                return None
            for name, value in values.items():
                setattr(chat, name, value)
            session.add(chat)
            session.commit()
            session.refresh(chat)
            return chat

    def mute_topic(self, chat_id: int, topic_id: int, until: datetime) -> Topic | None:
        with self.session() as session:
            topic = session.get(Topic, topic_id)
            if topic is None or topic.chat_id != chat_id:
                return None
            topic.muted_until = until
            session.add(topic)
            session.commit()
            session.refresh(topic)
            return topic

    def mark_not_relevant(self, chat_id: int, delivery_id: int) -> Delivery | None:
        """Record the verdict for tuning, and stop updates of that alert."""
        with self.session() as session:
            row = session.get(Delivery, delivery_id)
            if row is None or row.chat_id != chat_id:
                return None
            row.muted = True
            row.edit_due = False
            session.add(row)
            session.add(Feedback(chat_id=chat_id, topic_id=row.topic_id, story_id=row.story_id))
            session.commit()
            session.refresh(row)
            return row

    def recent_stories(
        self, chat_id: int, topic_id: int | None = None, limit: int = 10
    ) -> list[tuple[Story, int]]:
        """The chat's latest alerted stories, each with its number of outlets."""
        with self.reading() as session:
            statement = (
                select(Story)
                .join(Delivery, col(Delivery.story_id) == col(Story.id))
                .where(Delivery.chat_id == chat_id)
                .order_by(col(Delivery.id).desc())
                .limit(limit)
            )
            if topic_id is not None:
                statement = statement.where(Delivery.topic_id == topic_id)
            stories = session.exec(statement).all()
            return [(story, len(json.loads(story.outlets or "[]"))) for story in stories]

    def items_since(self, since: datetime, limit: int = 5000) -> list[Item]:
        with self.reading() as session:
            return list(
                session.exec(
                    select(Item)
                    .where(col(Item.seen_at) >= since)
                    .order_by(col(Item.id).desc())
                    .limit(limit)
                ).all()
            )

    def stories(self, ids: Iterable[int]) -> dict[int, Story]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self.reading() as session:
            found = session.exec(select(Story).where(col(Story.id).in_(wanted))).all()
            return {story.id: story for story in found if story.id is not None}

    def due_edits(self, before: datetime, limit: int = 100) -> list[Delivery]:
        """Sent alerts whose story changed, and not edited since `before`."""
        with self.reading() as session:
            return list(
                session.exec(
                    select(Delivery)
                    .where(
                        col(Delivery.edit_due).is_(True),
                        Delivery.status == "sent",
                        col(Delivery.edited_at).is_(None) | (col(Delivery.edited_at) < before),
                    )
                    .order_by(col(Delivery.id))
                    .limit(limit)
                ).all()
            )

    def mark_edited(self, delivery_id: int, *, done: bool = True) -> None:
        self._update_delivery(delivery_id, edit_due=not done, edited_at=utcnow())
