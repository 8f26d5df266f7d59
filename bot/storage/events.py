"""Stored announced meetings per topic, calendar subscription secrets, and topics that end."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.events import AnnouncedEvent, EventRecord, merge_report, same_event
from bot.storage.models import CalendarFeed, Chat, Delivery, Event, Item, Story, Topic
from bot.storage.store import Store

MAX_STORIES = 50  # stories whose copies count as outlets of one event
MAX_EVENTS_PER_TOPIC = 50  # a feed where every item announces something fills no more
LOOKBACK = timedelta(days=62)


@dataclass(frozen=True, slots=True)
class Recorded:
    event_id: int
    new: bool
    moved: bool


def to_record(row: Event) -> EventRecord:
    moved = (row.moved_from, row.moved_from) if row.moved_from else None
    return EventRecord(
        kind=row.kind,
        start=row.start,
        end=row.end,
        precision=row.precision,
        place=row.place,
        participants=tuple(json.loads(row.participants)),
        evidence=row.evidence,
        url=row.url,
        outlets=tuple(json.loads(row.outlets)),
        reported_at=row.reported_at,
        moved_from=moved,
        best_outlet=row.best_outlet,
    )


def _apply(row: Event, record: EventRecord) -> None:
    row.kind, row.start, row.end, row.precision = (
        record.kind,
        record.start,
        record.end,
        record.precision,
    )
    row.place = record.place
    row.participants = json.dumps(list(record.participants), ensure_ascii=False)
    row.evidence, row.url, row.best_outlet = record.evidence, record.url, record.best_outlet
    row.outlets = json.dumps(list(record.outlets), ensure_ascii=False)
    row.reported_at = record.reported_at
    if record.moved_from is not None:
        row.moved_from = record.moved_from[0]
        row.reminded = False  # a moved meeting gets its own reminder


def same_meeting_key(row: Event) -> tuple[int, date, date, str]:
    """Events of one chat's topics that are one meeting: same days and place."""
    return (row.chat_id, row.start, row.end, (row.place or "").casefold())


def _add_story(row: Event, story_id: int | None) -> None:
    stories = json.loads(row.stories or "[]")
    if story_id is not None and story_id not in stories and len(stories) < MAX_STORIES:
        row.stories = json.dumps([*stories, story_id])


def _count_copies(session: Session, rows: Sequence[Event]) -> None:
    """Fold the outlets that carried copies of the reporting stories into `outlets` (for
    display; the session only reads)."""
    wanted = {sid for row in rows for sid in json.loads(row.stories or "[]")}
    if not wanted:
        return
    stories = session.exec(select(Story).where(col(Story.id).in_(wanted))).all()
    outlets = {story.id: json.loads(story.outlets or "[]") for story in stories}
    for row in rows:
        names = list(json.loads(row.outlets))
        for sid in json.loads(row.stories or "[]"):
            names += [n for n in outlets.get(sid, []) if n not in names]
        row.outlets = json.dumps(names[:200], ensure_ascii=False)


class EventStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        topic_id: int,
        chat_id: int,
        reports: Sequence[AnnouncedEvent],
        story_id: int | None = None,
    ) -> list[Recorded]:
        """Merge each report into the topic's events, or add it while under the cap."""
        done: list[Recorded] = []
        with self.store.session() as session:
            for report in reports:
                since = report.dates.start - LOOKBACK
                rows = session.exec(
                    select(Event).where(Event.topic_id == topic_id, col(Event.end) >= since)
                ).all()
                row = next((r for r in rows if same_event(to_record(r), report)), None)
                if row is None:
                    count = session.exec(
                        select(func.count()).select_from(Event).where(Event.topic_id == topic_id)
                    ).one()
                    if count >= MAX_EVENTS_PER_TOPIC:
                        continue
                    row = Event(
                        topic_id=topic_id,
                        chat_id=chat_id,
                        start=report.dates.start,
                        end=report.dates.end,
                    )
                    _apply(row, EventRecord.from_report(report))
                    _add_story(row, story_id)
                    session.add(row)
                    session.flush()
                    assert row.id is not None
                    done.append(Recorded(row.id, True, False))
                    continue
                before = (row.start, row.end)
                merged = merge_report(to_record(row), report)
                _apply(row, merged)
                _add_story(row, story_id)
                session.add(row)
                assert row.id is not None
                done.append(Recorded(row.id, False, (row.start, row.end) != before))
            session.commit()
        return done

    def upcoming(
        self,
        chat_id: int,
        today: date,
        *,
        topic_id: int | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[Event], int]:
        """The chat's events not over yet, soonest first, and how many there are in all. A
        meeting that several of the chat's topics found is listed once."""
        with self.store.reading() as session:
            where: list[Any] = [Event.chat_id == chat_id, col(Event.end) >= today]
            if topic_id is not None:
                where.append(Event.topic_id == topic_id)
            rows = session.exec(
                select(Event)
                .where(*where)
                .order_by(col(Event.start), col(Event.id))
                .limit(MAX_EVENTS_PER_TOPIC * 100)
            ).all()
            _count_copies(session, rows)
        distinct = list({same_meeting_key(row): row for row in reversed(rows)}.values())[::-1]
        return distinct[offset : offset + limit], len(distinct)

    def calendar_secret(self, chat_id: int, *, reset: bool = False) -> str:
        with self.store.session() as session:
            feed = session.get(CalendarFeed, chat_id)
            if feed is None or reset:
                if feed is not None:
                    session.delete(feed)
                    session.flush()
                feed = CalendarFeed(chat_id=chat_id, secret=secrets.token_urlsafe(24))
                session.add(feed)
                session.commit()
            return feed.secret

    def chat_for_secret(self, secret: str) -> int | None:
        if not secret or len(secret) > 64:
            return None
        with self.store.reading() as session:
            feed = session.exec(select(CalendarFeed).where(CalendarFeed.secret == secret)).first()
            return feed.chat_id if feed else None

    def unreminded(self, first: date, last: date) -> list[tuple[Event, Chat]]:
        """Day-precise events starting between `first` and `last` with no reminder yet."""
        with self.store.reading() as session:
            rows = session.exec(
                select(Event, Chat)
                .join(Chat, col(Chat.id) == col(Event.chat_id))
                .join(Topic, col(Topic.id) == col(Event.topic_id))
                .where(
                    col(Event.reminded).is_(False),
                    Event.precision == "day",
                    col(Event.start) >= first,
                    col(Event.start) <= last,
                    col(Chat.active).is_(True),
                )
                .order_by(col(Event.start), col(Event.id))
            ).all()
            _count_copies(session, [event for event, _ in rows])
            return [(event, chat) for event, chat in rows]

    def mark_reminded(self, event_id: int) -> bool:
        """True for the caller that flips it, so each meeting is reminded once per chat (the
        same meeting found by other topics of the chat is marked with it)."""
        with self.store.session() as session:
            event = session.get(Event, event_id)
            if event is None or event.reminded:
                return False
            twins = session.exec(
                select(Event).where(
                    Event.chat_id == event.chat_id,
                    Event.start == event.start,
                    Event.end == event.end,
                    col(Event.reminded).is_(False),
                )
            ).all()
            for row in twins:
                if same_meeting_key(row) == same_meeting_key(event):
                    row.reminded = True
                    session.add(row)
            event.reminded = True
            session.add(event)
            session.commit()
            return True

    def unmark_reminded(self, event_id: int) -> None:
        """A reminder that could not go out: the next pass tries it again."""
        with self.store.session() as session:
            event = session.get(Event, event_id)
            if event is None:
                return
            for row in session.exec(
                select(Event).where(
                    Event.chat_id == event.chat_id,
                    Event.start == event.start,
                    Event.end == event.end,
                )
            ).all():
                if same_meeting_key(row) == same_meeting_key(event):
                    row.reminded = False
                    session.add(row)
            session.commit()

    def soonest_end(self, topic_id: int, today: date) -> date | None:
        with self.store.reading() as session:
            row = session.exec(
                select(Event)
                .where(Event.topic_id == topic_id, col(Event.end) >= today)
                .order_by(col(Event.start))
            ).first()
            return row.end if row else None

    def event_days(self, topic_id: int) -> tuple[date, date] | None:
        """The days of the event a topic watched `until event` ended with."""
        with self.store.reading() as session:
            topic = session.get(Topic, topic_id)
            if topic is None or topic.ends_on is None:
                return None
            row = session.exec(
                select(Event)
                .where(Event.topic_id == topic_id, Event.end == topic.ends_on)
                .order_by(col(Event.start))
            ).first()
            return (row.start, row.end) if row else (topic.ends_on, topic.ends_on)

    def watched_until(self) -> list[tuple[Topic, Chat]]:
        """Topics with an end (a date or `until event`) whose wrap-up has not been sent."""
        with self.store.reading() as session:
            rows = session.exec(
                select(Topic, Chat)
                .join(Chat, col(Chat.id) == col(Topic.chat_id))
                .where(
                    col(Topic.wrapup_sent).is_(False),
                    col(Topic.ends_on).is_not(None) | col(Topic.until_event).is_(True),
                    col(Chat.active).is_(True),
                )
            ).all()
            return [(topic, chat) for topic, chat in rows]

    def stories_between(
        self, chat_id: int, topic_id: int, since: datetime, until: datetime, limit: int = 15
    ) -> list[tuple[str, str, int]]:
        """(title, url, outlets) of the stories alerted for a topic and published in a window,
        most covered first."""
        published = func.coalesce(col(Item.published), col(Item.seen_at))
        with self.store.reading() as session:
            rows = session.exec(
                select(Delivery, Item, Story)
                .join(Item, col(Item.id) == col(Delivery.item_id))
                .join(Story, col(Story.id) == col(Delivery.story_id), isouter=True)
                .where(
                    Delivery.chat_id == chat_id,
                    Delivery.topic_id == topic_id,
                    published >= since.astimezone(UTC),
                    published < until.astimezone(UTC),
                )
                .limit(2000)
            ).all()
        found: dict[str, tuple[str, str, int]] = {}
        for delivery, item, story in rows:
            title = story.title if story else item.title
            url = story.url if story else (delivery.link or item.url)
            outlets = len(json.loads(story.outlets)) if story else 1
            key = url or title
            if key not in found or found[key][2] < outlets:
                found[key] = (title, url, max(1, outlets))
        ranked = sorted(found.values(), key=lambda s: -s[2])
        return ranked[:limit]
