"""What a poll does with a fetched feed once it holds the body: read it (parse, leave out what
was seen, normalize) and claim its new items (dedup, match, outbox rows).

This is synchronous work over the store, and it runs in one of two lanes:

- `ThreadLane`: one thread of the bot's process (tests, scaled workers, in-memory databases);
- `ProcessLane`: a helper process that the bot starts, and starts again if it dies. Parsing
  and storing are CPU work under Python's interpreter lock: in the bot's process they take
  turns with the event loop that fetches, while the helper gives them a core of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import resource
import signal
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bot import domain
from bot.dedup.fingerprint import guid_key, title_fingerprint, url_key
from bot.dedup.stories import Report, report_of
from bot.dedup.terms import TermAliases
from bot.domain import FeedEntry, FetchResult
from bot.events.extract import MAX_TEXT, extract_events, meeting_kind
from bot.match import (
    NO_ALIASES,
    Aliases,
    MatchDoc,
    QueryError,
    TopicIndex,
    load_aliases,
    parse_query,
)
from bot.render.format import AlertView, format_alert
from bot.sources.normalize import canonical_url, clean_title, normalize_entry
from bot.sources.parse import parse_response
from bot.sources.search import unwrap_search_link
from bot.storage.db import make_engine
from bot.storage.events import EventStore
from bot.storage.models import Source, utcnow
from bot.storage.store import STORY_WINDOW, ActiveTopic, Candidate, NewItem, OutboxRow, Store

log = logging.getLogger(__name__)

THIN_TEXT = 200  # a title and a line: too little to match or summarize well
HELPER_ATTEMPTS = 2  # a call whose helper died is made once more, on a new helper
PR_SET_PDEATHSIG = 1


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
        self.term_aliases = TermAliases.from_aliases(aliases)
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
        reports = [report_of(item, aliases, subject=self.subject(item)) for item in items]
        candidates = self.candidates(items, reports)
        audience = None if source.is_global else self.store.chats_for_source(source.id)
        ingested = self.store.claim_new_items(
            source.id,
            candidates,
            lambda new: self.route(new, audience),
            window=self.story_window,
        )
        self.record_events(ingested.claimed, audience)
        return Claimed(len(ingested.claimed), ingested.alerts, ingested.story_updates)

    @staticmethod
    def candidates(items: list[domain.Item], reports: list[Report]) -> list[Candidate]:
        return [
            Candidate(item, item_keys(item), report.signature, report)
            for item, report in zip(items, reports, strict=True)
        ]

    def subject(self, item: domain.Item) -> list[str]:
        """The words of every topic the item matches: what its topics share, not its event."""
        doc = MatchDoc(title=item.title, text=item.text, site=item.site, language=item.language)
        return [term for result in self.topics.index.match(doc).values() for term in result.terms]

    def record_events(self, claimed: list[NewItem], audience: set[int] | None) -> None:
        """Announced meetings in new items, kept for each topic the item matches."""
        for new in claimed:
            item = new.item
            if meeting_kind(f"{item.title} {item.text[:MAX_TEXT]}") is None:
                continue  # the cheap test first: most items name no meeting
            doc = MatchDoc(title=item.title, text=item.text, site=item.site, language=item.language)
            topics = [
                topic
                for topic_id in self.topics.index.match(doc)
                if (topic := self.topics.topics.get(topic_id)) is not None
                and (audience is None or topic.chat_id in audience)
            ]
            if not topics:
                continue
            reports = extract_events(
                item.title,
                item.text,
                item.published or utcnow(),
                aliases=self.topics.aliases or NO_ALIASES,
                url=item.url,
                outlet=item.source_name or item.site,
            )
            for topic in topics if reports else []:
                EventStore(self.store).record(topic.id, topic.chat_id, reports, new.story_id)

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
                source_lang=item.language,
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


class IngestLane(Protocol):
    """Where `FeedWork` runs for the poller."""

    deaths_in_a_row: int  # of a helper process, where the lane has one

    async def refresh_topics(self, active: list[ActiveTopic]) -> None: ...
    async def read(
        self, source: SourceRef, result: FetchResult, *, full_text: bool
    ) -> FeedReading: ...
    async def claim(self, source: SourceRef, items: list[domain.Item]) -> Claimed: ...
    def close(self) -> None: ...


class ThreadLane:
    """Reading on the poller's CPU thread; claims on worker threads, which queue for the
    store's writer."""

    def __init__(self, work: FeedWork, cpu: Executor) -> None:
        self.work = work
        self._cpu = cpu
        self.deaths_in_a_row = 0

    async def refresh_topics(self, active: list[ActiveTopic]) -> None:
        self.work.topics.refresh(active)

    async def read(self, source: SourceRef, result: FetchResult, *, full_text: bool) -> FeedReading:
        """Reads on the CPU thread; claims at once (on a worker thread) where it can."""
        loop = asyncio.get_running_loop()
        reading = await loop.run_in_executor(self._cpu, self.work.read, source, result)
        if reading.needs_poller(source, full_text=full_text):
            return reading
        return replace(reading, items=[], claimed=await self.claim(source, reading.items))

    async def claim(self, source: SourceRef, items: list[domain.Item]) -> Claimed:
        return await asyncio.to_thread(self.work.claim, source, items)

    def close(self) -> None:
        pass


