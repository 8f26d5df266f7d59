"""The poll cycle: fetch -> parse -> normalize -> dedup -> match -> summarize -> outbox."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from bot import domain
from bot.dedup.fingerprint import guid_key, title_fingerprint, url_key
from bot.dedup.near import signature
from bot.domain import FeedEntry, FetchResult
from bot.match import Aliases, MatchDoc, QueryError, TopicIndex, parse_query
from bot.sources.articles import MAX_TEXT as MAX_ARTICLE_TEXT
from bot.sources.articles import ArticleFetcher
from bot.sources.extract import find_article_links
from bot.sources.fetch import Fetcher, FetchError
from bot.sources.normalize import canonical_url, clean_title, normalize_entry
from bot.sources.parse import parse_response
from bot.sources.schedule import (
    DEFAULT_CLAMP,
    Clamp,
    error_backoff,
    jittered,
    observed_gap,
    poll_interval,
    server_floor,
)
from bot.sources.search import unwrap_search_link
from bot.storage.models import Source, utcnow
from bot.storage.store import (
    STORY_WINDOW,
    ActiveTopic,
    Candidate,
    NewItem,
    OutboxRow,
    PollRecord,
    Store,
)
from bot.summarize.summary import summarize
from bot.telegram.format import AlertView, format_alert

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
RECORD_BATCH = 200  # successful polls written per transaction during a cycle


def entry_keys(source_url: str, entry: FeedEntry) -> list[str]:
    """The keys `item_keys` gives the normalized entry, from the raw entry (no text work)."""
    url = canonical_url(entry.link) if entry.link else ""
    keys = [url_key(url)] if url else []
    if entry.guid:
        keys.append(guid_key(source_url, entry.guid))
    fingerprint = title_fingerprint(clean_title(entry.title)) if entry.title else ""
    if fingerprint:
        keys.append("t:" + fingerprint)
    return keys


def item_keys(item: domain.Item) -> list[str]:
    """What makes two items one story: same guid at a source, same canonical URL, same title."""
    keys = [url_key(item.url)] if item.url else []
    if item.guid:
        keys.append(guid_key(item.source_url, item.guid))
    fingerprint = title_fingerprint(item.title)
    if fingerprint:
        keys.append("t:" + fingerprint)
    return keys


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
    story_updates: int = 0
    error: str | None = None
    error_kind: str | None = None  # fetch error kind, "parse" or "internal"


RetiredHandler = Callable[[Source, set[int]], Awaitable[None]]
THIN_TEXT = 200  # a title and a line: too little to match or summarize well


@dataclass(frozen=True, slots=True)
class FeedReading:
    parsed: domain.ParsedFeed
    items: list[domain.Item]  # normalized entries not seen before at this source


class Poller:
    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        topics: TopicCache,
        *,
        default_interval: float,
        clamp: Clamp = DEFAULT_CLAMP,
        articles: ArticleFetcher | None = None,
        full_text: bool = True,
        full_text_per_poll: int = 5,
        story_window: timedelta = STORY_WINDOW,
        on_enqueued: Callable[[], None] = lambda: None,
        on_retired: RetiredHandler | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.topics = topics
        self.default_interval = default_interval
        self.clamp = clamp
        self.articles = articles
        self.full_text = full_text
        self.full_text_per_poll = full_text_per_poll
        self.story_window = story_window
        self.on_enqueued = on_enqueued
        self.on_retired = on_retired
        self.last_cycle_at: datetime | None = None
        self._cycle_lock = asyncio.Lock()
        # Sources fetched but not yet processed, at most: bounds the bodies held in memory.
        self.in_flight = 2 * fetcher.max_concurrency
        # Parsing and text work run in one thread: more would only fight the event loop for the
        # interpreter lock, and a starved loop lets fetches run into their deadline.
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-cpu")
        self._records: list[PollRecord] | None = None  # buffered during a cycle

    def close(self) -> None:
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def _on_cpu(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._cpu, functools.partial(fn, *args, **kwargs))

    def base_interval(self, source: Source) -> float:
        if source.current_interval:
            return source.current_interval
        return poll_interval(
            default=self.default_interval, explicit=source.interval, clamp=self.clamp
        )

    async def poll_due(self) -> list[PollOutcome]:
        """Poll every due source once; concurrency is bounded by the fetcher's caps."""
        if self._cycle_lock.locked():
            return []
        async with self._cycle_lock:
            due = await asyncio.to_thread(self.store.due_sources, utcnow())
            if due:
                self.topics.refresh(await asyncio.to_thread(self.store.active_topics))
            gate = asyncio.Semaphore(self.in_flight)

            async def poll(source: Source) -> PollOutcome:
                async with gate:
                    return await self._poll_safely(source)

            self._records = []
            try:
                outcomes = await asyncio.gather(*(poll(source) for source in due))
            finally:
                await self._flush_records()
                self._records = None
            self.last_cycle_at = utcnow()
            return list(outcomes)

    async def _flush_records(self) -> None:
        if self._records:
            batch, self._records = self._records, []
            await asyncio.to_thread(self.store.record_polls, batch)

    async def _poll_safely(self, source: Source) -> PollOutcome:
        try:
            return await self.poll_source(source)
        except Exception as exc:  # one bad source must never stop the cycle
            log.exception("poll of %s failed", source.url)
            return await self._record_error(
                source, f"internal error: {type(exc).__name__}", kind="internal"
            )

    async def poll_source(self, source: Source) -> PollOutcome:
        assert source.id is not None
        try:
            result = await self.fetcher.fetch(
                source.url, etag=source.etag, last_modified=source.last_modified
            )
        except FetchError as exc:
            if exc.status == 410:
                return await self._retire(source, str(exc))
            return await self._record_error(
                source, str(exc), kind=exc.kind, retry_after=exc.retry_after
            )

        if result.not_modified:
            interval = poll_interval(
                default=self.default_interval,
                explicit=source.interval or source.current_interval,
                floor=server_floor(result.headers),
                clamp=self.clamp,
            )
            await self._record_success(source, result, interval, not_modified=True)
            return PollOutcome(source.id, "not_modified")

        if source.kind == "page":
            return await self._poll_page(source, result)

        reading = await self._read_feed(source, result)
        parsed = reading.parsed
        if not parsed.is_feed and not parsed.entries:
            if parsed.feed_links:
                return await self._move_to_feed(source, parsed.feed_links)
            if not source.is_global and "html" in result.content_type:
                await asyncio.to_thread(self.store.set_source_kind, source.id, "page")
                return await self._poll_page(source, result)
        if not parsed.entries and (parsed.error or not parsed.is_feed):
            return await self._record_error(source, parsed.error or "Not a feed", kind="parse")

        items = reading.items
        if source.initialized and self.full_text and self.articles is not None:
            items = await self._with_full_text(items)
        outcome = await self._ingest(source, items)
        listed = [entry.published for entry in parsed.entries]
        interval = poll_interval(
            default=self.default_interval,
            explicit=source.interval,
            gap=observed_gap([*listed, *parsed.unchanged_published]),
            floor=server_floor(result.headers, parsed.ttl_seconds),
            clamp=self.clamp,
        )
        await self._record_success(
            source, result, interval, name=parsed.title, listing=parsed.listing or b""
        )
        return outcome

    async def _read_feed(self, source: Source, result: FetchResult) -> FeedReading:
        """Parse the body, leaving out entries listed unchanged since the last poll, and
        normalize the entries not seen before."""
        assert source.id is not None
        listed = b""
        if source.initialized:
            listed = await asyncio.to_thread(self.store.listing, source.id)
        parsed = await self._on_cpu(parse_response, result, listed)
        entries = parsed.entries
        if source.kind == "search":
            entries = [replace(entry, link=unwrap_search_link(entry.link)) for entry in entries]
        entries = [entry for entry in entries if entry.link or entry.title]
        if source.initialized and entries:
            entries = await asyncio.to_thread(self._changed_entries, source.url, entries)
        if not entries:
            return FeedReading(parsed, [])
        name = source.name or parsed.title or ""
        items = await self._on_cpu(_normalize_all, entries, source.url, name)
        return FeedReading(parsed, items)

    async def _ingest(self, source: Source, items: list[domain.Item]) -> PollOutcome:
        assert source.id is not None
        candidates = await self._on_cpu(self._candidates, items)
        if not source.initialized:
            ingested = await asyncio.to_thread(
                self.store.claim_new_items, source.id, candidates, window=self.story_window
            )
            return PollOutcome(source.id, "first", new_items=len(ingested.claimed))
        audience = await asyncio.to_thread(self.store.chats_for_source, source.id)
        ingested = await asyncio.to_thread(
            self.store.claim_new_items,
            source.id,
            candidates,
            lambda new: self.route(new, audience),
            window=self.story_window,
        )
        if ingested.alerts or ingested.story_updates:
            self.on_enqueued()
        return PollOutcome(
            source.id,
            "ok",
            new_items=len(ingested.claimed),
            alerts=ingested.alerts,
            story_updates=ingested.story_updates,
        )

    def _changed_entries(self, source_url: str, entries: list[FeedEntry]) -> list[FeedEntry]:
        """Entries worth normalizing: all but those the feed lists again unchanged (their own
        guid, URL and title all seen), found with one query before any text work."""
        keyed = [(entry, entry_keys(source_url, entry)) for entry in entries]
        seen = self.store.seen_keys([key for _, keys in keyed for key in keys])
        return [
            entry for entry, keys in keyed if not (entry.guid and keys and seen.issuperset(keys))
        ]

    @staticmethod
    def _candidates(items: list[domain.Item]) -> list[Candidate]:
        """Keys and a near-duplicate signature for every item; entries a feed lists again
        unchanged never get here (`_changed_entries`, and the listing before it)."""
        return [
            Candidate(item, item_keys(item), signature(item.title, item.text)) for item in items
        ]

    async def _unseen(self, urls: list[str]) -> list[str]:
        seen = await asyncio.to_thread(self.store.seen_keys, [url_key(url) for url in urls])
        return [url for url in urls if url_key(url) not in seen]

    async def _with_full_text(self, items: list[domain.Item]) -> list[domain.Item]:
        """Fetch the article behind new items too thin to match or summarize, a few per poll."""
        assert self.articles is not None
        thin = [item.url for item in items if len(item.text) < THIN_TEXT and item.url]
        wanted = set((await self._unseen(thin))[: self.full_text_per_poll]) if thin else set()
        if not wanted:
            return items
        urls = sorted(wanted)
        articles = dict(
            zip(
                urls,
                await asyncio.gather(*(self.articles.article(url) for url in urls)),
                strict=True,
            )
        )
        enriched = []
        for item in items:
            article = articles.get(item.url)
            if article is not None and len(article.text) > len(item.text):
                item = replace(
                    item,
                    text=article.text[:MAX_ARTICLE_TEXT],
                    summary=article.summary or summarize(article.text, title=item.title),
                    language=item.language or article.language,
                )
            enriched.append(item)
        return enriched

    async def _poll_page(self, source: Source, result: FetchResult) -> PollOutcome:
        """Page mode: a listing page's new same-site article links become items."""
        assert source.id is not None
        html = result.body.decode("utf-8", "replace")
        links = await self._on_cpu(find_article_links, html, base_url=result.final_url)
        name = source.name or _site(result.final_url)
        interval = poll_interval(
            default=self.default_interval,
            explicit=source.interval,
            floor=server_floor(result.headers),
            clamp=self.clamp,
        )
        if not source.initialized:
            await asyncio.to_thread(self.store.remember_keys, [url_key(link) for link in links])
            await self._record_success(source, result, interval, kind="page")
            return PollOutcome(source.id, "first", new_items=len(links))
        fresh = (await self._unseen(links))[: max(1, self.full_text_per_poll)]
        items = []
        for link, article in zip(
            fresh, await asyncio.gather(*(self._page_article(link) for link in fresh)), strict=True
        ):
            if article is None:
                continue
            items.append(
                domain.Item(
                    source_url=source.url,
                    source_name=name,
                    title=article.title or link,
                    url=link,
                    guid=None,
                    published=article.published,
                    text=article.text[:MAX_ARTICLE_TEXT],
                    summary=article.summary,
                    language=article.language,
                )
            )
        outcome = await self._ingest(source, items)
        await self._record_success(source, result, interval, kind="page")
        return outcome

    async def _page_article(self, url: str) -> domain.Article | None:
        if self.articles is None:
            return None
        return await self.articles.article(url)

    async def _move_to_feed(self, source: Source, feed_links: list[str]) -> PollOutcome:
        """The source is a page that names its feed: watch the feed from now on."""
        assert source.id is not None
        for link in feed_links[:3]:
            if await asyncio.to_thread(self.store.move_source, source.id, link):
                log.info("source %s now follows its feed %s", source.url, link)
                return PollOutcome(source.id, "moved")
        return await self._record_error(source, "The page's feed is already a source", kind="parse")

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
            view = AlertView(
                title=item.title,
                url=item.url,
                summary=item.summary,
                source_name=item.source_name,
                published=item.published,
                topic="; ".join(topic.query for topic, _ in hits),
                matched_terms=terms,
                lang=first.language,
            )
            rows.append(
                OutboxRow(
                    chat_id,
                    new.id,
                    first.id,
                    first.thread_id,
                    format_alert(view),
                    item.url,
                    view.to_json(),
                    "pending" if all(t.mode == "instant" for t, _ in hits) else "digest",
                )
            )
        return rows

    async def _record_success(
        self,
        source: Source,
        result: FetchResult,
        interval: float,
        *,
        not_modified: bool = False,
        name: str | None = None,
        kind: str | None = None,
        listing: bytes | None = None,
    ) -> None:
        assert source.id is not None
        record = PollRecord(
            source.id,
            next_check_at=utcnow() + timedelta(seconds=jittered(interval)),
            etag=result.etag,
            last_modified=result.last_modified,
            not_modified=not_modified,
            new_url=result.permanent_redirect,
            name=name,
            current_interval=interval,
            kind=kind,
            listing=listing,
        )
        if self._records is None:
            await asyncio.to_thread(self.store.record_poll, record)
            return
        self._records.append(record)
        if len(self._records) >= RECORD_BATCH:
            await self._flush_records()

    async def _record_error(
        self, source: Source, error: str, *, kind: str, retry_after: float | None = None
    ) -> PollOutcome:
        assert source.id is not None
        delay = error_backoff(self.base_interval(source), source.error_streak, retry_after)
        await asyncio.to_thread(
            self.store.record_poll_error,
            source.id,
            error,
            next_check_at=utcnow() + timedelta(seconds=delay),
        )
        log.info("source %s failed: %s (next try in %.0fs)", source.url, error, delay)
        return PollOutcome(source.id, "error", error=error, error_kind=kind)

    async def _retire(self, source: Source, error: str) -> PollOutcome:
        """410 Gone: the source is retired for good and its subscribers are told."""
        assert source.id is not None
        await asyncio.to_thread(
            self.store.record_poll_error, source.id, error, next_check_at=utcnow(), retire=True
        )
        chats = await asyncio.to_thread(self.store.chats_for_source, source.id)
        if self.on_retired is not None and chats:
            await self.on_retired(source, chats)
        return PollOutcome(source.id, "error", error=error, error_kind="gone")


def _normalize_all(entries: list[FeedEntry], source_url: str, name: str) -> list[domain.Item]:
    return [normalize_entry(entry, source_url=source_url, source_name=name) for entry in entries]


def _site(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or url).removeprefix("www.")
