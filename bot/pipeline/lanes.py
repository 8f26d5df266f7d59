"""Where `FeedWork` runs for the poller, behind one result shape:

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
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from bot import domain
from bot.domain import FetchResult
from bot.match import (
    load_aliases,
)
from bot.pipeline.topics import TopicCache
from bot.pipeline.work import Claimed, FeedReading, FeedWork, SourceRef
from bot.storage.db import make_engine
from bot.storage.store import STORY_WINDOW, ActiveTopic, Store

log = logging.getLogger(__name__)

HELPER_ATTEMPTS = 2  # a call whose helper died is made once more, on a new helper
PR_SET_PDEATHSIG = 1


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
