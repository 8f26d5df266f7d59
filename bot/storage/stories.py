"""Story reads and writes for folding and timelines: candidates through the band and term
indexes, story states for the fold decision, a story's reports newest first. Functions over a
session, called inside the store's transactions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.dedup.stories import CANDIDATES, Fold, StoryState, centroid_from_json, centroid_json
from bot.storage.models import Delivery, Item, SeenKey, Source, Story, StoryBand, StoryTerm

POSTINGS = 50  # newest stories read per index term: a common term costs no more than a rare one
MAX_TIMELINE = 200  # reports a timeline reads at most


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    outlet: str
    title: str
    url: str
    published: datetime | None


@dataclass(frozen=True, slots=True)
class Timeline:
    story_id: int
    title: str
    total: int
    entries: list[TimelineEntry]


def candidate_ids(
    session: Session, bands: Sequence[str], terms: Sequence[str], since: datetime
) -> list[int]:
    """Recent stories that share a MinHash band or one of the report's index terms: those
    sharing bands first, then those sharing the most terms."""
    ids: list[int] = []
    if bands:
        ids = list(
            session.exec(
                select(StoryBand.story_id)
                .where(col(StoryBand.band).in_(list(bands)), col(StoryBand.seen_at) >= since)
                .distinct()
                .limit(CANDIDATES)
            ).all()
        )
    if terms:
        arms = [
            select(StoryTerm.story_id)
            .where(StoryTerm.term == term, col(StoryTerm.seen_at) >= since)
            .order_by(col(StoryTerm.seen_at).desc())
            .limit(POSTINGS)
            .subquery()
            for term in terms
        ]
        rows = session.exec(union_all(*(select(arm.c.story_id) for arm in arms))).all()  # type: ignore[call-overload]
        shared = Counter(row[0] for row in rows)
        ids += [sid for sid, _ in shared.most_common(CANDIDATES) if sid not in ids]
    return ids


def story_states(session: Session, ids: Sequence[int]) -> dict[int, tuple[Story, StoryState]]:
    if not ids:
        return {}
    rows = session.exec(select(Story).where(col(Story.id).in_(list(ids)))).all()
    out: dict[int, tuple[Story, StoryState]] = {}
    for story in rows:
        assert story.id is not None
        state = StoryState(
            id=story.id,
            outlets=tuple(outlet_names(story)),
            centroid=centroid_from_json(story.terms),
            centroid_at=story.terms_at,
            minhash=story.minhash,
        )
        out[story.id] = (story, state)
    return {sid: out[sid] for sid in ids if sid in out}


def outlet_names(story: Story) -> list[str]:
    try:
        names = json.loads(story.outlets or "[]")
    except ValueError:
        return []
    return [str(n) for n in names if isinstance(n, str | int)] if isinstance(names, list) else []


def index_terms(session: Session, story_id: int, terms: Sequence[str], at: datetime) -> None:
    """File the story under these terms; terms it is filed under already keep their time."""
    rows = [{"term": term[:64], "story_id": story_id, "seen_at": at} for term in terms]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.connection().execute(
        insert(StoryTerm.__table__).on_conflict_do_nothing(),  # type: ignore[attr-defined]
        rows,
    )


def apply_centroid(story: Story, fold: Fold) -> None:
    story.terms = centroid_json(fold.centroid)
    story.terms_at = fold.centroid_at


def story_of_key(session: Session, key: str) -> int | None:
    """The story of the item a seen key belongs to."""
    return session.exec(
        select(Item.story_id)
        .join(SeenKey, col(SeenKey.item_id) == col(Item.id))
        .where(SeenKey.key == key)
    ).first()


def chat_has_story(session: Session, chat_id: int, story_id: int) -> bool:
    found = session.exec(
        select(Delivery.id)
        .where(Delivery.chat_id == chat_id, Delivery.story_id == story_id)
        .limit(1)
    ).first()
    return found is not None


def latest_story(session: Session, chat_id: int) -> int | None:
    """The story of the latest alert queued for this chat."""
    return session.exec(
        select(Delivery.story_id)
        .where(Delivery.chat_id == chat_id, col(Delivery.story_id).is_not(None))
        .order_by(col(Delivery.id).desc())
        .limit(1)
    ).first()


def timeline(session: Session, story_id: int, limit: int, offset: int = 0) -> Timeline | None:
    """The story's reports, newest first: `limit` of them from `offset`."""
    story = session.get(Story, story_id)
    if story is None:
        return None
    total = session.exec(
        select(func.count()).select_from(Item).where(Item.story_id == story_id)
    ).one()
    limit = max(0, min(limit, MAX_TIMELINE))
    rows = session.exec(
        select(Item, Source.name)
        .join(Source, col(Source.id) == col(Item.source_id), isouter=True)
        .where(Item.story_id == story_id)
        .order_by(func.coalesce(Item.published, Item.seen_at).desc(), col(Item.id).desc())
        .offset(max(0, offset))
        .limit(limit)
    ).all()
    entries = [
        TimelineEntry(outlet=name or "", title=item.title, url=item.url, published=item.published)
        for item, name in rows
    ]
    return Timeline(story_id, story.title, int(total), entries)
