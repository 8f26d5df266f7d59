"""Sources: the global list, chats' own, the schedule and poll records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam, case, delete, func, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from bot.config import SourceSpec
from bot.domain import site_of
from bot.storage import numbers
from bot.storage.base import StoreBase
from bot.storage.models import (
    Chat,
    ChatSource,
    Source,
    SourceListing,
    utcnow,
)
from bot.storage.rows import (
    PollRecord,
    QuotaExceeded,
)

T = TypeVar("T")


def due_first(statement: SelectOfScalar[T], now: datetime, limit: int) -> SelectOfScalar[T]:
    """The one rule of which sources are due, for the single process and the job queue alike:
    not retired, next check reached, and needed by someone (global, or added by an active
    chat); the longest overdue first, at most `limit`."""
    linked = (
        select(ChatSource.source_id)
        .join(Chat, col(Chat.id) == col(ChatSource.chat_id))
        .where(col(Chat.active).is_(True))
    )
    return (
        statement.where(
            col(Source.retired).is_(False),
            col(Source.next_check_at) <= now,
            col(Source.is_global).is_(True) | col(Source.id).in_(linked),
        )
        .order_by(col(Source.next_check_at))
        .limit(limit)
    )


class SourceRows(StoreBase):
    def sync_global_sources(self, specs: Sequence[SourceSpec]) -> None:
        with self.session() as session:
            wanted = {spec.url: spec for spec in specs}
            for source in session.exec(select(Source).where(col(Source.is_global).is_(True))):
                if source.url not in wanted:
                    source.is_global = False
                    session.add(source)
            for spec in specs:
                found = session.exec(select(Source).where(Source.url == spec.url)).first()
                source = found if found is not None else Source(url=spec.url, kind="feed")
                source.is_global = True
                source.name = spec.name or source.name or site_of(spec.url, spec.url)
                source.interval = spec.interval
                session.add(source)
            session.commit()

    def global_source(self, url: str) -> Source | None:
        """The source every chat has at this URL, if there is one."""
        with self.reading() as session:
            return session.exec(
                select(Source).where(Source.url == url, col(Source.is_global).is_(True))
            ).first()

    def get_source(self, source_id: int) -> Source | None:
        with self.reading() as session:
            return session.get(Source, source_id)

    def due_sources(self, now: datetime, limit: int = 5000) -> list[Source]:
        """Due sources that someone still needs: global ones, or ones an active chat added."""
        with self.reading() as session:
            return list(session.exec(due_first(select(Source), now, limit)).all())

    def sources_for_chat(self, chat_id: int) -> list[Source]:
        with self.reading() as session:
            linked = select(ChatSource.source_id).where(ChatSource.chat_id == chat_id)
            statement = (
                select(Source)
                .where(col(Source.is_global).is_(True) | col(Source.id).in_(linked))
                .order_by(col(Source.is_global).desc(), col(Source.id))
            )
            return list(session.exec(statement).all())

    def chats_for_source(self, source_id: int) -> set[int] | None:
        """Chats whose topics a source serves; None means every chat (a global source)."""
        with self.reading() as session:
            source = session.get(Source, source_id)
            if source is None or source.is_global:
                return None
            return set(
                session.exec(select(ChatSource.chat_id).where(ChatSource.source_id == source_id))
            )

    def record_poll(self, record: PollRecord) -> None:
        self.record_polls([record])

    def record_polls(self, records: Sequence[PollRecord]) -> None:
        """Successful polls, in one transaction: most are 304s that change nothing else."""
        if not records:
            return
        table = Source.__table__  # type: ignore[attr-defined]
        c = table.c
        statement = (
            update(table)
            .where(c.id == bindparam("b_id"))
            .values(
                polls=c.polls + 1,
                not_modified_count=c.not_modified_count + bindparam("b_not_modified"),
                etag=bindparam("b_etag", type_=c.etag.type),
                last_modified=bindparam("b_last_modified", type_=c.last_modified.type),
                last_success_at=bindparam("b_at", type_=c.last_success_at.type),
                error_streak=0,
                next_check_at=bindparam("b_next", type_=c.next_check_at.type),
                initialized=True,
                current_interval=func.coalesce(
                    bindparam("b_interval", type_=c.current_interval.type), c.current_interval
                ),
                server_floor=bindparam("b_floor", type_=c.server_floor.type),
                kind=func.coalesce(bindparam("b_kind", type_=c.kind.type), c.kind),
                name=case(
                    (c.name == "", func.coalesce(bindparam("b_name", type_=c.name.type), c.name)),
                    else_=c.name,
                ),
            )
        )
        params = [
            {
                "b_id": r.source_id,
                "b_not_modified": int(r.not_modified),
                "b_etag": r.etag,
                "b_last_modified": r.last_modified,
                "b_at": r.at,
                "b_next": r.next_check_at,
                "b_interval": r.current_interval or None,
                "b_floor": r.server_floor,
                "b_kind": r.kind or None,
                "b_name": r.name[:200] if r.name else None,
            }
            for r in records
        ]
        listings = {r.source_id: r.listing for r in records if r.listing is not None}
        with self.session() as session:
            session.connection().execute(statement, params)
            if listings:
                session.exec(
                    delete(SourceListing).where(col(SourceListing.source_id).in_(list(listings)))
                )
                rows = [{"source_id": k, "digests": v} for k, v in listings.items() if v]
                if rows:
                    session.connection().execute(SourceListing.__table__.insert(), rows)  # type: ignore[attr-defined]
            for record in records:
                if record.new_url:
                    self._move_url(session, record.source_id, record.new_url)
            session.commit()

    @staticmethod
    def _move_url(session: Session, source_id: int, new_url: str) -> None:
        clash = session.exec(select(Source.id).where(Source.url == new_url)).first()
        if clash is None:
            session.exec(update(Source).where(col(Source.id) == source_id).values(url=new_url))

    def listing(self, source_id: int) -> bytes:
        """The digests of the entries the source listed at its last read, or b""."""
        with self.reading() as session:
            found = session.get(SourceListing, source_id)
            return found.digests if found is not None else b""

    def set_source_kind(self, source_id: int, kind: str) -> None:
        with self.session() as session:
            session.exec(update(Source).where(col(Source.id) == source_id).values(kind=kind))
            session.commit()

    def move_source(self, source_id: int, new_url: str) -> bool:
        """Point a source at another URL (its feed), unless that URL is a source already."""
        with self.session() as session:
            if session.exec(select(Source.id).where(Source.url == new_url)).first() is not None:
                return False
            session.exec(
                update(Source)
                .where(col(Source.id) == source_id)
                .values(
                    url=new_url, kind="feed", etag=None, last_modified=None, next_check_at=utcnow()
                )
            )
            session.commit()
            return True

    def add_chat_source(
        self,
        chat_id: int,
        url: str,
        *,
        name: str = "",
        kind: str = "feed",
        topic_id: int | None = None,
        limit: int = 50,
    ) -> tuple[Source, bool]:
        """Link a chat to a source (creating it if new); returns it and whether the link is new."""
        with self.session() as session:
            source = session.exec(select(Source).where(Source.url == url)).first()
            if source is None:
                source = Source(url=url, name=name[:200], kind=kind, topic_id=topic_id)
                session.add(source)
                session.flush()
            assert source.id is not None
            if session.get(ChatSource, (chat_id, source.id)) is not None:
                session.commit()
                return source, False
            if kind != "search":
                count = session.exec(
                    select(func.count())
                    .select_from(ChatSource)
                    .join(Source, col(Source.id) == col(ChatSource.source_id))
                    .where(ChatSource.chat_id == chat_id, Source.kind != "search")
                ).one()
                if count >= limit:
                    raise QuotaExceeded("sources", limit, count)
            number = numbers.next_source_number(session, chat_id)
            session.add(ChatSource(chat_id=chat_id, source_id=source.id, number=number))
            session.commit()
            session.refresh(source)
            return source, True

    def remove_chat_source(self, chat_id: int, wanted: str) -> Source | None:
        """Unlink a chat's source by its number or URL."""
        with self.session() as session:
            linked = select(ChatSource.source_id).where(ChatSource.chat_id == chat_id)
            statement = select(Source).where(col(Source.id).in_(linked))
            key = wanted.strip().lstrip("#")
            source = None
            if key.isdigit() and len(key) < 10:
                link = session.exec(
                    select(ChatSource).where(
                        ChatSource.chat_id == chat_id, ChatSource.number == int(key)
                    )
                ).first()
                source = session.get(Source, link.source_id) if link is not None else None
            if source is None:
                source = session.exec(statement.where(Source.url == wanted.strip())).first()
            if source is None or source.id is None:
                return None
            link = session.get(ChatSource, (chat_id, source.id))
            if link is not None:
                session.delete(link)
            session.commit()
            return source

    def unlink_sources(self, chat_id: int, urls: Sequence[str]) -> None:
        """Stop polling these sources for a chat (a removed topic's search feeds)."""
        with self.session() as session:
            ids = session.exec(select(Source.id).where(col(Source.url).in_(list(urls)))).all()
            if ids:
                session.exec(
                    delete(ChatSource).where(
                        col(ChatSource.chat_id) == chat_id, col(ChatSource.source_id).in_(ids)
                    )
                )
            session.commit()

    def record_poll_error(
        self, source_id: int, error: str, *, next_check_at: datetime, retire: bool = False
    ) -> int:
        with self.session() as session:
            source = session.get(Source, source_id)
            if source is None:
                return 0
            source.polls += 1
            source.error_streak += 1
            source.last_error = error[:500]
            source.last_error_at = utcnow()
            source.next_check_at = next_check_at
            source.retired = source.retired or retire
            session.add(source)
            session.commit()
            return source.error_streak