# --- the helper process -------------------------------------------------------------------

_work: FeedWork | None = None


def _start_helper(
    parent: int,
    database_url: str,
    aliases_file: str | None,
    story_window: timedelta,
    active: list[ActiveTopic],
) -> None:
    global _work
    # The bot decides when the helper stops: Ctrl-C in a terminal reaches the whole group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent(parent)
    aliases = load_aliases(aliases_file) if aliases_file else None
    _work = FeedWork(
        Store(make_engine(database_url)), TopicCache(aliases), story_window=story_window
    )
    _work.topics.refresh(active)


def _end_with_parent(parent: int) -> None:
    """On Linux, have the kernel end the helper when the bot's process ends, even by SIGKILL.

    `parent` is the bot's process id as the bot saw it; it may be 1 (the bot as a container's
    only process), so only a different parent means the bot is gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the bot was gone before the request was made
        os._exit(0)


def _helper() -> FeedWork:
    assert _work is not None, "the helper process was not started"
    return _work


def _helper_refresh(active: list[ActiveTopic]) -> None:
    _helper().topics.refresh(active)


def _helper_read(source: SourceRef, result: FetchResult, full_text: bool) -> FeedReading:
    return _helper().read_and_claim(source, result, full_text=full_text)


def _helper_claim(source: SourceRef, items: list[domain.Item]) -> Claimed:
    return _helper().claim(source, items)


@dataclass(frozen=True, slots=True)
class HelperUsage:
    pid: int
    cpu_seconds: float  # used so far
    rss_mb: float | None  # resident now (Linux)
    peak_rss_mb: float  # since the start, or since the last reset where Linux allows one


def _helper_usage(reset_peak: bool) -> HelperUsage:
    status = _proc_status()
    peak = status.get("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    usage = HelperUsage(os.getpid(), time.process_time(), status.get("VmRSS"), peak)
    if reset_peak:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
    return usage


def _proc_status() -> dict[str, float]:
    """Memory figures of this process in MB, where /proc has them."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        name: int(value.split()[0]) / 1024
        for name, _, value in (line.partition(":") for line in lines)
        if name in ("VmRSS", "VmHWM")
    }


class ProcessLane:
    """`FeedWork` in a helper process with its own database connections.

    Calls run one at a time, in the order made, so a topic refresh applies to every read
    and claim made after it. When the helper dies (a crash, the OOM killer), a new one is
    started and the calls in flight are made again, once: a read changes nothing, and a
    claim either committed (its items are then known, and claim nothing twice) or did not.
    """

    def __init__(
        self,
        database_url: str,
        *,
        aliases_file: Path | None = None,
        story_window: timedelta = STORY_WINDOW,
    ) -> None:
        self._init = (database_url, str(aliases_file) if aliases_file else None, story_window)
        self._active: list[ActiveTopic] = []
        self._executor: ProcessPoolExecutor | None = None
        self.starts = 0
        self.deaths_in_a_row = 0  # helpers that died since the last call that succeeded

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                # Forking a process that runs threads can copy a held lock; spawn starts clean.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
                initargs=(os.getpid(), *self._init, self._active),
            )
            self.starts += 1
        return self._executor

    async def _call(self, fn: Any, *args: Any) -> Any:
        attempts = HELPER_ATTEMPTS
        while True:
            executor = self._pool()
            try:
                result = await asyncio.wrap_future(executor.submit(fn, *args))
            except BrokenProcessPool:
                if self._executor is executor:
                    log.error("the ingest helper process died; starting a new one")
                    self.deaths_in_a_row += 1
                    self._executor = None
                    executor.shutdown(wait=False, cancel_futures=True)
                attempts -= 1
                if not attempts:
                    raise
            else:
                self.deaths_in_a_row = 0
                return result

    async def refresh_topics(self, active: list[ActiveTopic]) -> None:
        if active == self._active:
            return
        self._active = list(active)
        if self._executor is not None:
            await self._call(_helper_refresh, self._active)

    async def read(self, source: SourceRef, result: FetchResult, *, full_text: bool) -> FeedReading:
        """Reads, and claims in the same call where it can: one round trip for most feeds."""
        reading: FeedReading = await self._call(_helper_read, source, result, full_text)
        return reading

    async def claim(self, source: SourceRef, items: list[domain.Item]) -> Claimed:
        claimed: Claimed = await self._call(_helper_claim, source, items)
        return claimed

    async def usage(self, *, reset_peak: bool = False) -> HelperUsage:
        """The helper's process id, CPU time and memory (starting it if need be)."""
        usage: HelperUsage = await self._call(_helper_usage, reset_peak)
        return usage

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
