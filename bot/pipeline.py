"""The poll cycle: fetch -> parse -> normalize -> dedup -> match -> summarize -> outbox."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import domain
from bot.dedup.fingerprint import guid_key, title_fingerprint, url_key
from bot.match import Aliases, MatchDoc, QueryError, TopicIndex, parse_query
from bot.sources.fetch import Fetcher, FetchError
from bot.sources.normalize import normalize_entry
from bot.sources.parse import parse_feed
from bot.storage.models import Source, utcnow
from bot.storage.store import ActiveTopic, NewItem, OutboxRow, Store
from bot.telegram.format import AlertView, format_alert

log = logging.getLogger(__name__)

MAX_BACKOFF = 24 * 3600.0


def item_keys(item: domain.Item) -> list[str]:
    """What makes two items one story: same guid at a source, same canonical URL, same title."""
    keys = [url_key(item.url)]
    if item.guid:
        keys.append(guid_key(item.source_url, item.guid))
    fingerprint = title_fingerprint(item.title)
    if fingerprint:
        keys.append("t:" + fingerprint)
    return keys


def error_backoff(interval: float, streak: int) -> float:
    """Exponential backoff from the source's interval, capped at a day; never gives up."""
    return min(MAX_BACKOFF, interval * (2 ** max(0, streak)))


class TopicCache:
    """Compiled queries of every active topic, refreshed by difference from the database."""

    def __init__(self, aliases: Aliases | None) -> None:
        self.aliases = aliases
        self.index = TopicIndex()
        self.topics: dict[int, ActiveTopic] = {}

    def refresh(self, active: list[ActiveTopic]) -> None:
        wanted = {topic.id: topic for topic in active}
        for topic_id, topic in list(self.topics.items()):
            if wanted.get(topic_id) != topic:
                self.index.remove(topic_id)
                del self.topics[topic_id]
        for topic_id, topic in wanted.items():
            if topic_id in self.topics:
                continue
            try:
                self.index.add(topic_id, parse_query(topic.query, self.aliases))
            except QueryError:
                log.warning("stored topic %s no longer parses; skipped", topic_id)
                continue
            self.topics[topic_id] = topic


@dataclass(frozen=True, slots=True)
class PollOutcome:
    source_id: int
    status: str  # ok | not_modified | error | first
    new_items: int = 0
    alerts: int = 0
    error: str | None = None
    error_kind: str | None = None  # fetch error kind, "parse" or "internal"


