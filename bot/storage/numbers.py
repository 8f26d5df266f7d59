"""Per-chat numbers of topics and sources: 1, 2, 3 … in each chat, kept for the row's life.

Numbers are what a chat types (/unwatch 2, /removesource 1); internal ids never reach a chat,
so they reveal nothing about other chats. A number is the chat's highest plus one.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.storage.models import ChatSource, Source, Topic


def next_topic_number(session: Session, chat_id: int) -> int:
    highest = session.exec(select(func.max(Topic.number)).where(Topic.chat_id == chat_id)).one()
    return int(highest or 0) + 1


def next_source_number(session: Session, chat_id: int) -> int:
    highest = session.exec(
        select(func.max(ChatSource.number)).where(ChatSource.chat_id == chat_id)
    ).one()
    return int(highest or 0) + 1


def topic_by_number(session: Session, chat_id: int, number: int) -> Topic | None:
    return session.exec(
        select(Topic).where(Topic.chat_id == chat_id, Topic.number == number)
    ).first()


def numbered_sources(session: Session, chat_id: int) -> list[tuple[Source, int | None]]:
    """Global sources first (no number: they are not the chat's), then the chat's by number."""
    linked = {
        link.source_id: link.number
        for link in session.exec(select(ChatSource).where(ChatSource.chat_id == chat_id)).all()
    }
    rows = session.exec(
        select(Source).where(col(Source.is_global).is_(True) | col(Source.id).in_(list(linked)))
    ).all()
    found = [
        (source, None if source.is_global or source.id is None else linked.get(source.id))
        for source in rows
    ]
    found.sort(key=lambda pair: (not pair[0].is_global, pair[1] or 0, pair[0].id or 0))
    return found


def renumber_moved(session: Session, chat_id: int, moved_topics: list[Topic]) -> None:
    """Topics that joined a chat (a group became a supergroup) continue its numbering."""
    number = next_topic_number(session, chat_id)
    for topic in sorted(moved_topics, key=lambda x: x.number or 0):
        topic.number = number
        number += 1
        session.add(topic)
