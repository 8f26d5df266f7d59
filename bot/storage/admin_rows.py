"""Subscriber management: channels, export and import, operator figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.storage import numbers
from bot.storage.base import StoreBase
from bot.storage.models import (
    Chat,
    ChatSource,
    Delivery,
    Source,
    Topic,
)
from bot.storage.rows import (
    QuotaExceeded,
)


class AdminRows(StoreBase):
    def owned_channels(self, user_id: int) -> list[Chat]:
        """Channels a user linked with /channel, active or not."""
        with self.reading() as session:
            return list(
                session.exec(
                    select(Chat)
                    .where(Chat.type == "channel", col(Chat.owner_id) == user_id)
                    .order_by(col(Chat.title))
                ).all()
            )

    def broadcast_chat_ids(self) -> list[int]:
        """Active private chats and groups (channels are their owners' audiences, not ours)."""
        with self.reading() as session:
            return list(
                session.exec(
                    select(Chat.id)
                    .where(col(Chat.active).is_(True), Chat.type != "channel")
                    .order_by(col(Chat.id))
                ).all()
            )

    def operator_stats(self, since: datetime) -> dict[str, int]:
        """Counts for /stats; alerts_24h counts alerts Telegram accepted since `since`."""

        def count(statement: Any) -> int:
            return int(session.exec(statement).one())

        with self.reading() as session:
            return {
                "chats_total": count(select(func.count()).select_from(Chat)),
                "chats_active": count(
                    select(func.count()).select_from(Chat).where(col(Chat.active).is_(True))
                ),
                "topics": count(select(func.count()).select_from(Topic)),
                "topics_active": count(
                    select(func.count()).select_from(Topic).where(col(Topic.active).is_(True))
                ),
                "sources": count(
                    select(func.count()).select_from(Source).where(col(Source.retired).is_(False))
                ),
                "sources_failing": count(
                    select(func.count())
                    .select_from(Source)
                    .where(col(Source.retired).is_(False), col(Source.error_streak) > 0)
                ),
                "sources_retired": count(
                    select(func.count()).select_from(Source).where(col(Source.retired).is_(True))
                ),
                "alerts_24h": count(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status == "sent", col(Delivery.sent_at) >= since)
                ),
                "backlog": count(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
                ),
            }

    def import_chat_data(
        self,
        chat_id: int,
        *,
        topics: Sequence[tuple[str, str, bool]],
        sources: Sequence[tuple[str, str, str]],
        settings: dict[str, Any],
        searches: dict[str, list[tuple[str, str]]],
        thread_id: int | None = None,
        topic_limit: int = 50,
        source_limit: int = 50,
    ) -> tuple[int, int, int]:
        """Apply an import in one transaction: all of it, or nothing (QuotaExceeded).

        `topics` are (query, mode, active): a query the chat already watches (any case) is
        updated, others are added, backed by their `searches` feeds. `sources` are
        (url, name, kind), linked unless linked already. Returns (topics added, topics
        updated, sources added); QuotaExceeded when a limit would be passed.
        """
        with self.session() as session:
            chat = session.get(Chat, chat_id)
            if chat is None:
                raise LookupError(f"chat {chat_id} is not known")
            existing = {
                topic.query.casefold(): topic
                for topic in session.exec(select(Topic).where(Topic.chat_id == chat_id)).all()
            }
            fresh = [row for row in topics if row[0].casefold() not in existing]
            if len(existing) + len(fresh) > topic_limit:
                raise QuotaExceeded("topics", topic_limit, len(existing) + len(fresh))
            links = _Links(session, chat_id)
            to_link: list[Source] = []
            for url, name, kind in sources:
                source = links.source(url, name, kind)
                if source.id not in links.ids and source not in to_link:
                    to_link.append(source)
            own = _own_source_count(session, chat_id)
            if own + len(to_link) > source_limit:
                raise QuotaExceeded("sources", source_limit, own + len(to_link))
            for source in to_link:
                links.link(source)
            updated = _import_topics(session, links, existing, topics, searches, thread_id)
            for name, value in settings.items():
                setattr(chat, name, value)
            session.add(chat)
            session.commit()
            return len(fresh), updated, len(to_link)


def _import_topics(
    session: Session,
    links: _Links,
    existing: dict[str, Topic],
    topics: Sequence[tuple[str, str, bool]],
    searches: dict[str, list[tuple[str, str]]],
    thread_id: int | None,
) -> int:
    """Update the watched topics of an import and add the others, each backed by its news-search
    feeds; the number of topics whose mode or state changed."""
    topic_number = numbers.next_topic_number(session, links.chat_id)
    updated = 0
    for query, mode, active in topics:
        topic = existing.get(query.casefold())
        if topic is not None:
            updated += int((topic.mode, topic.active) != (mode, active))
            topic.mode, topic.active = mode, active
            session.add(topic)
            continue
        topic = Topic(
            chat_id=links.chat_id,
            query=query,
            number=topic_number,
            thread_id=thread_id,
            mode=mode,
            active=active,
        )
        topic_number += 1
        session.add(topic)
        session.flush()
        existing[query.casefold()] = topic
        for url, name in searches.get(query, []):
            links.link(links.source(url, name, "search", topic_id=topic.id))
    return updated


def _own_source_count(session: Session, chat_id: int) -> int:
    """The chat's sources that count against its limit: news-search feeds do not."""
    return session.exec(
        select(func.count())
        .select_from(ChatSource)
        .join(Source, col(Source.id) == col(ChatSource.source_id))
        .where(ChatSource.chat_id == chat_id, Source.kind != "search")
    ).one()


class _Links:
    """A chat's source links during one import: sources found or created by URL, each linked
    once, numbered after the chat's last."""

    def __init__(self, session: Session, chat_id: int) -> None:
        self.session = session
        self.chat_id = chat_id
        self.ids = set(
            session.exec(select(ChatSource.source_id).where(ChatSource.chat_id == chat_id))
        )
        self.number = numbers.next_source_number(session, chat_id)

    def source(self, url: str, name: str, kind: str, topic_id: int | None = None) -> Source:
        source = self.session.exec(select(Source).where(Source.url == url)).first()
        if source is None:
            source = Source(url=url, name=name[:200], kind=kind, topic_id=topic_id)
            self.session.add(source)
            self.session.flush()
        return source

    def link(self, source: Source) -> None:
        assert source.id is not None
        if source.id in self.ids:
            return
        self.session.add(ChatSource(chat_id=self.chat_id, source_id=source.id, number=self.number))
        self.number += 1
        self.ids.add(source.id)
