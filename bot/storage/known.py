"""Items recorded only to be known: a source's first poll, in a few statements.

A first poll alerts nobody, so its items need no fold decision: each new one starts a story of
its own, and its keys make sure it never alerts later. A copy of something stored joins no
timeline: nobody was told of it from this source.
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


def record_known(
    session: Session, source_id: int, candidates: Sequence[Candidate]
) -> list[NewItem]:
    """Record every candidate: one whose keys are all new as an item and a story of its own,
    one with a key seen before (a copy, or a repeat within the feed) by its new keys, which
    then point to the item seen. Returns the new items, in their order."""
    keyed = [(c, list(dict.fromkeys(k for k in c.keys if k))) for c in candidates]
    seen = _seen_items(session, [key for _, keys in keyed for key in keys])
    fresh: list[tuple[Candidate, list[str]]] = []
    copies: list[tuple[str, list[str]]] = []  # (a seen key, the candidate's new keys)
    for candidate, keys in keyed:
        known = [key for key in keys if key in seen]
        if known:
            copies.append((known[0], [key for key in keys if key not in seen]))
        elif keys:
            fresh.append((candidate, keys))
        seen.update(dict.fromkeys(keys, None))  # a repeat below is a copy of this one
    now = utcnow()
    story_ids = _insert_many(session, Story, [_story_row(c, now) for c, _ in fresh])
    item_ids = _insert_many(
        session,
        Item,
        [_item_row(c, source_id, sid, now) for (c, _), sid in zip(fresh, story_ids, strict=True)],
    )
    for (_, keys), item_id in zip(fresh, item_ids, strict=True):
        seen.update(dict.fromkeys(keys, item_id))
    key_rows = [
        {"key": key, "item_id": item_id, "seen_at": now}
        for (_, keys), item_id in zip(fresh, item_ids, strict=True)
        for key in keys
    ]
    key_rows += [
        {"key": key, "item_id": seen[known], "seen_at": now}
        for known, keys in copies
        for key in keys
    ]
    insert_ignore(session, SeenKey, key_rows)
    insert_ignore(
        session,
        StoryBand,
        [
            {"band": band, "story_id": story_id, "seen_at": now}
            for (candidate, _), story_id in zip(fresh, story_ids, strict=True)
            if candidate.signature is not None
            for band in candidate.signature.bands
        ],
    )
    return [
        NewItem(item_id, candidate.item, story_id)
        for (candidate, _), (item_id, story_id) in zip(
            fresh, zip(item_ids, story_ids, strict=True), strict=True
        )
    ]


def _seen_items(session: Session, keys: list[str]) -> dict[str, int | None]:
    """The stored keys among these, each with the item it points to."""
    seen: dict[str, int | None] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        rows = session.exec(
            select(SeenKey.key, SeenKey.item_id).where(col(SeenKey.key).in_(chunk))
        ).all()
        seen.update((key, item_id) for key, item_id in rows)
    return seen


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
    if not rows:
        return []
    table = model.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in session.connection().execute(statement, rows).scalars().all()]