class Poller:
    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        topics: TopicCache,
        *,
        default_interval: float,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.topics = topics
        self.default_interval = default_interval
        self.on_enqueued = on_enqueued
        self.last_cycle_at: datetime | None = None
        self._cycle_lock = asyncio.Lock()

    def interval_for(self, source: Source) -> float:
        return source.interval or self.default_interval

    def next_check(self, interval: float) -> datetime:
        jitter = 1.0 + random.uniform(-0.1, 0.1) if interval >= 60 else 1.0
        return utcnow() + timedelta(seconds=interval * jitter)

    async def poll_due(self) -> list[PollOutcome]:
        """Poll every due source once; concurrency is bounded by the fetcher's caps."""
        if self._cycle_lock.locked():
            return []
        async with self._cycle_lock:
            due = await asyncio.to_thread(self.store.due_sources, utcnow())
            if due:
                self.topics.refresh(await asyncio.to_thread(self.store.active_topics))
            outcomes = await asyncio.gather(*(self._poll_safely(source) for source in due))
            self.last_cycle_at = utcnow()
            return list(outcomes)

    async def _poll_safely(self, source: Source) -> PollOutcome:
        try:
            return await self.poll_source(source)
        except Exception as exc:  # one bad source must never stop the cycle
            log.exception("poll of %s failed", source.url)
            assert source.id is not None
            await asyncio.to_thread(
                self.store.record_poll_error,
                source.id,
                f"internal error: {type(exc).__name__}",
                next_check_at=self.next_check(error_backoff(self.interval_for(source), 1)),
            )
            return PollOutcome(source.id, "error", error=str(exc), error_kind="internal")

    async def poll_source(self, source: Source) -> PollOutcome:
        assert source.id is not None
        interval = self.interval_for(source)
        try:
            result = await self.fetcher.fetch(
                source.url, etag=source.etag, last_modified=source.last_modified
            )
        except FetchError as exc:
            return await self._record_error(
                source, str(exc), kind=exc.kind, retry_after=exc.retry_after
            )

        if result.not_modified:
            await asyncio.to_thread(
                self.store.record_poll,
                source.id,
                next_check_at=self.next_check(interval),
                etag=result.etag,
                last_modified=result.last_modified,
                not_modified=True,
                new_url=result.permanent_redirect,
            )
            return PollOutcome(source.id, "not_modified")

        parsed = await asyncio.to_thread(
            parse_feed, result.body, url=result.final_url, content_type=result.content_type
        )
        if not parsed.entries and (parsed.error or not parsed.is_feed):
            return await self._record_error(source, parsed.error or "Not a feed", kind="parse")

        name = source.name or parsed.title or ""
        items = [
            normalize_entry(entry, source_url=source.url, source_name=name)
            for entry in parsed.entries
            if entry.link or entry.title
        ]
        candidates = [(item, item_keys(item)) for item in items]

        if not source.initialized:
            ingested = await asyncio.to_thread(self.store.claim_new_items, source.id, candidates)
            outcome = PollOutcome(source.id, "first", new_items=len(ingested.claimed))
        else:
            audience = await asyncio.to_thread(self.store.chats_for_source, source.id)
            ingested = await asyncio.to_thread(
                self.store.claim_new_items,
                source.id,
                candidates,
                lambda new: self.route(new, audience),
            )
            outcome = PollOutcome(
                source.id, "ok", new_items=len(ingested.claimed), alerts=ingested.alerts
            )
            if ingested.alerts:
                self.on_enqueued()

        await asyncio.to_thread(
            self.store.record_poll,
            source.id,
            next_check_at=self.next_check(interval),
            etag=result.etag,
            last_modified=result.last_modified,
            new_url=result.permanent_redirect,
            name=parsed.title,
        )
        return outcome

    def route(self, new: NewItem, audience: set[int] | None) -> list[OutboxRow]:
        """One outbox row per chat whose topics match, whatever the number of matching topics."""
        item = new.item
        doc = MatchDoc(title=item.title, text=item.text, site=item.site, language=item.language)
        matches = self.topics.index.match(doc)
        per_chat: dict[int, list[tuple[ActiveTopic, tuple[str, ...]]]] = {}
        for topic_id, result in sorted(matches.items()):
            topic = self.topics.topics.get(topic_id)
            if topic is None or (audience is not None and topic.chat_id not in audience):
                continue
            per_chat.setdefault(topic.chat_id, []).append((topic, result.terms))
        rows = []
        for chat_id, hits in per_chat.items():
            first, _ = hits[0]
            terms = tuple(dict.fromkeys(term for _, found in hits for term in found))
            text = format_alert(
                AlertView(
                    title=item.title,
                    url=item.url,
                    summary=item.summary,
                    source_name=item.source_name,
                    published=item.published,
                    topic="; ".join(topic.query for topic, _ in hits),
                    matched_terms=terms,
                )
            )
            rows.append(OutboxRow(chat_id, new.id, first.id, first.thread_id, text, item.url))
        return rows

    async def _record_error(
        self, source: Source, error: str, *, kind: str, retry_after: float | None = None
    ) -> PollOutcome:
        assert source.id is not None
        delay = error_backoff(self.interval_for(source), source.error_streak)
        if retry_after:
            delay = max(delay, min(retry_after, MAX_BACKOFF))
        await asyncio.to_thread(
            self.store.record_poll_error,
            source.id,
            error,
            next_check_at=utcnow() + timedelta(seconds=delay),
        )
        log.info("source %s failed: %s (next try in %.0fs)", source.url, error, delay)
        return PollOutcome(source.id, "error", error=error, error_kind=kind)
