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
from bot.dedup.fingerprint import url_key
from bot.domain import FetchResult, site_of
from bot.language.detect import item_language
from bot.pipeline.lanes import IngestLane, ThreadLane
from bot.pipeline.topics import TopicCache
from bot.pipeline.work import THIN_TEXT, Claimed, FeedReading, FeedWork, SourceRef
from bot.push.hints import ScheduleHints
from bot.sources.articles import MAX_TEXT as MAX_ARTICLE_TEXT
from bot.sources.articles import ArticleFetcher
from bot.sources.extract import find_article_links
from bot.sources.fetch import Fetcher, FetchError
from bot.sources.schedule import (
    DEFAULT_CLAMP,
    Clamp,
    error_backoff,
    jittered,
    observed_gap,
    poll_interval,
    server_floor,
)
from bot.storage.models import Source, utcnow
from bot.storage.store import STORY_WINDOW, PollRecord, Store
from bot.summarize.summary import summarize

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
RECORD_BATCH = 200  # successful polls written per transaction during a cycle


def max_floor(*floors: float | None) -> float | None:
    known = [floor for floor in floors if floor]
    return max(known) if known else None


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
FeedHandler = Callable[[Source, FetchResult], Awaitable[None]]


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
        lane: IngestLane | None = None,
        hints: ScheduleHints | None = None,
        on_feed: FeedHandler | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.default_interval = default_interval
        self.clamp = clamp
        self.articles = articles
        self.full_text = full_text
        self.full_text_per_poll = full_text_per_poll
        self.on_enqueued = on_enqueued
        self.on_retired = on_retired
        self.hints = hints
        self.on_feed = on_feed  # every feed read (WebSub discovery)
        self.last_cycle_at: datetime | None = None
        self._cycle_lock = asyncio.Lock()
        # Sources fetched but not yet processed, at most: bounds the bodies held in memory.
        self.in_flight = 2 * fetcher.max_concurrency
        # Parsing and text work run in one thread: more would only fight the event loop for the
        # interpreter lock, and a starved loop lets fetches run into their deadline.
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-cpu")
        self.lane: IngestLane = lane or ThreadLane(
            FeedWork(store, topics, story_window=story_window), self._cpu
        )
        self._records: list[PollRecord] | None = None  # buffered during a cycle

    def close(self) -> None:
        self.lane.close()
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
            if self.hints is not None:
                await self.hints.refresh()
            due = await asyncio.to_thread(self.store.due_sources, utcnow())
            if due:
                await self.lane.refresh_topics(await asyncio.to_thread(self.store.active_topics))
            gate = asyncio.Semaphore(self.in_flight)

            async def poll(source: Source) -> PollOutcome:
                async with gate:
                    return await self.poll_safely(source)

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

    async def poll_safely(self, source: Source) -> PollOutcome:
        """Poll one source; an unexpected failure is recorded as its error, never raised."""
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
            # A 304 carries no body, hence no RSS ttl: the floor read with the body still holds.
            floor = max_floor(server_floor(result.headers), source.server_floor)
            interval = poll_interval(
                default=self.default_interval,
                explicit=source.interval or source.current_interval,
                floor=floor,
                clamp=self.clamp,
            )
            await self._record_success(source, result, interval, floor, not_modified=True)
            return PollOutcome(source.id, "not_modified")

        if source.kind == "page":
            return await self._poll_page(source, result)

        full_text = self.full_text and self.articles is not None
        reading = await self.lane.read(SourceRef.of(source), result, full_text=full_text)
        parsed = reading.parsed
        if not parsed.is_feed and not reading.published:
            if parsed.feed_links:
                return await self._move_to_feed(source, parsed.feed_links)
            if not source.is_global and "html" in result.content_type:
                await asyncio.to_thread(self.store.set_source_kind, source.id, "page")
                return await self._poll_page(source, result)
        if not reading.published and (parsed.error or not parsed.is_feed):
            return await self._record_error(source, parsed.error or "Not a feed", kind="parse")

        outcome = await self._claim_reading(source, reading, full_text=full_text)
        if self.on_feed is not None:
            await self.on_feed(source, result)
        # New stories, or follow-ups that alerted: either way entries the hub did not push.
        fresh = outcome.new_items or outcome.alerts
        if self.hints is not None and outcome.status == "ok" and fresh:
            await self.hints.missed(source.id)
        floor = server_floor(result.headers, parsed.ttl_seconds)
        interval = poll_interval(
            default=self.default_interval,
            explicit=source.interval,
            gap=observed_gap([*reading.published, *parsed.unchanged_published]),
            floor=floor,
            clamp=self.clamp,
        )
        await self._record_success(
            source, result, interval, floor, name=parsed.title, listing=parsed.listing or b""
        )
        return outcome

    async def _claim_reading(
        self, source: Source, reading: FeedReading, *, full_text: bool
    ) -> PollOutcome:
        if reading.claimed is not None:
            return self._claim_outcome(source, reading.claimed)
        items = reading.items
        if source.initialized and full_text:
            items = await self._with_full_text(items)
        return await self._ingest(source, items)

    async def ingest_pushed(self, source: Source, result: FetchResult) -> PollOutcome:
        """A hub's delivery: the body goes the way of a poll's, and the schedule is kept."""
        assert source.id is not None
        await self.lane.refresh_topics(await asyncio.to_thread(self.store.active_topics))
        full_text = self.full_text and self.articles is not None
        reading = await self.lane.read(SourceRef.of(source), result, full_text=full_text)
        if not reading.published and (reading.parsed.error or not reading.parsed.is_feed):
            log.info("WebSub delivery for %s is no feed: %s", source.url, reading.parsed.error)
            return PollOutcome(
                source.id, "error", error="pushed body is no feed", error_kind="parse"
            )
        return await self._claim_reading(source, reading, full_text=full_text)

    async def _ingest(self, source: Source, items: list[domain.Item]) -> PollOutcome:
        return self._claim_outcome(source, await self.lane.claim(SourceRef.of(source), items))

    def _claim_outcome(self, source: Source, claimed: Claimed) -> PollOutcome:
        assert source.id is not None
        if not source.initialized:
            return PollOutcome(source.id, "first", new_items=claimed.new_items)
        if claimed.alerts or claimed.story_updates:
            self.on_enqueued()
        return PollOutcome(
            source.id,
            "ok",
            new_items=claimed.new_items,
            alerts=claimed.alerts,
            story_updates=claimed.story_updates,
        )

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
        name = source.name or site_of(result.final_url, result.final_url)
        floor = server_floor(result.headers)
        interval = poll_interval(
            default=self.default_interval,
            explicit=source.interval,
            floor=floor,
            clamp=self.clamp,
        )
        if not source.initialized:
            await asyncio.to_thread(self.store.remember_keys, [url_key(link) for link in links])
            await self._record_success(source, result, interval, floor, kind="page")
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
                    language=item_language(article.language, article.title or "", article.text),
                )
            )
        outcome = await self._ingest(source, items)
        await self._record_success(source, result, interval, floor, kind="page")
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

    async def _record_success(
        self,
        source: Source,
        result: FetchResult,
        interval: float,
        floor: float | None,
        *,
        not_modified: bool = False,
        name: str | None = None,
        kind: str | None = None,
        listing: bytes | None = None,
    ) -> None:
        assert source.id is not None
        wait = interval  # the source's own rhythm stays its current interval
        if self.hints is not None:
            wait = self.hints.interval(source.id, interval, floor)
        # Jitter spreads checks out but never brings one under the minimum interval.
        wait = max(jittered(wait), min(wait, self.clamp.low))
        record = PollRecord(
            source.id,
            next_check_at=utcnow() + timedelta(seconds=wait),
            etag=result.etag,
            last_modified=result.last_modified,
            not_modified=not_modified,
            new_url=result.permanent_redirect,
            name=name,
            current_interval=interval,
            server_floor=floor,
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
