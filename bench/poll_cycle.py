"""Poll-cycle benchmark: one warm cycle over thousands of feeds, against two baselines.

A feed farm (`bench.data`, an asyncio HTTP/1.1 server in its own process on 127.0.0.1) serves
N copies of real feed snapshots with ETag / Last-Modified and 304 answers. Every contender
runs in its own process, so CPU time and peak RSS are its own:

  ours    the real `Poller.poll_due()` over N global `Source` rows in a fresh SQLite database,
          with 200 topics in 50 chats, the real `Fetcher` (concurrency 50; per-host 50, since
          every feed is on 127.0.0.1 and the default of 2 would measure the politeness cap),
          reading and storing in the helper process as the bot does by default (`--lane
          thread`: in one process)
  httpx   the same conditional GETs with a bare httpx client at the same concurrency, no
          parsing and no database: the limit of the network part
  naive   what simple bots do: `feedparser.parse(url)` for each feed in turn, no conditional
          GET; timed on a sample and scaled to N
  parse   `feedparser.parse(body)` of every feed's bytes as our first poll gets them (fetched
          untimed beforehand): the baseline of our first-poll figure

First poll: the CPU of our process from its start (imports, database, helper start-up) to the
end of the seed cycle, less the benchmark's own setup (sources and topics written), plus the
helper process's CPU by then, per feed, set against `parse` per feed (target <= 1.5x).

Each contender first runs a cycle that seeds its validators (for ours: the first poll, which
records items without alerting), then the farm gives a share of the feeds a new item (new
body, new ETag), then the warm cycle is measured. `Poller.poll_due()` takes at most 5,000 due
sources per call (`Store.due_sources`); one cycle is as many calls as it takes to drain them.

Run from the repository root::

    python -m bench.poll_cycle                   # 2,000 feeds, 10% changed (~5 min on 2 CPUs,
                                                 # most of it our seed cycle)
    python -m bench.poll_cycle --feeds 500 --naive-sample 100
    python -m bench.poll_cycle --only ours --profile prof/   # py-spy stacks of our cycles

Figures: wall and CPU (process) time of the warm cycle; peak RSS of the whole process
(ru_maxrss: setup, seed cycle and warm cycle) and, where Linux allows resetting it, the peak
during the warm cycle alone. For ours, the helper process's CPU time is added, and its peak
RSS too (the sum of two peaks: an upper bound on the pair's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.data import DEFAULT_EVAL_DIR, REPO_ROOT, topic_queries

CONTENDERS = ("parse", "ours", "httpx", "naive")  # parse first: it needs the unchanged feeds
TARGET_VS_NAIVE = 10.0
TARGET_VS_HTTPX = 1.5
TARGET_RSS_MB = 250.0
TARGET_FIRST_POLL = 1.5
CHATS = 50


@dataclass
class Figures:
    contender: str
    feeds: int
    wall: float  # seconds for the warm cycle (scaled to all feeds for a sampled contender)
    cpu: float  # process time for the warm cycle, same scaling
    peak_rss_mb: float  # whole process
    cycle_rss_mb: float | None  # peak during the warm cycle, when measurable
    sampled: int | None = None  # feeds actually timed, when sampled
    seed_wall: float | None = None
    server: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


# --- process-level measurements ----------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Resets VmHWM (Linux 4.0+); returns whether the warm-cycle peak can be read."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def proc_status_mb(field: str) -> float | None:
    """A memory figure of this process from /proc (Linux): VmHWM, VmRSS, ..."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def vm_hwm_mb() -> float | None:
    return proc_status_mb("VmHWM")


@contextlib.contextmanager
def measured() -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    yield out
    out["wall"] = time.perf_counter() - wall
    out["cpu"] = time.process_time() - cpu


@contextlib.contextmanager
def sampled(path: Path | None) -> Iterator[None]:
    """py-spy samples this process (all threads) while the block runs; raw stacks to `path`."""
    spy = shutil.which("py-spy") if path else None
    if path is None or spy is None:
        if path is not None:
            print("py-spy not found; no profile", file=sys.stderr)
        yield
        return
    command = [spy, "record", "--pid", str(os.getpid()), "--rate", "250", "--format", "raw"]
    command += ["--nonblocking", "--gil", "-o", str(path)]  # the thread holding the GIL
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached by then
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def farm_call(server: str, path: str) -> Any:
    with urllib.request.urlopen(server + path, timeout=30) as response:
        return json.loads(response.read())


def feed_urls(server: str, feeds: int) -> list[str]:
    return [f"{server}/f/{n}.xml" for n in range(feeds)]


# --- contender: ours -----------------------------------------------------------------------


