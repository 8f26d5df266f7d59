"""Story folding, measured on hand-labelled real news days (tests/fixtures/stories).

Stream level: each day's BBC, CNN and Guardian entries (and the 1tv.ru/English bilingual days)
are replayed in publication order through the real folding code, `Store.claim_new_items`, on a
fresh SQLite database, one source per outlet, one chat that gets an alert for every new story.
Scored against the labelled clusters:

- alerts per story, among stories with more than one report (goal <= 1.2);
- later reports folded into their own story (goal >= 70 %);
- wrong merges: folds into a story started by another cluster, as a share of all folds (<= 2 %);
- stories missed: labelled stories that got no alert because their first report was folded
  into another story;
- items/s through `claim_new_items`.

Every figure is printed for the term measure (`bot.dedup.stories`) and for the MinHash-only
rule, in the same run. 2022-02-01 is held out: nothing was tuned on it; it is printed apart.

Pair level: precision and recall of "same story" on STS-B news pairs and MSRP, both rules.

Cost: the time to fold a report with 1k and with 100k stories in the term window, against the
MinHash-only path on the same databases (goal: flat, and within 2x of MinHash-only).

Run from the repository root::

    python -m bench.stories                 # all of it (~2 min)
    python -m bench.stories --skip-cost     # quality only
    python -m bench.stories --sweep         # quality for other thresholds (in-memory replay)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot import defaults, domain
from bot.dedup import near, stories, terms
from bot.dedup.fingerprint import url_key
from bot.match import load_aliases
from bot.pipeline.keys import item_keys
from bot.render.format import AlertView
from bot.sources.normalize import normalize_entry
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Story, StoryBand, StoryTerm
from bot.storage.store import AlertDraft, Candidate, Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "stories"
ALIASES = terms.TermAliases.from_aliases(load_aliases(defaults.ALIASES))

Decide = Callable[[stories.Report, Sequence[stories.StoryState]], stories.Fold | None]


def minhash_only(
    report: stories.Report, states: Sequence[stories.StoryState]
) -> stories.Fold | None:
    """The rule before story terms: a MinHash copy, or nothing."""
    return stories.decide(stories.Report(report.outlet, report.at, {}, report.signature), states)


RULES: dict[str, Decide] = {"minhash": minhash_only, "stories": stories.decide}


# --- the labelled set ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Labelled:
    item: domain.Item
    cluster: str
    day: str
    held_out: bool


def load(name: str) -> list[Labelled]:
    """Labelled items in publication order, normalized as the poller normalizes feed entries."""
    out: list[Labelled] = []
    with open(FIXTURES / name, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            published = datetime.fromisoformat(row["published"]).astimezone(UTC)
            entry = domain.FeedEntry(
                title=row["title"],
                link=row["link"],
                guid=row["link"],
                published=published,
                content_html=row["description"],
                language=row["language"],
            )
            item = normalize_entry(entry, source_url=row["feed"], source_name=row["outlet"])
            day = row.get("day") or published.date().isoformat()
            out.append(Labelled(item, row["cluster"], day, bool(row.get("held_out"))))
    out.sort(key=lambda x: (x.item.published or datetime.min.replace(tzinfo=UTC), x.item.url))
    return out


def report_of(item: domain.Item) -> stories.Report:
    return stories.report_of(item, ALIASES)


def candidate_of(item: domain.Item) -> Candidate:
    report = report_of(item)
    return Candidate(item, item_keys(item), report.signature, report)


# --- scoring ------------------------------------------------------------------------------------


@dataclass
class Score:
    items: int = 0
    multi: int = 0  # labelled stories with more than one report
    alerts_multi: int = 0  # alerts those stories got
    later: int = 0  # their reports after the first
    folded_right: int = 0  # of those, folded into a story their own cluster started
    folds: int = 0
    wrong: int = 0  # folds into a story another cluster started
    missed: int = 0  # stories that got no alert
    seconds: float = 0.0
    wrong_examples: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name in ("items", "multi", "alerts_multi", "later", "folded_right", "folds", "wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.missed += other.missed
        self.seconds += other.seconds
        self.wrong_examples += other.wrong_examples

    def line(self, name: str) -> str:
        per_story = self.alerts_multi / self.multi if self.multi else 0.0
        folded = self.folded_right / self.later if self.later else 0.0
        wrong = self.wrong / self.folds if self.folds else 0.0
        rate = self.items / self.seconds if self.seconds else 0.0
        return (
            f"{name:<24} {self.items:>5} {self.multi:>5} {per_story:>10.2f} {folded:>9.0%}"
            f" {self.folds:>6} {wrong:>7.1%} {self.missed:>6} {rate:>9.0f}"
        )


HEADER = (
    f"{'':<24} {'items':>5} {'multi':>5} {'alerts/st':>10} {'folded':>9}"
    f" {'folds':>6} {'wrong':>7} {'missed':>6} {'items/s':>9}"
)


def score(labelled: Sequence[Labelled], story_of: Sequence[int], started: Sequence[bool]) -> Score:
    """`story_of[i]`: the story item i ended in; `started[i]`: whether it started (alerted) it."""
    result = Score(items=len(labelled))
    founder: dict[int, str] = {}
    for entry, story, new in zip(labelled, story_of, started, strict=True):
        if new:
            founder[story] = entry.cluster
    size = Counter(entry.cluster for entry in labelled)
    alerts: Counter[str] = Counter()
    seen: set[str] = set()
    for entry, story, new in zip(labelled, story_of, started, strict=True):
        first = entry.cluster not in seen
        seen.add(entry.cluster)
        if not first and size[entry.cluster] > 1:
            result.later += 1
        if new:
            alerts[entry.cluster] += 1
            continue
        result.folds += 1
        if founder.get(story) != entry.cluster:
            result.wrong += 1
            result.wrong_examples.append(f"{entry.item.title[:70]!r} -> {founder.get(story)}")
        elif not first:
            result.folded_right += 1
    result.multi = sum(1 for n in size.values() if n > 1)
    result.alerts_multi = sum(alerts[c] for c, n in size.items() if n > 1)
    result.missed = sum(1 for c in size if alerts[c] == 0)
    return result


# --- replay through the store -------------------------------------------------------------------


def fresh_store(directory: str) -> Store:
    path = Path(directory) / f"stories-{time.monotonic_ns()}.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    return Store(engine)


def replay(labelled: Sequence[Labelled], rule: str, directory: str) -> Score:
    """The items through `Store.claim_new_items`, one source per outlet, one alert per story."""
    store = fresh_store(directory)
    store.ensure_chat(1)
    ids: dict[str, int] = {}
    for entry in labelled:
        url = entry.item.source_url
        if url not in ids:
            source, _ = store.add_chat_source(1, url, name=entry.item.source_name)
            assert source.id is not None
            ids[url] = source.id
    candidates = [candidate_of(entry.item) for entry in labelled]
    alerts = [{0: [alert(entry.item)]} for entry in labelled]  # chat 1 hears of every story
    started: list[bool] = []
    began = time.perf_counter()
    for entry, candidate, drafts in zip(labelled, candidates, alerts, strict=True):
        ingested = store.claim_new_items(
            ids[entry.item.source_url], [candidate], drafts, decide=RULES[rule]
        )
        started.append(bool(ingested.claimed))
    seconds = time.perf_counter() - began
    story_of = [story_id(store, entry.item) for entry in labelled]
    result = score(labelled, story_of, started)
    result.seconds = seconds
    store.engine.dispose()
    return result


def alert(item: domain.Item) -> AlertDraft:
    view = AlertView(item.title, item.url, item.summary, item.source_name, item.published, "")
    return AlertDraft(1, None, None, view.to_json(), item.url)


def story_id(store: Store, item: domain.Item) -> int:
    """The story an item ended in, through its URL key (copies folded by key have no row)."""
    found = store.story_of_key(url_key(item.url))
    return found if found is not None else -1


# --- in-memory replay for sweeps ----------------------------------------------------------------


def simulate(labelled: Sequence[Labelled], decide: Decide) -> Score:
    """`claim_new_items`'s fold logic without a database: for trying parameters quickly."""
    states: dict[int, stories.StoryState] = {}
    postings: dict[str, list[int]] = defaultdict(list)
    bands: dict[str, set[int]] = defaultdict(set)
    keys: dict[str, int] = {}
    story_of: list[int] = []
    started: list[bool] = []
    for entry in labelled:
        item = entry.item
        item_key = item_keys(item)
        known = next((keys[k] for k in item_key if k in keys), None)
        if known is not None:
            story_of.append(known)
            started.append(False)
            continue
        report = report_of(item)
        found: Counter[int] = Counter()
        for term in stories.query_terms(report):
            found.update(postings[term][-50:])
        ids = [s for s, _ in found.most_common(stories.CANDIDATES)]
        for band in report.signature.bands if report.signature else ():
            ids += [s for s in bands[band] if s not in ids]
        fold = decide(report, [states[i] for i in ids])
        if fold is None:
            sid = len(states) + 1
            centroid, index = stories.start_centroid(report)
            states[sid] = stories.StoryState(sid, (report.outlet,), centroid, report.at, None)
            if report.signature:
                states[sid] = stories.StoryState(
                    sid, (report.outlet,), centroid, report.at, report.signature.minhash
                )
        else:
            sid = fold.story_id
            old = states[sid]
            outlets = old.outlets + ((report.outlet,) if report.outlet not in old.outlets else ())
            states[sid] = stories.StoryState(
                sid, outlets, fold.centroid, fold.centroid_at, old.minhash
            )
            index = fold.index_terms
        for term in index:
            if sid not in postings[term]:
                postings[term].append(sid)
        for band in report.signature.bands if report.signature else ():
            bands[band].add(sid)
        for k in item_key:
            keys[k] = sid
        story_of.append(sid)
        started.append(fold is None)
    return score(labelled, story_of, started)


