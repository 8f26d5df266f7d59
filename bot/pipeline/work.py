"""What a poll does with a fetched feed once it holds the body: read it (parse, leave out
what was seen, normalize) and claim its new items (fold them into stories, then route
them to the chats whose topics match). Synchronous work over the store; `lanes` runs it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot import domain
from bot.dedup.stories import Report, report_of
from bot.domain import FeedEntry, FetchResult
from bot.events.extract import MAX_TEXT, extract_events, meeting_kind
from bot.match import (
    NO_ALIASES,
)
from bot.pipeline import routing
from bot.pipeline.keys import entry_keys, item_keys
from bot.pipeline.topics import TopicCache
from bot.sources.normalize import normalize_entry
from bot.sources.parse import parse_response
from bot.sources.search import unwrap_search_link
from bot.storage.events import EventStore
from bot.storage.models import Source, utcnow
from bot.storage.store import STORY_WINDOW, Candidate, NewItem, Store

log = logging.getLogger(__name__)

THIN_TEXT = 200  # a title and a line: too little to match or summarize well


@dataclass(frozen=True, slots=True)
class SourceRef:
    """What the work on a fetched body needs to know of its source."""

    id: int
    url: str
    name: str | None
    kind: str
    initialized: bool
    is_global: bool

    @classmethod
    def of(cls, source: Source) -> SourceRef:
        assert source.id is not None
        return cls(
            source.id, source.url, source.name, source.kind, source.initialized, source.is_global
        )


@dataclass(frozen=True, slots=True)
class Claimed:
    new_items: int
    alerts: int = 0
    story_updates: int = 0


@dataclass(frozen=True, slots=True)
class FeedReading:
    parsed: domain.ParsedFeed  # without its entries, which `published` and `items` stand for
    published: list[datetime | None]  # one per entry parsed
    items: list[domain.Item]  # normalized entries not seen before at this source
    claimed: Claimed | None = None  # set when the items were claimed at once (then left out)

    def needs_poller(self, source: SourceRef, *, full_text: bool) -> bool:
        """Whether the poller must see this reading before its items are claimed: it is no
        feed (a page, or an error), or new items are too thin and their articles are due."""
        if not self.published and (self.parsed.error or not self.parsed.is_feed):
            return True
        return (
            full_text
            and source.initialized
            and any(len(item.text) < THIN_TEXT and item.url for item in self.items)
        )


class FeedWork:
    """Reading and claiming, over one store and one set of compiled topics."""

    def __init__(
        self, store: Store, topics: TopicCache, *, story_window: timedelta = STORY_WINDOW
    ) -> None:
        self.store = store
        self.topics = topics
        self.story_window = story_window
        # dateparser loads its language data on first use (about two seconds); do it now
        # rather than in the middle of the first claim that names a meeting.
        extract_events("Talks on Friday", "", utcnow())

    def read(self, source: SourceRef, result: FetchResult) -> FeedReading:
        """Parse the body, leaving out entries listed unchanged since the last poll, and
        normalize the entries not seen before."""
        listed = self.store.listing(source.id) if source.initialized else b""
        parsed = parse_response(result, listed)
        entries = parsed.entries
        if source.kind == "search":
            entries = [replace(entry, link=unwrap_search_link(entry.link)) for entry in entries]
        entries = [entry for entry in entries if entry.link or entry.title]
        if source.initialized and entries:
            entries = self._changed_entries(source.url, entries)
        name = source.name or parsed.title or ""
        brief = not source.initialized
        items = [
            normalize_entry(e, source_url=source.url, source_name=name, brief=brief)
            for e in entries
        ]
        published = [entry.published for entry in parsed.entries]
        return FeedReading(replace(parsed, entries=[]), published, items)

    def read_and_claim(
        self, source: SourceRef, result: FetchResult, *, full_text: bool
    ) -> FeedReading:
        """`read`, and claim the items at once unless the poller must see them first."""
        reading = self.read(source, result)
        if reading.needs_poller(source, full_text=full_text):
            return reading
        return replace(reading, items=[], claimed=self.claim(source, reading.items))

    def _changed_entries(self, source_url: str, entries: list[FeedEntry]) -> list[FeedEntry]:
        """Entries worth normalizing: all but those the feed lists again unchanged (their own
        guid, URL and title all seen), found with one query before any text work."""
        keyed = [(entry, entry_keys(source_url, entry)) for entry in entries]
        seen = self.store.seen_keys([key for _, keys in keyed for key in keys])
        return [
            entry for entry, keys in keyed if not (entry.guid and keys and seen.issuperset(keys))
        ]

    def claim(self, source: SourceRef, items: list[domain.Item]) -> Claimed:
        """Fold the items into stories; on a source's first poll they alert nobody.

        A first poll's items are only recorded as known, by their keys: terms and signatures
        would cost most of the poll, and a later report of one of their stories alerts its
        topics anyway, folded or not."""
        aliases = self.topics.term_aliases
        if not source.initialized:
            reports = [report_of(item, aliases, only_keys=True) for item in items]
            first = self.store.claim_new_items(
                source.id, self.candidates(items, reports), record_only=True
            )
            return Claimed(len(first.claimed))
        found = [routing.matches(self.topics, item) for item in items]
        reports = [
            report_of(item, aliases, subject=routing.subject_terms(matched))
            for item, matched in zip(items, found, strict=True)
        ]
        audience = None if source.is_global else self.store.chats_for_source(source.id)
        alerts = {
            position: drafts
            for position, (item, matched) in enumerate(zip(items, found, strict=True))
            if (drafts := routing.drafts(self.topics, item, matched, audience))
        }
        ingested = self.store.claim_new_items(
            source.id, self.candidates(items, reports), alerts, window=self.story_window
        )
        matched_by_item = {id(item): matched for item, matched in zip(items, found, strict=True)}
        self.record_events(ingested.claimed, audience, matched_by_item)
        return Claimed(len(ingested.claimed), ingested.alerts, ingested.story_updates)

    @staticmethod
    def candidates(items: list[domain.Item], reports: list[Report]) -> list[Candidate]:
        return [
            Candidate(item, item_keys(item), report.signature, report)
            for item, report in zip(items, reports, strict=True)
        ]

    def record_events(
        self,
        claimed: list[NewItem],
        audience: set[int] | None,
        matched_by_item: dict[int, routing.Matches],
    ) -> None:
        """Announced meetings in new items, kept for each topic the item matched when routed."""
        for new in claimed:
            item = new.item
            if meeting_kind(f"{item.title} {item.text[:MAX_TEXT]}") is None:
                continue  # the cheap test first: most items name no meeting
            matched = matched_by_item.get(id(item))
            if matched is None:
                matched = routing.matches(self.topics, item)
            topics = [
                topic
                for topic_id in matched
                if (topic := self.topics.topics.get(topic_id)) is not None
                and (audience is None or topic.chat_id in audience)
            ]
            if not topics:
                continue
            reports = extract_events(
                item.title,
                item.text,
                item.local_published or utcnow(),
                aliases=self.topics.aliases or NO_ALIASES,
                url=item.url,
                outlet=item.source_name or item.site,
            )
            for topic in topics if reports else []:
                EventStore(self.store).record(topic.id, topic.chat_id, reports, new.story_id)
