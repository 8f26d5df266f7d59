"""All database reads and writes. Methods are synchronous and short; async callers use to_thread."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from threading import RLock
from typing import Any

from sqlalchemy import bindparam, case, delete, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import domain
from bot.config import SourceSpec
from bot.dedup.stories import (
    Fold,
    FoldKind,
    Report,
    StoryState,
    centroid_json,
    decide,
    query_terms,
    start_centroid,
)
from bot.storage import numbers
from bot.storage import stories as story_rows
from bot.storage.db import READ_ONLY
from bot.storage.known import record_known
from bot.storage.models import (
    Chat,
    ChatSource,
    Delivery,
    Feedback,
    Item,
    SeenKey,
    Source,
    SourceListing,
    Story,
    StoryBand,
    StoryTerm,
    Topic,
    utcnow,
)
from bot.storage.rows import Candidate, NewItem, insert_ignore

STORY_WINDOW = timedelta(days=7)
WAITING = ("pending", "held", "digest")  # delivery states not yet sent
STORY_FOLD_LOCK = 0x5357_5346  # PostgreSQL advisory lock key ("SWSF")


class QuotaExceeded(Exception):
    pass


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


class Store:
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

    # -- chats ---------------------------------------------------------------

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

    # -- topics --------------------------------------------------------------

    def add_topic(
        self, chat_id: int, query: str, *, thread_id: int | None = None, limit: int = 50
    ) -> Topic:
        with self.session() as session:
            count = session.exec(
                select(func.count()).select_from(Topic).where(Topic.chat_id == chat_id)
            ).one()
            if count >= limit:
                raise QuotaExceeded(f"This chat already watches {count} topics (the limit).")
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

    # -- sources -------------------------------------------------------------

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
                source.name = spec.name or source.name or _host_name(spec.url)
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
            linked = (
                select(ChatSource.source_id)
                .join(Chat, col(Chat.id) == col(ChatSource.chat_id))
                .where(col(Chat.active).is_(True))
            )
            statement = (
                select(Source)
                .where(
                    col(Source.retired).is_(False),
                    col(Source.next_check_at) <= now,
                    col(Source.is_global).is_(True) | col(Source.id).in_(linked),
                )
                .order_by(col(Source.next_check_at))
                .limit(limit)
            )
            return list(session.exec(statement).all())

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
                    raise QuotaExceeded(f"This chat already has {count} sources (the limit).")
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

    # -- items and what has been seen ----------------------------------------

    def claim_new_items(
        self,
        source_id: int,
        candidates: Iterable[Candidate | tuple[domain.Item, list[str]]],
        route: Callable[[NewItem], Sequence[OutboxRow]] | None = None,
        *,
        window: timedelta = STORY_WINDOW,
        decide: FoldRule = decide,
        record_only: bool = False,
    ) -> Ingested:
        """Fold each item into its story and queue alerts for new stories, in one transaction,
        so a crash can neither lose nor repeat them.

        An item whose guid, URL or title was seen is the same item or an exact copy. Otherwise
        `decide` is given the recent stories that share a MinHash band or an index term with
        it, and says which one it belongs to and how (see bot.dedup.stories); this method only
        carries the decision out. Reports from other outlets and follow-ups mark the story's
        sent alerts for an edit. Keys are unique in the database, so two pollers racing on
        copies cannot both claim a story.

        With `record_only` (a source's first poll, which alerts nobody) the items are only
        recorded as known, in a few statements: see `bot.storage.known`.
        """
        claimed: list[NewItem] = []
        alerts = updates = 0
        wanted = [raw if isinstance(raw, Candidate) else Candidate(*raw) for raw in candidates]
        with self.session() as session:
            if (
                route is not None
                and session.get_bind().dialect.name == "postgresql"
                and any(_may_fold(c) for c in wanted)
            ):
                # New stories that may alert are folded one transaction at a time, as SQLite's
                # single writer does: two workers holding reports of one story (different keys)
                # cannot both miss each other's story and alert twice. A first poll alerts
                # nobody and needs no turn.
                session.exec(select(func.pg_advisory_xact_lock(STORY_FOLD_LOCK)))
            if record_only:
                claimed, wanted = record_known(session, source_id, wanted), []
            for candidate in wanted:
                item = candidate.item
                keys = list(dict.fromkeys(k for k in candidate.keys if k))
                if not keys:
                    continue
                seen = session.exec(
                    select(SeenKey.key, SeenKey.item_id).where(col(SeenKey.key).in_(keys))
                ).all()
                if seen:
                    known = {key for key, _ in seen}
                    seen_id = next((found for _, found in seen if found), None)
                    fresh = [k for k in keys if k not in known]
                    self._remember_keys(session, fresh, seen_id)
                    updates += self._fold_known(session, source_id, item, seen_id, bool(fresh))
                    continue
                nested = session.begin_nested()
                try:
                    fold, story = self._decide_fold(session, candidate, utcnow() - window, decide)
                    new, changed = self._store_item(
                        session, source_id, replace(candidate, keys=keys), fold, story
                    )
                    if new is not None and fold is None:
                        if route is not None:
                            alerts += insert_ignore(
                                session, Delivery, _outbox_values(route(new), new.story_id)
                            )
                        claimed.append(new)
                    elif new is not None and route is not None:
                        alerts += self._route_folded(session, new, route)
                    updates += changed
                    nested.commit()
                except IntegrityError:
                    nested.rollback()
            session.commit()
        return Ingested(claimed, alerts, updates)

    @staticmethod
    def _decide_fold(
        session: Session, candidate: Candidate, since: datetime, decide: FoldRule
    ) -> tuple[Fold | None, Story | None]:
        report = candidate.report or Report(
            candidate.item.source_name[:100], utcnow(), {}, candidate.signature
        )
        if report.signature is None:
            report = replace(report, signature=candidate.signature)
        bands = candidate.signature.bands if candidate.signature else ()
        ids = story_rows.candidate_ids(session, bands, query_terms(report), since)
        states = story_rows.story_states(session, ids)
        fold = decide(report, [state for _, state in states.values()])
        if fold is None or fold.story_id not in states:
            return None, None
        return fold, states[fold.story_id][0]

    def _store_item(
        self,
        session: Session,
        source_id: int,
        candidate: Candidate,
        fold: Fold | None,
        story: Story | None,
    ) -> tuple[NewItem | None, int]:
        """Insert the item (and its story when it starts one); returns the item, unless it was
        a copy (nothing to route), and how many alerts' stories changed."""
        item, signature, report = candidate.item, candidate.signature, candidate.report
        now = utcnow()
        if story is None or fold is None:
            centroid, index = start_centroid(report) if report else ({}, ())
            story_id = _insert_row(
                session,
                Story(
                    title=item.title[:1000],
                    url=item.url[:4000],
                    outlets=json.dumps([item.source_name[:100]]),
                    minhash=signature.minhash if signature else None,
                    terms=centroid_json(centroid) if centroid else None,
                    terms_at=report.at if report and centroid else None,
                ),
            )
        else:
            assert story.id is not None
            story_id, index = story.id, fold.index_terms
            if fold.centroid:
                story_rows.apply_centroid(story, fold)
                session.add(story)
        item_id = _insert_row(
            session,
            Item(
                source_id=source_id,
                title=item.title[:1000],
                url=item.url[:4000],
                guid=(item.guid or "")[:1000] or None,
                published=item.published,
                summary=item.summary[:2000],
                language=(item.language or "")[:20] or None,
                story_id=story_id,
            ),
        )
        session.connection().execute(
            SeenKey.__table__.insert(),  # type: ignore[attr-defined]
            [{"key": key, "item_id": item_id, "seen_at": now} for key in candidate.keys],
        )
        if signature is not None:
            insert_ignore(
                session,
                StoryBand,
                [{"band": band, "story_id": story_id, "seen_at": now} for band in signature.bands],
            )
        story_rows.index_terms(session, story_id, index, now)
        if story is None or fold is None:
            return NewItem(item_id, item, story_id), 0
        folded = NewItem(item_id, item, story_id)
        if fold.kind is FoldKind.REPORT:
            return folded, self._add_outlet(session, story, item.source_name)
        if fold.kind is FoldKind.UPDATE:
            story.updates = (story.updates or 0) + 1
            return folded, self._story_changed(session, story)
        return None, 0

    @staticmethod
    def _route_folded(
        session: Session, folded: NewItem, route: Callable[[NewItem], Sequence[OutboxRow]]
    ) -> int:
        """A report folded into a story alerts the chats its own words match that had no alert
        of the story: folding never hides a story from a topic."""
        rows = route(folded)
        if not rows:
            return 0
        alerted = set(
            session.exec(
                select(Delivery.chat_id).where(
                    Delivery.story_id == folded.story_id,
                    col(Delivery.chat_id).in_([row.chat_id for row in rows]),
                )
            ).all()
        )
        fresh = [row for row in rows if row.chat_id not in alerted]
        return insert_ignore(session, Delivery, _outbox_values(fresh, folded.story_id))

    def _fold_known(
        self,
        session: Session,
        source_id: int,
        item: domain.Item,
        item_id: int | None,
        fresh: bool = False,
    ) -> int:
        """A seen item again: a copy at another outlet, or the same item with a new title.
        A copy seen for the first time (`fresh` keys) joins its story's timeline."""
        existing = session.get(Item, item_id) if item_id else None
        if existing is None or existing.story_id is None:
            return 0
        story = session.get(Story, existing.story_id)
        if story is None:
            return 0
        if existing.source_id != source_id:
            if fresh:
                _insert_row(
                    session,
                    Item(
                        source_id=source_id,
                        title=item.title[:1000],
                        url=item.url[:4000],
                        published=item.published,
                        summary=item.summary[:2000],
                        language=(item.language or "")[:20] or None,
                        story_id=story.id,
                    ),
                )
            return self._add_outlet(session, story, item.source_name)
        if item.title and item.url == existing.url and item.title != existing.title:
            existing.title = item.title[:1000]
            session.add(existing)
            if story.url == existing.url:
                story.title = existing.title
                return self._story_changed(session, story)
        return 0

    def _add_outlet(self, session: Session, story: Story, outlet: str) -> int:
        outlets = json.loads(story.outlets or "[]")
        name = outlet[:100] or "another outlet"
        if name in outlets:
            return 0
        story.outlets = json.dumps([*outlets, name][:200])
        return self._story_changed(session, story)

    @staticmethod
    def _story_changed(session: Session, story: Story) -> int:
        story.updated_at = utcnow()
        session.add(story)
        session.exec(
            update(Delivery)
            .where(col(Delivery.story_id) == story.id, col(Delivery.muted).is_(False))
            .values(edit_due=True)
        )
        return 1

    def story_of_key(self, key: str) -> int | None:
        with self.reading() as session:
            return story_rows.story_of_key(session, key)

    def latest_story(self, chat_id: int) -> int | None:
        with self.reading() as session:
            return story_rows.latest_story(session, chat_id)

    def story_timeline(
        self, chat_id: int, story_id: int, limit: int, offset: int = 0
    ) -> story_rows.Timeline | None:
        """A story's reports, newest first, for a chat that got an alert of it; else None."""
        with self.reading() as session:
            if not story_rows.chat_has_story(session, chat_id, story_id):
                return None
            return story_rows.timeline(session, story_id, limit, offset)

    def seen_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        with self.reading() as session:
            return set(
                session.exec(select(SeenKey.key).where(col(SeenKey.key).in_(list(keys)))).all()
            )

    def remember_keys(self, keys: Iterable[str]) -> None:
        with self.session() as session:
            self._remember_keys(session, list(keys))
            session.commit()

    @staticmethod
    def _remember_keys(session: Session, keys: list[str], item_id: int | None = None) -> None:
        keys = [k for k in dict.fromkeys(keys) if k]
        if keys:
            now = utcnow()
            insert_ignore(
                session, SeenKey, [{"key": k, "item_id": item_id, "seen_at": now} for k in keys]
            )

    def prune_story_bands(self, older_than: datetime) -> int:
        """Bands and index terms outside the story window can no longer match anything."""
        with self.session() as session:
            removed = session.exec(delete(StoryBand).where(col(StoryBand.seen_at) < older_than))
            session.exec(delete(StoryTerm).where(col(StoryTerm.seen_at) < older_than))
            session.commit()
            return int(removed.rowcount or 0)

    def prune_items(self, older_than: datetime, batch: int = 1000) -> int:
        """Delete old items in batches; their seen keys stay so they never come back."""
        removed = 0
        while True:
            with self.session() as session:
                ids = session.exec(
                    select(Item.id).where(col(Item.seen_at) < older_than).limit(batch)
                ).all()
                if not ids:
                    return removed
                session.exec(
                    update(SeenKey).where(col(SeenKey.item_id).in_(ids)).values(item_id=None)
                )
                session.exec(
                    delete(Delivery).where(
                        col(Delivery.item_id).in_(ids), col(Delivery.status) != "pending"
                    )
                )
                session.exec(delete(Item).where(col(Item.id).in_(ids)))
                session.commit()
                removed += len(ids)

    # -- outbox ----------------------------------------------------------------

    def enqueue(self, rows: Sequence[OutboxRow]) -> int:
        if not rows:
            return 0
        with self.session() as session:
            inserted = insert_ignore(session, Delivery, _outbox_values(rows))
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

    def _update_delivery(self, delivery_id: int, **values: Any) -> None:
        with self.session() as session:
            session.exec(update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))
            session.commit()

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

    # -- subscriber management: channels, export and import, operators ------------------

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
        updated, sources added); QuotaExceeded("topics" | "sources", total) when a limit
        would be passed.
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
                raise QuotaExceeded("topics", len(existing) + len(fresh))
            linked = set(
                session.exec(select(ChatSource.source_id).where(ChatSource.chat_id == chat_id))
            )
            own = session.exec(
                select(func.count())
                .select_from(ChatSource)
                .join(Source, col(Source.id) == col(ChatSource.source_id))
                .where(ChatSource.chat_id == chat_id, Source.kind != "search")
            ).one()
            to_link: list[Source] = []
            for url, name, kind in sources:
                source = session.exec(select(Source).where(Source.url == url)).first()
                if source is None:
                    source = Source(url=url, name=name[:200], kind=kind)
                    session.add(source)
                    session.flush()
                if source.id not in linked and source not in to_link:
                    to_link.append(source)
            if own + len(to_link) > source_limit:
                raise QuotaExceeded("sources", own + len(to_link))
            number = numbers.next_source_number(session, chat_id)
            for source in to_link:
                assert source.id is not None
                session.add(ChatSource(chat_id=chat_id, source_id=source.id, number=number))
                number += 1
                linked.add(source.id)
            topic_number = numbers.next_topic_number(session, chat_id)
            updated = 0
            for query, mode, active in topics:
                topic = existing.get(query.casefold())
                if topic is not None:
                    updated += int((topic.mode, topic.active) != (mode, active))
                    topic.mode, topic.active = mode, active
                    session.add(topic)
                    continue
                topic = Topic(
                    chat_id=chat_id,
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
                    search = session.exec(select(Source).where(Source.url == url)).first()
                    if search is None:
                        search = Source(url=url, name=name[:200], kind="search", topic_id=topic.id)
                        session.add(search)
                        session.flush()
                    assert search.id is not None
                    if search.id not in linked:
                        session.add(ChatSource(chat_id=chat_id, source_id=search.id, number=number))
                        number += 1
                        linked.add(search.id)
            for name, value in settings.items():
                setattr(chat, name, value)
            session.add(chat)
            session.commit()
            return len(fresh), updated, len(to_link)


def _may_fold(candidate: Candidate) -> bool:
    """Whether the item could fold into a story by measure (not only by its keys)."""
    if candidate.signature is not None and candidate.signature.bands:
        return True
    return candidate.report is not None and bool(query_terms(candidate.report))


def _insert_row(session: Session, row: Any) -> int:
    """INSERT one new row without the unit of work (much cheaper per row); returns its id."""
    table = type(row).__table__
    values = row.model_dump(exclude={"id"})
    return int(
        session.connection().execute(table.insert().returning(table.c.id), values).scalar_one()
    )


def _outbox_values(rows: Sequence[OutboxRow], story_id: int | None = None) -> list[dict[str, Any]]:
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


def _host_name(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or url).removeprefix("www.")