def by_day(labelled: Sequence[Labelled]) -> dict[str, list[Labelled]]:
    days: dict[str, list[Labelled]] = defaultdict(list)
    for entry in labelled:
        days[entry.day].append(entry)
    return dict(sorted(days.items()))


def sweep(days: list[Labelled]) -> None:
    tuning = [e for e in days if not e.held_out]
    print("In-memory replay of the tuning days (held-out day not used):")
    print(f"{'threshold':<12}{'min shared':<11}" + HEADER[24:])
    for min_shared in (1, 2, 3):
        for threshold in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            stories.THRESHOLD, stories.MIN_SHARED = threshold, min_shared
            total = Score()
            for day in by_day(tuning).values():
                total.add(simulate(day, stories.decide))
            print(f"{threshold:<12}{min_shared:<11}" + total.line("")[24:])


# --- pair level ---------------------------------------------------------------------------------


def pair_level() -> None:
    from bench import near_duplicates as nd

    if not (nd.EVAL_DIR / "near-duplicates").exists():
        print("pair level: ../shared/eval/near-duplicates is absent, skipped")
        return
    sigs = nd.Signatures()

    def by_terms(pair: nd.Pair) -> tuple[bool, float]:
        a = terms.story_terms(pair.a.title, pair.a.text, "en", ALIASES)
        b = terms.story_terms(pair.b.title, pair.b.text, "en", ALIASES)
        copy, _ = nd.decide_same_story(sigs)(pair)
        if copy:
            return True, 1.0
        if min(len(a), len(b)) < stories.MIN_TERMS:
            return False, 0.0
        value = terms.cosine(a, b)
        enough = len(terms.shared(a, b)) >= stories.MIN_SHARED
        return enough and value >= stories.THRESHOLD, value

    print("\nPair level ('same story'), MinHash-only vs MinHash + story terms:")
    print(f"{'set':<22}{'pairs':>7}{'P minhash':>11}{'R minhash':>11}{'P terms':>9}{'R terms':>9}")
    for name, pairs in (("STS-B news", nd.sts_pairs()), ("MSRP", nd.msrp_pairs())):
        old = nd.total(nd.score(pairs, nd.decide_same_story(sigs)))
        new = nd.total(nd.score(pairs, by_terms))
        print(
            f"{name:<22}{len(pairs):>7}{old.precision:>11.2f}{old.recall:>11.2f}"
            f"{new.precision:>9.2f}{new.recall:>9.2f}"
        )


