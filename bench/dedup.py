"""Dedup lookup cost per item as the database grows: 10k, 100k and 1M stored items.

For each size N the bench creates a fresh database (`upgrade_database`), seeds N stored items
with bulk inserts (SQLAlchemy Core, one transaction), then times `Store.claim_new_items` on
batches of new items:

- "seen": items whose keys are stored (every unchanged feed entry): key lookup, item and story
  read, nothing written.
- "unseen": new items with a near-duplicate signature: key lookup, band lookup within the story
  window, MinHash comparison of the candidate stories, then Item, SeenKey, Story and StoryBand
  inserts. A tenth of them are retitled copies of recent stored stories, so the band lookup
  finds real candidates and folds them into their story.

What is seeded for each item: one Item row (with its story id), three SeenKey rows (URL, guid
and title digests), one Story row with a MinHash, and 48 StoryBand rows when the item is inside
the story window. Items arrive at a steady rate of `--items-per-window` per 7 days (100,000 by
default), so the band table holds at most that many stories' worth of bands, as it does in
production where bands older than the window are pruned. With 1M items that is 1M items, 3M
seen keys, 1M stories and 4.8M band rows. The most recent `POOL` stored stories are real
headlines and leads with their real signatures; the other band keys and MinHash values are
random, as blake2b digests are.

Signatures are computed before the timer starts: the figures are the database work only.

Run from the repository root::

    python -m bench.dedup                                   # 10k, 100k, 1M on SQLite (~5 min)
    python -m bench.dedup --sizes 10000,100000
    python -m bench.dedup --database-url postgresql://user:pass@host/postgres
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col, select

from bench.data import DEFAULT_EVAL_DIR, STORIES_FILE, load_stories
from bench.fanout import fresh_database
from bot import domain
from bot.dedup.near import BANDS, NUM_PERM, StorySignature, signature
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Item, SeenKey, Source, Story, StoryBand
from bot.storage.store import STORY_WINDOW, Candidate, Store

TARGET_RATIO = 1.5  # "flat": at most this much slower per item at 1M than at 10k
BATCH_ROWS = 50_000  # rows per executemany
POOL = 2_000  # most recent stored stories that are real ones, with real signatures
COPY_SHARE = 0.1  # share of unseen items that are retitled copies of pool stories
SOURCE_URL = "https://outlet.example/feed.xml"
SOURCE_NAME = "Bench Outlet"
SOURCE_ID = 1


@dataclass(frozen=True, slots=True)
class Real:
    title: str
    text: str
    sig: StorySignature


@dataclass(frozen=True, slots=True)
class Row:
    n: int
    label: str
    seed_s: float
    band_rows: int
    seen_median: float
    seen_p95: float
    unseen_median: float
    unseen_p95: float
    candidates: float  # band rows matched per unseen item
    stories: float  # distinct candidate stories compared per unseen item


# ------------------------------------------------------------------------------ data


def real_stories(count: int) -> list[Real]:
    """Real 2022 headlines and leads with their signatures, or synthetic ones without the data."""
    out: list[Real] = []
    if (DEFAULT_EVAL_DIR / STORIES_FILE).exists():
        seen_titles: set[str] = set()
        for story in load_stories():
            if story.title in seen_titles:
                continue
            seen_titles.add(story.title)
            sig = signature(story.title, story.text)
            if sig is not None:
                out.append(Real(story.title, story.text, sig))
            if len(out) == count:
                return out
    words = [
        "summit",
        "trade",
        "energy",
        "talks",
        "minister",
        "election",
        "court",
        "strike",
        "market",
        "storm",
    ]
    rng = random.Random(5)
    while len(out) < count:
        title = " ".join(rng.choice(words) for _ in range(8)) + f" {len(out)}"
        body = " ".join(rng.choice(words) for _ in range(40))
        sig = signature(title, body)
        if sig is not None:
            out.append(Real(title, body, sig))
    return out


def digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=16).hexdigest()


def stored_keys(i: int) -> list[str]:
    """The three seen keys of stored item i: URL, guid and title digests, as `item_keys` has."""
    return [digest(f"url {i}"), digest(f"guid {i}"), "t:" + digest(f"title {i}")]


def stored_url(i: int) -> str:
    return f"https://outlet.example/news/{i}"


def random_bands() -> list[str]:
    raw = os.urandom(8 * BANDS).hex()
    return [f"{b}:{raw[16 * b : 16 * b + 16]}" for b in range(BANDS)]


# ------------------------------------------------------------------------------ seeding


def batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= BATCH_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bulk(connection: Connection, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    target: Table = table.__table__
    count = 0
    for chunk in batches(rows):
        connection.execute(insert(target), chunk)
        count += len(chunk)
    return count


def seed(url: str, n: int, pool: list[Real], per_window: int, now: datetime) -> int:
    """N stored items with their keys, stories and (inside the window) bands; band rows."""
    step = STORY_WINDOW / per_window
    margin = timedelta(hours=1)  # the newest item is an hour old; banded ones stay in the window
    first_real = n - min(len(pool), n)

    def seen_at(i: int) -> datetime:
        return now - margin - step * (n - 1 - i)

    def real(i: int) -> Real | None:
        return pool[i - first_real] if i >= first_real else None

    def items() -> Iterator[dict[str, Any]]:
        for i in range(n):
            story = real(i)
            when = seen_at(i)
            yield {
                "id": i + 1,
                "source_id": SOURCE_ID,
                "title": story.title if story else f"Stored headline number {i}",
                "url": stored_url(i),
                "guid": stored_url(i),
                "published": when,
                "summary": story.text[:2000] if story else "",
                "language": "en",
                "story_id": i + 1,
                "seen_at": when,
            }

    def keys() -> Iterator[dict[str, Any]]:
        for i in range(n):
            for key in stored_keys(i):
                yield {"key": key, "item_id": i + 1, "seen_at": seen_at(i)}

    def stories() -> Iterator[dict[str, Any]]:
        for i in range(n):
            story = real(i)
            when = seen_at(i)
            yield {
                "id": i + 1,
                "title": story.title if story else f"Stored headline number {i}",
                "url": stored_url(i),
                "outlets": f'["{SOURCE_NAME}"]',
                "minhash": story.sig.minhash if story else os.urandom(4 * NUM_PERM),
                "created_at": when,
                "updated_at": when,
            }

    def bands() -> Iterator[dict[str, Any]]:
        since = now - STORY_WINDOW
        for i in range(n):
            when = seen_at(i)
            if when < since:
                continue
            story = real(i)
            for band in story.sig.bands if story else random_bands():
                yield {"band": band, "story_id": i + 1, "seen_at": when}

    seeder = make_engine(url)
    try:
        with seeder.begin() as connection:
            if seeder.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA cache_size=-1048576")  # 1 GiB, seeding only
            connection.execute(
                insert(Source.__table__),  # type: ignore[attr-defined]
                [{"id": SOURCE_ID, "url": SOURCE_URL, "name": SOURCE_NAME, "is_global": True}],
            )
            bulk(connection, Item, items())
            bulk(connection, SeenKey, keys())
            bulk(connection, Story, stories())
            band_rows = bulk(connection, StoryBand, bands())
        if seeder.dialect.name == "postgresql":
            for table in ("item", "seenkey", "story", "storyband"):
                with seeder.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.exec_driver_sql(f"VACUUM ANALYZE {table}")
            for table in ("item", "story"):  # the bench set the ids itself
                with seeder.begin() as c:
                    c.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n + 1}, false)"
                    )
    finally:
        seeder.dispose()
    return band_rows


# ------------------------------------------------------------------------------ measuring


def seen_batch(n: int, size: int, rng: random.Random) -> list[Candidate]:
    """Stored items again, as an unchanged feed delivers them: keys known, no signature."""
    out = []
    for i in rng.sample(range(n), min(size, n)):
        item = domain.Item(
            source_url=SOURCE_URL,
            source_name=SOURCE_NAME,
            title=f"Stored headline number {i}",
            url=stored_url(i),
            guid=stored_url(i),
            published=None,
            text="",
            summary="",
            language="en",
        )
        out.append(Candidate(item, stored_keys(i), None))
    return out


def unseen_batch(fresh: list[Real], copies: list[Real], tag: str) -> list[Candidate]:
    """New stories, and retitled copies of recent stored ones from another outlet."""
    out = []
    for k, story in enumerate(fresh):
        out.append(new_candidate(story.title, story.text, f"{tag}-{k}", "Bench Outlet"))
    for k, story in enumerate(copies):
        title = "Watch: " + story.title
        out.append(new_candidate(title, story.text, f"{tag}-copy-{k}", "Copy Outlet"))
    return out


def new_candidate(title: str, body: str, slug: str, outlet: str) -> Candidate:
    url = f"https://{outlet.split()[0].lower()}.example/new/{slug}"
    item = domain.Item(
        source_url=SOURCE_URL,
        source_name=outlet,
        title=title,
        url=url,
        guid=url,
        published=None,
        text=body,
        summary=body[:300],
        language="en",
    )
    return Candidate(item, [digest(url), digest("guid " + url), "t:" + digest(title)], None)


def with_signatures(batch: list[Candidate]) -> list[Candidate]:
    return [
        Candidate(c.item, c.keys, signature(c.item.title, c.item.text or c.item.summary))
        for c in batch
    ]


def band_candidates(engine: Engine, batch: list[Candidate]) -> tuple[int, int]:
    """Band rows the lookups of this batch match, and distinct stories (at most 20 an item)."""
    rows = stories = 0
    since = datetime.now(UTC) - STORY_WINDOW
    with Store(engine).session() as session:
        for c in batch:
            if c.signature is None:
                continue
            where = (
                col(StoryBand.band).in_(list(c.signature.bands)),
                col(StoryBand.seen_at) >= since,
            )
            rows += session.exec(select(func.count()).select_from(StoryBand).where(*where)).one()
            ids = session.exec(select(StoryBand.story_id).where(*where).distinct().limit(20))
            stories += len(ids.all())
    return rows, stories


def timed(store: Store, batch: list[Candidate]) -> float:
    """µs per item of one `claim_new_items` call."""
    start = time.perf_counter()
    store.claim_new_items(SOURCE_ID, batch)
    return (time.perf_counter() - start) * 1e6 / len(batch)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def plans(engine: Engine, sig: StorySignature, keys: list[str]) -> list[str]:
    """The query plans of the band lookup and of the key lookup, as the store issues them."""
    since = (datetime.now(UTC) - STORY_WINDOW).strftime("%Y-%m-%d %H:%M:%S.%f")
    bands = ", ".join(f"'{b}'" for b in sig.bands)
    key_list = ", ".join(f"'{k}'" for k in keys)
    queries = {
        "band lookup": "SELECT DISTINCT story_id FROM storyband "
        f"WHERE band IN ({bands}) AND seen_at >= '{since}' LIMIT 20",
        "key lookup": f"SELECT * FROM seenkey WHERE key IN ({key_list})",
    }
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    out = []
    with engine.connect() as connection:
        for name, sql in queries.items():
            rows = connection.execute(text(prefix + sql)).all()
            lines = [str(row[-1]) for row in rows]
            out.append(f"{name}: " + " | ".join(lines))
    return out


def run_size(
    url: str | None,
    n: int,
    reals: list[Real],
    fresh: list[Real],
    args: argparse.Namespace,
) -> tuple[Row, list[str]]:
    pool = reals[:POOL]
    with fresh_database(url) as (db_url, label):
        upgrade_database(make_engine(db_url))
        now = datetime.now(UTC)
        log(f"N={n:,}: seeding")
        start = time.perf_counter()
        band_rows = seed(db_url, n, pool, args.items_per_window, now)
        seed_s = time.perf_counter() - start
        log(f"N={n:,}: seeded in {seed_s:.1f} s ({band_rows:,} band rows); measuring")
        engine = make_engine(db_url)
        store = Store(engine)
        rng = random.Random(n)
        copies_per = round(args.batch * COPY_SHARE)
        stored = pool[: min(len(pool), n)]  # the pool stories stored for this N
        copies = rng.sample(stored, min(copies_per * (args.reps + 1), len(stored)))
        fresh_per = args.batch - copies_per
        seen_us: list[float] = []
        unseen_us: list[float] = []
        matched = compared = unseen_items = 0
        for rep in range(args.reps + 1):  # the first round warms up and is not counted
            seen = seen_batch(n, args.batch, rng)
            lo = rep * fresh_per
            unseen = with_signatures(
                unseen_batch(
                    fresh[lo : lo + fresh_per],
                    copies[rep * copies_per : (rep + 1) * copies_per],
                    f"{n}-{rep}",
                )
            )
            seen_cost = timed(store, seen)
            rows, stories = band_candidates(engine, unseen)
            unseen_cost = timed(store, unseen)
            if rep == 0:
                continue
            seen_us.append(seen_cost)
            unseen_us.append(unseen_cost)
            matched += rows
            compared += stories
            unseen_items += len(unseen)
        example = fresh[-1].sig
        explained = plans(engine, example, stored_keys(0))
        engine.dispose()
    row = Row(
        n=n,
        label=label,
        seed_s=seed_s,
        band_rows=band_rows,
        seen_median=statistics.median(seen_us),
        seen_p95=p95(seen_us),
        unseen_median=statistics.median(unseen_us),
        unseen_p95=p95(unseen_us),
        candidates=matched / unseen_items,
        stories=compared / unseen_items,
    )
    return row, explained


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def print_table(rows: list[Row]) -> None:
    base = rows[0]
    print()
    print(f"Database: {base.label}; µs per item, median and p95 over the batches")
    print(
        "| N | seed time | band rows | µs/item seen (p95) | µs/item unseen (p95) "
        "| band rows matched / stories compared per unseen item | ratio vs first row "
        "(seen / unseen) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.n:,} | {r.seed_s:.1f} s | {r.band_rows:,} "
            f"| {r.seen_median:.0f} ({r.seen_p95:.0f}) "
            f"| {r.unseen_median:.0f} ({r.unseen_p95:.0f}) "
            f"| {r.candidates:.2f} / {r.stories:.2f} "
            f"| {r.seen_median / base.seen_median:.2f}× "
            f"/ {r.unseen_median / base.unseen_median:.2f}× |"
        )
    last = rows[-1]
    worst = max(last.seen_median / base.seen_median, last.unseen_median / base.unseen_median)
    verdict = "met" if worst <= TARGET_RATIO else "NOT met"
    print(
        f"\nTarget (flat: at most {TARGET_RATIO}× per item from {base.n:,} to {last.n:,} items): "
        f"{verdict} (worst ratio {worst:.2f}×)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="stored items, by commas")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--batch", type=int, default=500, help="items per claim_new_items call")
    parser.add_argument("--reps", type=int, default=7, help="timed batches of each kind")
    parser.add_argument(
        "--items-per-window",
        type=int,
        default=100_000,
        help="items stored per 7 days: the band table holds at most this many stories",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    fresh_per = args.batch - round(args.batch * COPY_SHARE)
    log("computing signatures of real stories")
    reals = real_stories(POOL + fresh_per * (args.reps + 1) + 1)
    fresh = reals[POOL:]
    rows: list[Row] = []
    for n in sizes:
        row, explained = run_size(args.database_url, n, reals, fresh, args)
        rows.append(row)
        for line in explained:
            log(f"N={n:,} plan, {line}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
