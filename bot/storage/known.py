"""Items recorded only to be known: a source's first poll, in a few statements.

A first poll alerts nobody, so its items need no fold decision: each new one starts a story of
its own, and its keys make sure it never alerts later. Items with a key seen before (a copy
of something stored, or a repeat within the feed) are left to the caller's per-item path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from bot.storage.models import Item, SeenKey, Story, StoryBand
from bot.storage.rows import Candidate, NewItem, insert_ignore, utcnow

LOOKUP_CHUNK = 500  # keys per IN (...) lookup


def record_unseen(
    session: Session, source_id: int, candidates: Sequence[Candidate]
) -> tuple[list[NewItem], list[Candidate]]:
    """Insert every candidate none of whose keys is known, each as its own story; returns the
    new items and the candidates left for the per-item path, in their order."""
    keyed = [(c, list(dict.fromkeys(k for k in c.keys if k))) for c in candidates]
    wanted = [key for _, keys in keyed for key in keys]
    seen: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        seen.update(session.exec(select(SeenKey.key).where(col(SeenKey.key).in_(chunk))).all())
    fresh: list[tuple[Candidate, list[str]]] = []
    rest: list[Candidate] = []
    for candidate, keys in keyed:
        if not keys:
            continue
        if seen.intersection(keys):
            rest.append(candidate)
            continue
        seen.update(keys)
        fresh.append((candidate, keys))
    if not fresh:
        return [], rest
    now = utcnow()
    story_ids = _insert_many(session, Story, [_story_row(c, now) for c, _ in fresh])
    item_ids = _insert_many(
        session,
        Item,
        [_item_row(c, source_id, sid, now) for (c, _), sid in zip(fresh, story_ids, strict=True)],
    )
    insert_ignore(
        session,
        SeenKey,
        [
            {"key": key, "item_id": item_id, "seen_at": now}
            for (_, keys), item_id in zip(fresh, item_ids, strict=True)
            for key in keys
        ],
    )
    insert_ignore(
        session,
        StoryBand,
        [
            {"band": band, "story_id": story_id, "seen_at": now}
            for (c, _), story_id in zip(fresh, story_ids, strict=True)
            if c.signature is not None
            for band in c.signature.bands
        ],
    )
    new = [
        NewItem(item_id, c.item, story_id)
        for (c, _), item_id, story_id in zip(fresh, item_ids, story_ids, strict=True)
    ]
    return new, rest


# Plain rows, every column given: building model instances would cost more than the inserts.
def _story_row(candidate: Candidate, now: datetime) -> dict[str, Any]:
    item = candidate.item
    return {
        "title": item.title[:1000],
        "url": item.url[:4000],
        "outlets": json.dumps([item.source_name[:100]]),
        "minhash": candidate.signature.minhash if candidate.signature else None,
        "created_at": now,
        "updated_at": now,
        "terms": None,
        "terms_at": None,
        "updates": 0,
    }


def _item_row(candidate: Candidate, source_id: int, story_id: int, now: datetime) -> dict[str, Any]:
    item = candidate.item
    return {
        "source_id": source_id,
        "title": item.title[:1000],
        "url": item.url[:4000],
        "guid": (item.guid or "")[:1000] or None,
        "published": item.published,
        "summary": item.summary[:2000],
        "language": (item.language or "")[:20] or None,
        "story_id": story_id,
        "seen_at": now,
    }


def _insert_many(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """INSERT the rows; their new ids in the rows' order."""
    table = model.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in session.connection().execute(statement, rows).scalars().all()]
