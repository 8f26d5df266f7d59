"""Scale-out benchmark: source refreshes per second with 1, 2 and 4 worker processes.

A feed farm in its own process (an asyncio HTTP/1.1 server on 127.0.0.1, keep-alive, ETag and
304 answers; the server loop is the one of `bench.data`) serves N synthetic RSS feeds. Feed
`n` starts with one item; `GET /_bump?share=0.1` gives that share of the feeds a new item
(a distinct story: random words, a couple of them topic words, so some match). The bench
seeds a fresh PostgreSQL database with N global sources and 200 topics in 50 chats, then:

  cold    4 workers run every source's first poll (records the item, no alerts)
  1, 2, 4 the farm gives 10% of the feeds a new item, every source is made due at once, and
          W real `summit-watch run --role worker` processes refresh them all: 90% answer
          304 Not Modified, 10% bring a new story that is deduplicated, matched and queued

Per pass: wall time until every source was refreshed, the steady rate (5% to 95% done), CPU
seconds of the workers, of PostgreSQL (every child of the postmaster) and of the farm, per
refresh, and the database's committed transactions per refresh (pg_stat_database). Then a
latency pass: one `--role bot` process and one worker against the fake Bot API, one new
matching story at a time, and the time from the outbox row's commit to Telegram accepting the
alert (the bot is woken by the worker's NOTIFY).

Run from the repository root (needs a PostgreSQL server; the bench creates a database
`sw_bench_…` there and drops it at the end)::

    python -m bench.scale_out --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python -m bench.scale_out --feeds 5000 --workers 1,2     # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from bench.data import REPO_ROOT, WORDS, topic_queries

CHATS = 50
TOPICS = 200
KEEP_ITEMS = 3
BASE_TIME = 1_735_689_600  # items are hours apart: the adaptive schedule stays long
SYLLABLES = (
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "pa", "do", "fe", "gu", "hi", "ja",
    "be", "co", "di", "fo", "ga", "ho", "ji", "ku", "la", "mo", "nu", "po", "ri", "si", "tu",
)  # fmt: skip
RUNNING_LINE = "Summit Watch is running"


# --- the feed farm ----------------------------------------------------------------------------


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def story(n: int, version: int) -> tuple[str, str]:
    """A distinct story for feed `n` at `version`: random words and two topic words."""
    rng = random.Random(n * 100_003 + version)
    title = [word(rng) for _ in range(6)] + rng.sample(WORDS, 2)
    rng.shuffle(title)
    lead = " ".join(word(rng) for _ in range(30))
    return " ".join(title).capitalize(), lead.capitalize() + "."


class Farm:
    def __init__(self, feeds: int) -> None:
        self.versions = [0] * feeds
        self.bodies: list[bytes] = [self.render(n) for n in range(feeds)]
        self.bumps = 0
        self.stats: dict[str, int] = {"200": 0, "304": 0}

    def render(self, n: int) -> bytes:
        version = self.versions[n]
        items = []
        for v in range(version, max(-1, version - KEEP_ITEMS), -1):
            title, lead = story(n, v)
            link = f"https://bench.example/{n}/{v}"
            items.append(
                f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
                f"<pubDate>{formatdate(BASE_TIME + v * 7200, usegmt=True)}</pubDate>"
                f"<description>{escape(lead)}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench feed {n}</title><link>https://bench.example/{n}</link>"
            f"<description>bench</description>{''.join(items)}</channel></rss>"
        ).encode()

    def bump(self, share: float) -> int:
        self.bumps += 1
        rng = random.Random(self.bumps)
        chosen = rng.sample(range(len(self.versions)), round(share * len(self.versions)))
        for n in chosen:
            self.versions[n] += 1
            self.bodies[n] = self.render(n)
        return len(chosen)

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        if parts.path.startswith("/f/") and parts.path.endswith(".xml"):
            try:
                n = int(parts.path[3:-4])
                body = self.bodies[n]
            except (ValueError, IndexError):
                return 404, {"Content-Type": "text/plain"}, b"no such feed"
            etag = f'"{n}-{self.versions[n]}"'
            out = {"Content-Type": "application/rss+xml", "ETag": etag}
            if headers.get("if-none-match") == etag:
                self.stats["304"] += 1
                return 304, out, b""
            self.stats["200"] += 1
            return 200, out, body
        if parts.path == "/_bump":
            share = float(parse_qs(parts.query).get("share", ["0.1"])[0])
            changed = self.bump(share)
            return 200, {"Content-Type": "application/json"}, json.dumps(changed).encode()
        if parts.path == "/_stats":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.stats).encode()
        return 404, {"Content-Type": "text/plain"}, b"not found"


async def _serve_connection(
    farm: Farm, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    reasons = {200: "OK", 304: "Not Modified", 404: "Not Found"}
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                return
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            status, out, body = farm.answer(target, headers)
            head_lines = [f"HTTP/1.1 {status} {reasons.get(status, 'X')}"]
            head_lines += [f"{k}: {v}" for k, v in out.items()]
            if status != 304:
                head_lines.append(f"Content-Length: {len(body)}")
            data = ("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1")
            writer.write(data + body if method != "HEAD" and status != 304 else data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(feeds: int) -> None:
    farm = Farm(feeds)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(farm, r, w), "127.0.0.1", 0, backlog=4096
    )
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


# --- measuring -------------------------------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu(parent: int) -> dict[int, float]:
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            out[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


@dataclass
class Pass:
    label: str
    workers: int
    sources: int
    wall: float = 0.0
    steady_rate: float = 0.0
    worker_cpu: float = 0.0
    pg_cpu: float = 0.0
    farm_cpu: float = 0.0
    commits: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    done: int = 0

    @property
    def rate(self) -> float:
        return self.done / self.wall if self.wall else 0.0

    def row(self) -> str:
        per = max(1, self.done)
        busy = (self.worker_cpu + self.pg_cpu + self.farm_cpu) / self.wall if self.wall else 0
        return (
            f"| {self.label} | {self.workers} | {self.done} | {self.wall:.1f} | {self.rate:.0f} | "
            f"{self.steady_rate:.0f} | {1000 * self.worker_cpu / per:.2f} | "
            f"{1000 * self.pg_cpu / per:.2f} | {1000 * self.farm_cpu / per:.2f} | "
            f"{busy:.2f} | {self.commits / per:.1f} | "
            f"{self.answers.get('200', 0)}/{self.answers.get('304', 0)} |"
        )


HEADER = (
    "| pass | workers | refreshed | wall s | refreshes/s | steady /s (5-95%) | "
    "worker CPU ms/refresh | PostgreSQL CPU ms/refresh | farm CPU ms/refresh | "
    "CPU cores busy | commits/refresh | farm 200/304 |\n|" + "---|" * 12
)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="sw-scale-"))
        self.server_url = args.database_url
        self.dbname = f"sw_bench_{uuid.uuid4().hex[:10]}"
        self.database_url = ""
        self.farm: subprocess.Popen[bytes] | None = None
        self.farm_port = 0
        self.passes = 0

    # -- setup --------------------------------------------------------------------------

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        from bot.storage.db import normalize_database_url

        admin_url = make_url(normalize_database_url(self.server_url))
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.dbname}"'))
        self.database_url = admin_url.set(database=self.dbname).render_as_string(
            hide_password=False
        )
        try:
            yield self.database_url
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)'))
            admin.dispose()

    @contextlib.contextmanager
    def feed_farm(self) -> Iterator[int]:
        self.farm = subprocess.Popen(
            [sys.executable, "-m", "bench.scale_out", "serve", "--feeds", str(self.args.feeds)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
        )
        assert self.farm.stdout is not None
        line = self.farm.stdout.readline().decode()
        self.farm_port = int(line.split()[1])
        try:
            yield self.farm_port
        finally:
            self.farm.terminate()
            self.farm.wait(10)

    def farm_get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.farm_port}{path}") as answer:
            return json.loads(answer.read())

    def seed(self) -> None:
        from sqlalchemy import insert

        from bot.scale.queue import ensure_queue_schema
        from bot.storage.db import make_engine
        from bot.storage.migrate import upgrade_database
        from bot.storage.models import Source
        from bot.storage.store import Store

        engine = make_engine(self.database_url)
        upgrade_database(engine)
        ensure_queue_schema(engine)
        store = Store(engine)
        queries = topic_queries(TOPICS)
        for chat in range(CHATS):
            store.ensure_chat(9000 + chat)
        for n, query in enumerate(queries):
            store.add_topic(9000 + n % CHATS, query, limit=TOPICS)
        later = datetime.now(UTC) + timedelta(days=365)
        rows = [
            {
                "url": f"http://127.0.0.1:{self.farm_port}/f/{n}.xml",
                "name": f"Bench feed {n}",
                "kind": "feed",
                "is_global": True,
                "initialized": False,
                "error_streak": 0,
                "polls": 0,
                "not_modified_count": 0,
                "retired": False,
                "next_check_at": later,
                "created_at": datetime.now(UTC),
            }
            for n in range(self.args.feeds)
        ]
        with engine.begin() as connection:
            for start in range(0, len(rows), 5000):
                connection.execute(insert(Source), rows[start : start + 5000])
        engine.dispose()

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "TELEGRAM_BOT_TOKEN": "",
                "POLL_INTERVAL": "3600",
                "POLL_MIN_INTERVAL": "3600",
                "ALLOW_PRIVATE_NETWORKS": "true",
                "FETCH_PER_HOST": "100000",  # every feed is on 127.0.0.1: not the thing measured
                "FULL_TEXT": "false",
                "NEWS_SEARCH": "false",
                "LOG_LEVEL": "INFO",
                "HEALTH_PORT": "0",
                "SOURCES_FILE": str(self.tmp / "none.toml"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    # -- a pass -------------------------------------------------------------------------

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        from bot.scale.pg import conninfo

        with psycopg.connect(conninfo(self.database_url), autocommit=True) as connection:
            cursor = connection.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []

    def start_workers(self, count: int) -> list[subprocess.Popen[bytes]]:
        procs = []
        for n in range(count):
            log = (self.tmp / f"pass{self.passes}-worker{n}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "run", "--role", "worker"],
                    cwd=self.tmp,
                    env=self.worker_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 120
        for n in range(count):
            path = self.tmp / f"pass{self.passes}-worker{n}.log"
            while RUNNING_LINE not in path.read_text(errors="replace"):
                if time.monotonic() > deadline or procs[n].poll() is not None:
                    stop_all(procs)
                    raise SystemExit(f"worker {n} did not start:\n{path.read_text()}")
                time.sleep(0.1)
        return procs

    def run_pass(self, label: str, workers: int) -> Pass:
        self.passes += 1
        target = self.passes  # every source is refreshed once per pass
        result = Pass(label, workers, self.args.feeds)
        procs = self.start_workers(workers)
        try:
            self.measure(result, procs, target)
        finally:
            stop_all(procs)
        return result

    def measure(self, result: Pass, procs: list[subprocess.Popen[bytes]], target: int) -> None:
        label = result.label
        postmaster = int(self.sql("SELECT pg_backend_pid()")[0][0])
        postmaster = int(Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()[1])
        farm_pid = self.farm.pid if self.farm else 0
        time.sleep(1.0)
        commits0 = self.commits()
        pg0 = children_cpu(postmaster)
        workers0 = [cpu_seconds(p.pid) for p in procs]
        farm0 = cpu_seconds(farm_pid)
        answers0 = self.farm_get("/_stats")
        started = time.monotonic()
        self.sql("UPDATE source SET next_check_at = now()")
        timeline: list[tuple[float, int]] = []
        done = 0
        while done < self.args.feeds and time.monotonic() - started < self.args.timeout:
            time.sleep(0.5)
            done = int(self.sql("SELECT count(*) FROM source WHERE polls >= %(t)s", t=target)[0][0])
            timeline.append((time.monotonic() - started, done))
            print(f"  {label}: {done}/{self.args.feeds}", file=sys.stderr, end="\r", flush=True)
        print(file=sys.stderr)
        result.wall = time.monotonic() - started
        result.done = done
        pg1 = children_cpu(postmaster)
        result.pg_cpu = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
        result.worker_cpu = sum(
            cpu_seconds(p.pid) - before for p, before in zip(procs, workers0, strict=True)
        )
        result.farm_cpu = cpu_seconds(farm_pid) - farm0
        time.sleep(1.0)  # statistics are flushed about once a second
        result.commits = self.commits() - commits0
        answers1 = self.farm_get("/_stats")
        result.answers = {k: answers1[k] - answers0.get(k, 0) for k in answers1}
        result.steady_rate = steady(timeline, self.args.feeds)

    def commits(self) -> int:
        rows = self.sql(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %(db)s", db=self.dbname
        )
        return int(rows[0][0])

    # -- latency ------------------------------------------------------------------------

    async def latency(self, rounds: int) -> list[float]:
        """Outbox commit to alert accepted, with one bot and one worker (a fresh database)."""
        sys.path.insert(0, str(REPO_ROOT))
        from bot.storage.db import make_engine
        from bot.storage.migrate import upgrade_database
        from bot.storage.models import Delivery
        from bot.storage.store import Store
        from tests.support.fake_telegram import FakeTelegram
        from tests.support.feedserver import FeedServer
        from tests.support.harness import Entry, rss, write_sources

        chat = 4242
        out: list[float] = []
        engine = make_engine(self.database_url)
        store = Store(engine)
        upgrade_database(engine)
        store.ensure_chat(chat)
        store.add_topic(chat, "Putin Modi summit")
        with FakeTelegram() as fake, FeedServer() as feeds:
            feeds.set("/lat.xml", rss([], title="Latency"))
            sources = write_sources(self.tmp / "sources.toml", {"Latency": feeds.url("/lat.xml")})
            env = self.worker_env(
                TELEGRAM_BOT_TOKEN=fake.token,
                TELEGRAM_API_URL=fake.base_url,
                TELEGRAM_POLL_TIMEOUT="1",
                POLL_INTERVAL="1",
                POLL_MIN_INTERVAL="120",
                SOURCES_FILE=str(sources),
                LOG_LEVEL="INFO",
            )
            procs = []
            for role in ("bot", "worker"):
                log = (self.tmp / f"latency-{role}.log").open("wb")
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", "run", "--role", role],
                        cwd=self.tmp,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            try:
                await asyncio.sleep(8)  # both running and the source initialized
                entries: list[Any] = []
                for n in range(rounds):
                    words = " ".join(story(n, 0)[0].split()[:4])
                    title = f"Putin and Modi summit, day {n}: {words}"
                    entries.insert(0, Entry(title, f"https://latency.example/{n}", story(n, 1)[1]))
                    feeds.set("/lat.xml", rss(entries, title="Latency"))
                    ok = await fake.await_for(partial(has_alerts, chat=chat, count=n + 1), 30)
                    if not ok:
                        print(f"  latency round {n}: no alert", file=sys.stderr)
                        continue
                    await asyncio.sleep(1.5)
                sent = [m for m in fake.sent_to(chat) if m.method == "sendMessage"]
                with store.session() as session:
                    from sqlmodel import col, select

                    rows = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
                # The fake stamps messages with time.monotonic(), the worker rows with the
                # wall clock: one machine, so one offset converts.
                offset = time.time() - time.monotonic()
                for row, message in zip(rows, sent, strict=False):
                    out.append(message.time - (row.created_at.timestamp() - offset))
            finally:
                stop_all(procs)
        engine.dispose()
        return out


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def has_alerts(fake: Any, *, chat: int, count: int) -> bool:
    return sum(1 for m in fake.sent_to(chat) if m.method == "sendMessage") >= count


def steady(timeline: list[tuple[float, int]], total: int) -> float:
    """Refreshes per second between 5% and 95% done."""
    low = next(((t, d) for t, d in timeline if d >= 0.05 * total), None)
    high = next(((t, d) for t, d in timeline if d >= 0.95 * total), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out")
    commands = parser.add_subparsers(dest="command")
    serve_cmd = commands.add_parser("serve", help="serve the synthetic feed farm")
    serve_cmd.add_argument("--feeds", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--share", type=float, default=0.1, help="feeds with a new item per pass")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", ""),
        help="a PostgreSQL server (default: $TEST_DATABASE_URL)",
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="per pass, seconds")
    parser.add_argument("--latency-rounds", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "serve":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.feeds))
        return 0
    if not args.database_url:
        print("give --database-url (a PostgreSQL server) or set TEST_DATABASE_URL", file=sys.stderr)
        return 2
    counts = [int(part) for part in args.workers.split(",")]
    bench = Bench(args)
    results: list[Pass] = []
    latencies: list[float] = []
    with bench.database(), bench.feed_farm():
        print(f"seeding {args.feeds} sources …", file=sys.stderr)
        t0 = time.monotonic()
        bench.seed()
        print(f"seeded in {time.monotonic() - t0:.1f}s", file=sys.stderr)
        results.append(bench.run_pass("cold (first poll)", max(counts)))
        for count in counts:
            changed = bench.farm_get(f"/_bump?share={args.share}")
            results.append(bench.run_pass(f"warm, {changed} new items", count))
    if args.latency_rounds:
        # The latency pass wants a quiet database of its own.
        quiet = Bench(args)
        quiet.tmp = bench.tmp
        with quiet.database():
            latencies = asyncio.run(quiet.latency(args.latency_rounds))
    print(f"\n{args.feeds} feeds, {os.cpu_count()} CPUs, PostgreSQL on the same machine\n")
    print(HEADER)
    for result in results:
        print(result.row())
    warm = [r for r in results if r.label.startswith("warm")]
    if len(warm) > 1:
        base = warm[0].steady_rate or warm[0].rate
        scaling = ", ".join(
            f"{r.workers} workers x{(r.steady_rate or r.rate) / base:.2f}" for r in warm
        )
        print(f"\nscaling of the steady rate against 1 worker: {scaling}")
    if latencies:
        ordered = sorted(latencies)
        print(
            f"outbox commit to alert accepted ({len(ordered)} alerts, bot woken by NOTIFY): "
            f"median {1000 * ordered[len(ordered) // 2]:.0f} ms, max {1000 * ordered[-1]:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
