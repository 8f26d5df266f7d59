"""Items and what has been seen: claiming, folding into stories, pruning."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import domain
from bot.dedup.stories import (
    Fold,
    FoldKind,
    Report,
    centroid_json,
    decide,
    query_terms,
    start_centroid,
)
from bot.storage import stories as story_rows
from bot.storage.base import StoreBase
from bot.storage.known import record_known
from bot.storage.models import (
    Delivery,
    Item,
    SeenKey,
    Story,
    StoryBand,
    StoryTerm,
    utcnow,
)
from bot.storage.rows import (
    STORY_FOLD_LOCK,
    STORY_WINDOW,
    AlertDraft,
    Alerts,
    Candidate,
    FoldRule,
    Ingested,
    NewItem,
    insert_ignore,
    insert_row,
    may_fold,
    outbox_values,
)


class FoldRows(StoreBase):
    def claim_new_items(
        self,
        source_id: int,
        candidates: Iterable[Candidate | tuple[domain.Item, list[str]]],
        alerts: Alerts | None = None,
        *,
        window: timedelta = STORY_WINDOW,
        decide: FoldRule = decide,
        record_only: bool = False,
    ) -> Ingested:
        """Fold each item into its story and queue alerts for new stories, in one transaction,
        so a crash can neither lose nor repeat them.

        `alerts` are the chats' alerts of each candidate, by its position, decided before the
        transaction; None alerts nobody. This method only gives them the item and its story.

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
        queued = updates = 0
        wanted = [raw if isinstance(raw, Candidate) else Candidate(*raw) for raw in candidates]
        with self.session() as session:
            if (
                alerts is not None
                and session.get_bind().dialect.name == "postgresql"
                and any(may_fold(c) for c in wanted)
            ):
                # New stories that may alert are folded one transaction at a time, as SQLite's
                # single writer does: two workers holding reports of one story (different keys)
                # cannot both miss each other's story and alert twice. A first poll alerts
                # nobody and needs no turn.
                session.exec(select(func.pg_advisory_xact_lock(STORY_FOLD_LOCK)))
            if record_only:
                claimed, wanted = record_known(session, source_id, wanted), []
            for position, candidate in enumerate(wanted):
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
                    drafts = alerts.get(position, ()) if alerts is not None else ()
                    if new is not None and fold is None:
                        queued += insert_ignore(
                            session, Delivery, outbox_values(new.rows(drafts), new.story_id)
                        )
                        claimed.append(new)
                    elif new is not None:
                        queued += self._route_folded(session, new, drafts)
                    updates += changed
                    nested.commit()
                except IntegrityError:
                    nested.rollback()
            session.commit()
        return Ingested(claimed, queued, updates)

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
            story_id = insert_row(
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
        item_id = insert_row(
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
    def _route_folded(session: Session, folded: NewItem, drafts: Sequence[AlertDraft]) -> int:
        """A report folded into a story alerts the chats its own words match that had no alert
        of the story: folding never hides a story from a topic."""
        rows = folded.rows(drafts)
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
        return insert_ignore(session, Delivery, outbox_values(fresh, folded.story_id))

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
                insert_row(
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