# --- cost ---------------------------------------------------------------------------------------


def seed_stories(store: Store, count: int, pool: Sequence[Labelled]) -> None:
    """`count` stories within the term window, as claiming would have left them: real centroids
    and index terms of the labelled items (so common terms have long posting lists), real
    MinHash bands for the first of them and random ones for the rest."""
    reports = [report_of(e.item) for e in pool]
    now = datetime.now(UTC)
    span = stories.TERM_WINDOW.total_seconds() * 0.9
    story_rows: list[dict[str, object]] = []
    term_rows: list[dict[str, object]] = []
    band_rows: list[dict[str, object]] = []
    for n in range(count):
        base = reports[n % len(reports)]
        at = now - timedelta(seconds=span * (count - n) / count)
        centroid, index = stories.start_centroid(base)
        sid = n + 1
        story_rows.append(
            {
                "id": sid,
                "title": f"seed {n}",
                "url": f"https://seed.example/{n}",
                "outlets": json.dumps([base.outlet]),
                "minhash": base.signature.minhash if base.signature else None,
                "created_at": at,
                "updated_at": at,
                "terms": stories.centroid_json(centroid),
                "terms_at": at,
                "updates": 0,
            }
        )
        term_rows += [{"term": t, "story_id": sid, "seen_at": at} for t in index]
        if n < len(reports) and base.signature:
            band_rows += [{"band": b, "story_id": sid, "seen_at": at} for b in base.signature.bands]
    with store.engine.begin() as connection:
        for model, rows in ((Story, story_rows), (StoryTerm, term_rows), (StoryBand, band_rows)):
            table = model.__table__  # type: ignore[attr-defined]
            for start in range(0, len(rows), 50_000):
                connection.execute(table.insert(), rows[start : start + 50_000])
        # Random band keys for the other stories, made by SQLite itself (millions of rows).
        connection.execute(
            text(
                "INSERT INTO storyband (band, story_id, seen_at) "
                "SELECT b.n || ':' || lower(hex(randomblob(8))), s.id, s.created_at "
                "FROM story AS s, (WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL "
                f"SELECT n + 1 FROM c WHERE n < {near.BANDS - 1}) SELECT n FROM c) AS b "
                "WHERE s.id > :real"
            ),
            {"real": len(reports)},
        )