async def run_ours(args: argparse.Namespace) -> Figures:
    tmp = Path(tempfile.mkdtemp(prefix="poll-cycle-"))
    try:
        return await _run_ours(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _run_ours(args: argparse.Namespace, tmp: Path) -> Figures:
    from sqlalchemy import update
    from sqlmodel import Session

    from bot import defaults
    from bot.config import USER_AGENT, SourceSpec
    from bot.match import load_aliases
    from bot.pipeline.lanes import ProcessLane
    from bot.pipeline.poller import Poller
    from bot.pipeline.topics import TopicCache
    from bot.sources.fetch import Fetcher
    from bot.sources.schedule import Clamp
    from bot.storage.db import make_engine
    from bot.storage.migrate import upgrade_database
    from bot.storage.models import Source, utcnow
    from bot.storage.store import STORY_WINDOW, Store

    database_url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(database_url)
    upgrade_database(engine)
    store = Store(engine)
    urls = feed_urls(args.server, args.feeds)
    setup_started = time.process_time()
    store.sync_global_sources([SourceSpec(url=url) for url in urls])
    for i, query in enumerate(topic_queries(args.topics)):
        chat_id = 1_000_000 + i % CHATS
        if i < CHATS:
            store.ensure_chat(chat_id)
        store.add_topic(chat_id, query)
    bench_setup_cpu = time.process_time() - setup_started
    aliases_file = defaults.ALIASES
    topics = TopicCache(load_aliases(aliases_file))
    lane = None
    if args.lane == "process":
        lane = ProcessLane(
            database_url,
            aliases_file=aliases_file,
            story_window=STORY_WINDOW,
        )
    rss_setup = proc_status_mb("VmRSS")

    def mark_all_due() -> None:
        with Session(engine) as session:
            past = utcnow() - timedelta(seconds=1)
            session.exec(update(Source).values(next_check_at=past))
            session.commit()

    async with Fetcher(
        user_agent=USER_AGENT,
        allow_private=True,
        max_concurrency=args.concurrency,
        per_host=args.per_host,
    ) as fetcher:
        # Intervals of an hour and more: a slow cycle must not see its early sources due again.
        poller = Poller(
            store,
            fetcher,
            topics,
            default_interval=3600.0,
            clamp=Clamp(3600.0, 86400.0),
            full_text=False,
            story_window=STORY_WINDOW,
            lane=lane,
        )

        async def cycle() -> list[Any]:
            outcomes: list[Any] = []
            while batch := await poller.poll_due():
                outcomes.extend(batch)
            return outcomes

        mark_all_due()
        with sampled(args.profile and args.profile / "seed.txt"), measured() as seed:
            seeded = await cycle()
        first_poll_cpu = time.process_time() - bench_setup_cpu
        rss_seeded = proc_status_mb("VmRSS")
        farm_call(args.server, f"/_bump?share={args.changed_share}")
        farm_call(args.server, "/_reset_stats")
        mark_all_due()
        hwm = reset_peak_rss()
        helper_seeded = await lane.usage(reset_peak=True) if lane else None
        if helper_seeded is not None:
            first_poll_cpu += helper_seeded.cpu_seconds
        with sampled(args.profile and args.profile / "warm.txt"), measured() as warm:
            outcomes = await cycle()
        cycle_rss = vm_hwm_mb() if hwm else None
        helper_cpu, helper_peak, helper_cycle_peak = 0.0, 0.0, 0.0
        if lane is not None and helper_seeded is not None:
            helper_after = await lane.usage()
            helper_cpu = helper_after.cpu_seconds - helper_seeded.cpu_seconds
            helper_peak = max(helper_seeded.peak_rss_mb, helper_after.peak_rss_mb)
            helper_cycle_peak = helper_after.peak_rss_mb
        poller.close()
    engine.dispose()
    statuses = Counter(o.status for o in outcomes)
    errors = Counter(o.error for o in outcomes if o.status == "error")
    seed_errors = Counter(o.error for o in seeded if o.status == "error")
    return Figures(
        "ours",
        args.feeds,
        warm["wall"],
        warm["cpu"] + helper_cpu,
        peak_rss_mb() + helper_peak,
        cycle_rss and cycle_rss + helper_cycle_peak,
        seed_wall=seed["wall"],
        server=farm_call(args.server, "/_stats"),
        notes={
            "lane": args.lane,
            "first_poll_cpu_s": round(first_poll_cpu, 3),
            "seed_cpu_s": round(seed["cpu"], 3),
            "helper_cpu_s": round(helper_cpu, 2),
            "helper_peak_rss_mb": round(helper_peak),
            "helper_cycle_peak_rss_mb": round(helper_cycle_peak),
            "helper_rss_after_seed_mb": helper_seeded and helper_seeded.rss_mb,
            "seed": dict(Counter(o.status for o in seeded)),
            "warm": dict(statuses),
            "new_items": sum(o.new_items for o in outcomes),
            "alerts": sum(o.alerts for o in outcomes),
            "errors": dict(errors.most_common(3)),
            "seed_errors": dict(seed_errors.most_common(3)),
            "rss_after_setup_mb": rss_setup,
            "rss_after_seed_mb": rss_seeded,
        },
    )


# --- contender: httpx alone ----------------------------------------------------------------


async def run_httpx(args: argparse.Namespace) -> Figures:
    import httpx

    urls = feed_urls(args.server, args.feeds)
    validators: dict[str, tuple[str | None, str | None]] = {}
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    gate = asyncio.Semaphore(args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60.0, trust_env=False) as client:

        async def get(url: str) -> None:
            headers = {"Accept-Encoding": "gzip, deflate, br"}
            etag, modified = validators.get(url, (None, None))
            if etag:
                headers["If-None-Match"] = etag
            if modified:
                headers["If-Modified-Since"] = modified
            async with gate:
                response = await client.get(url, headers=headers)
            statuses[response.status_code] += 1
            if response.status_code == 200:
                validators[url] = (
                    response.headers.get("etag"),
                    response.headers.get("last-modified"),
                )

        async def cycle() -> None:
            await asyncio.gather(*(get(url) for url in urls))

        with measured() as seed:
            await cycle()
        farm_call(args.server, f"/_bump?share={args.changed_share}")
        farm_call(args.server, "/_reset_stats")
        statuses.clear()
        hwm = reset_peak_rss()
        with measured() as warm:
            await cycle()
        cycle_rss = vm_hwm_mb() if hwm else None
    return Figures(
        "httpx",
        args.feeds,
        warm["wall"],
        warm["cpu"],
        peak_rss_mb(),
        cycle_rss,
        seed_wall=seed["wall"],
        server=farm_call(args.server, "/_stats"),
        notes={"warm": {str(k): v for k, v in statuses.items()}},
    )


# --- contender: feedparser over the bytes of the first poll ------------------------------


def run_parse(args: argparse.Namespace) -> Figures:
    import feedparser

    bodies = []
    for url in feed_urls(args.server, args.feeds):
        with urllib.request.urlopen(url, timeout=30) as response:
            bodies.append(response.read())
    entries = 0
    with measured() as parsing:
        for body in bodies:
            entries += len(feedparser.parse(body).entries)
    return Figures(
        "parse",
        args.feeds,
        parsing["wall"],
        parsing["cpu"],
        peak_rss_mb(),
        None,
        server=farm_call(args.server, "/_stats"),
        notes={"entries": entries, "bytes": sum(len(body) for body in bodies)},
    )


# --- contender: the naive loop -------------------------------------------------------------


def run_naive(args: argparse.Namespace) -> Figures:
    import feedparser

    urls = feed_urls(args.server, args.feeds)
    sample = sorted(random.Random(3).sample(range(args.feeds), min(args.naive_sample, args.feeds)))
    farm_call(args.server, f"/_bump?share={args.changed_share}")
    farm_call(args.server, "/_reset_stats")
    entries = 0
    hwm = reset_peak_rss()
    with measured() as warm:
        for n in sample:
            entries += len(feedparser.parse(urls[n]).entries)
    cycle_rss = vm_hwm_mb() if hwm else None
    scale = args.feeds / len(sample)
    return Figures(
        "naive",
        args.feeds,
        warm["wall"] * scale,
        warm["cpu"] * scale,
        peak_rss_mb(),
        cycle_rss,
        sampled=len(sample),
        server=farm_call(args.server, "/_stats"),
        notes={"entries_in_sample": entries, "scale": round(scale, 3)},
    )


RUNNERS: dict[str, Callable[[argparse.Namespace], Figures | Awaitable[Figures]]] = {
    "parse": run_parse,
    "ours": run_ours,
    "httpx": run_httpx,
    "naive": run_naive,
}


def run_contender(args: argparse.Namespace) -> Figures:
    logging.basicConfig(level=logging.WARNING)
    result = RUNNERS[args.contender](args)
    if asyncio.iscoroutine(result):
        return asyncio.run(result)
    assert isinstance(result, Figures)
    return result


# --- orchestration -------------------------------------------------------------------------


@contextlib.contextmanager
def feed_farm(feeds: int, eval_dir: Path) -> Iterator[str]:
    """The farm in a child process; yields its base URL."""
    command = [sys.executable, "-m", "bench.data", "serve", "--feeds", str(feeds)]
    command += ["--eval-dir", str(eval_dir)]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("port "):
            raise SystemExit(f"feed farm did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def contender_process(name: str, server: str, args: argparse.Namespace) -> Figures:
    command = [sys.executable, "-m", "bench.poll_cycle", "--contender", name, "--server", server]
    command += ["--feeds", str(args.feeds), "--changed-share", str(args.changed_share)]
    command += ["--concurrency", str(args.concurrency), "--per-host", str(args.per_host)]
    command += ["--naive-sample", str(args.naive_sample), "--topics", str(args.topics)]
    command += ["--lane", args.lane]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        command += ["--profile", str(args.profile.resolve())]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"contender {name} failed (exit {done.returncode})")
    return Figures(**json.loads(done.stdout.strip().splitlines()[-1]))


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(results: dict[str, Figures], args: argparse.Namespace) -> None:
    print(
        f"\npoll cycle: {args.feeds} feeds on 127.0.0.1, {args.changed_share:.0%} changed, "
        f"concurrency {args.concurrency}, per-host {args.per_host}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[1]:.1f} (5 min; other work on the machine skews wall time)"
    )
    print(
        f"{'contender':<10} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'cycle RSS MB':>13} "
        f"{'200s':>6} {'304s':>6}  notes"
    )
    for name, fig in results.items():
        note = f"sample of {fig.sampled}, scaled" if fig.sampled else ""
        if name == "ours":
            note = f"seed {fig.seed_wall:.1f}s; warm {fig.notes['warm']}; "
            note += f"{fig.notes['new_items']} new items, {fig.notes['alerts']} alerts"
            note += (
                f"; RSS {mb(fig.notes['rss_after_setup_mb'])} MB after setup, "
                f"{mb(fig.notes['rss_after_seed_mb'])} MB after seed"
            )
            if fig.notes["lane"] == "process":
                note += (
                    f"; helper process (included): {fig.notes['helper_cpu_s']} s CPU, "
                    f"{mb(fig.notes['helper_rss_after_seed_mb'])} MB after seed, peak "
                    f"{fig.notes['helper_peak_rss_mb']} MB, "
                    f"{fig.notes['helper_cycle_peak_rss_mb']} MB in the cycle"
                )
            if fig.notes["seed_errors"]:
                note += f"; seed errors {fig.notes['seed_errors']}"
            if fig.notes["errors"]:
                note += f"; errors {fig.notes['errors']}"
        print(
            f"{name:<10} {fig.wall:>8.2f} {fig.cpu:>8.2f} {mb(fig.peak_rss_mb):>12} "
            f"{mb(fig.cycle_rss_mb):>13} {fig.server.get('200', 0):>6} "
            f"{fig.server.get('304', 0):>6}  {note}"
        )
    ours = results.get("ours")
    if ours is None:
        return
    print()
    if "naive" in results:
        ratio = results["naive"].wall / ours.wall
        verdict = "met" if ratio >= TARGET_VS_NAIVE else "MISSED"
        print(f"ours vs naive: {ratio:.1f}x faster (target >= {TARGET_VS_NAIVE:g}x: {verdict})")
    if "httpx" in results:
        ratio = ours.wall / results["httpx"].wall
        verdict = "met" if ratio <= TARGET_VS_HTTPX else "MISSED"
        print(
            f"ours vs httpx alone: {ratio:.2f}x the time "
            f"(target <= {TARGET_VS_HTTPX:g}x: {verdict})"
        )
    if "parse" in results:
        feeds = ours.feeds
        first = ours.notes["first_poll_cpu_s"] / feeds * 1000
        parse = results["parse"].cpu / feeds * 1000
        ratio = first / parse
        verdict = "met" if ratio <= TARGET_FIRST_POLL else "MISSED"
        print(
            f"first poll, start-up included: {first:.1f} ms CPU per feed; feedparser.parse of "
            f"the same bytes {parse:.1f} ms: {ratio:.2f}x (target <= {TARGET_FIRST_POLL:g}x: "
            f"{verdict})"
        )
    verdict = "met" if ours.peak_rss_mb < TARGET_RSS_MB else "MISSED"
    print(f"ours peak RSS: {ours.peak_rss_mb:.0f} MB (target < {TARGET_RSS_MB:g} MB: {verdict})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.poll_cycle", description=__doc__)
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--changed-share", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--per-host", type=int, default=50)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--naive-sample", type=int, default=300, help="feeds the naive loop times")
    parser.add_argument(
        "--lane",
        choices=("process", "thread"),
        default="process",
        help="where ours reads and stores fetched feeds: the helper process (the bot's default) "
        "or a thread of its own process",
    )
    parser.add_argument("--only", choices=CONTENDERS, action="append", help="run just these")
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        help="with py-spy installed: write raw stacks of our seed and warm cycles to this folder",
    )
    parser.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.contender and args.server:
        print(json.dumps(asdict(run_contender(args))), flush=True)
        return 0
    names = args.only or list(CONTENDERS)
    results: dict[str, Figures] = {}
    with feed_farm(args.feeds, args.eval_dir) as server:
        for name in names:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = contender_process(name, server, args)
    report(results, args)
    if args.json:
        print(json.dumps({name: asdict(fig) for name, fig in results.items()}))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