def cost(pool: Sequence[Labelled], sizes: Sequence[int], directory: str, repeats: int) -> None:
    began = time.perf_counter()
    for entry in pool:
        terms.story_terms(entry.item.title + " ", entry.item.text, entry.item.language, ALIASES)
    per_report = (time.perf_counter() - began) / len(pool) * 1000
    print(f"\nStory terms of a report (lemmas, rarity, aliases): {per_report:.2f} ms")
    print(f"Folding cost per report (median of {repeats}), both rules on the same databases:")
    print(f"{'stories':>9}{'minhash ms':>12}{'stories ms':>12}{'ratio':>8}")
    probes = [e.item for e in pool[:repeats]]
    for size in sizes:
        store = fresh_store(directory)
        store.ensure_chat(1)
        added, _ = store.add_chat_source(1, "https://bench.example/feed", name="Bench")
        assert added.id is not None
        source = added.id
        seed_stories(store, size, pool)
        spent: dict[str, list[float]] = {"minhash": [], "stories": []}
        for n, item in enumerate(probes):
            for rule in spent:  # alternating, so both see the same database
                moved = domain.Item(
                    **{**_fields(item), "url": f"{item.url}?{rule}{n}", "guid": None}
                )
                report = report_of(moved)
                candidate = Candidate(
                    moved,
                    [url_key(moved.url)],
                    report.signature,
                    report if rule == "stories" else None,  # MinHash-only: no term lookup
                )
                began = time.perf_counter()
                store.claim_new_items(source, [candidate], {}, decide=RULES[rule])
                spent[rule].append(time.perf_counter() - began)
        timings = {rule: statistics.median(values) * 1000 for rule, values in spent.items()}
        print(
            f"{size:>9}{timings['minhash']:>12.2f}{timings['stories']:>12.2f}"
            f"{timings['stories'] / timings['minhash']:>8.2f}"
        )
        store.engine.dispose()


def _fields(item: domain.Item) -> dict[str, object]:
    return {name: getattr(item, name) for name in domain.Item.__dataclass_fields__}


# --- main ---------------------------------------------------------------------------------------


def stream_level(directory: str) -> None:
    days = load("days.jsonl")
    bilingual = load("bilingual.jsonl")
    print("Stream level: labelled days replayed through Store.claim_new_items")
    print(HEADER)
    for held_out in (False, True):
        group = [e for e in days if e.held_out == held_out]
        totals = {rule: Score() for rule in RULES}
        for day, entries in by_day(group).items():
            for rule in RULES:
                result = replay(entries, rule, directory)
                totals[rule].add(result)
                print(result.line(f"{day} {rule}"))
        label = "held-out" if held_out else "tuning days"
        for rule in RULES:
            print(totals[rule].line(f"{label} {rule}"))
        for example in totals["stories"].wrong_examples:
            print(f"    wrong: {example}")
    print("Bilingual (1tv.ru against English, 8-9 July 2024; not tuned on):")
    for rule in RULES:
        total = Score()
        for entries in by_day(bilingual).values():
            total.add(replay(entries, rule, directory))
        print(total.line(f"bilingual {rule}"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args(argv)
    if args.sweep:
        sweep(load("days.jsonl"))
        return 0
    with tempfile.TemporaryDirectory() as directory:
        stream_level(directory)
        pair_level()
        if not args.skip_cost:
            pool = load("days.jsonl")
            cost(pool, [int(s) for s in args.sizes.split(",")], directory, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
