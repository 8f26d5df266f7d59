"""Topic matching benchmark: `TopicIndex.match` against checking every topic, on real news items.

Items are real titles and summaries from ../shared/eval/news-streams: the BBC/CNN/Guardian 2022
stream, the Modi-in-Moscow entries of July 2024 and 1tv.ru titles (Russian). Topics are built
from the words of that stream, the way people write them: one to three words (all required),
OR groups, quoted phrases taken from headlines, exclusions, prefixes (`ukrain*`), and a few
`title:`, `NEAR/n`, `site:` and `lang:` queries. Most words are drawn uniformly from the
vocabulary (a word seen in at least three items), a share in proportion to how often items use
them, so popular subjects ("ukraine", "covid") get many topics, as they would.

Both sides run in the same process on the same items and prepare each item once:

* index: `TopicIndex.match(prepare(item))`;
* naive: `match(query, prepared)` for every topic.

The index first runs over all items (its throughput). The naive side is slow (every topic for
every item), so by default it runs on a seeded sample of the items, its time scaled to all of
them, as the output says; `--naive-items 0` runs it on every item. On that sample both sides
run item by item in turn, so that a busy machine slows both alike, and the speed-up is the ratio
of those two times. Every sampled item must get exactly the same results (topic ids and matched
words) from both sides; a difference is counted and makes the bench exit with status 1.

Run from the repository root::

    python -m bench.matching                      # 20,000 topics x 5,000 items
    python -m bench.matching --topics 2000 --items 1000 --naive-items 0
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import json
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.match import (
    MatchDoc,
    MatchResult,
    PreparedDoc,
    Query,
    QueryError,
    TopicIndex,
    match,
    parse_query,
    tokenize,
)
from bot.match import prepare as prepare_doc
from bot.sources.normalize import html_to_text

EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
STREAMS = "news-streams"
TARGET_SPEEDUP = 50.0
SEED = 20240708

# Words nobody watches on their own (English and Russian function words, news filler).
STOPWORDS = frozenset(
    {
        "the", "and", "for", "that", "with", "from", "this", "have", "has", "had", "was", "were",
        "are", "but", "not", "you", "your", "they", "their", "them", "his", "her", "she", "him",
        "its", "our", "who", "what", "when", "where", "which", "while", "will", "would", "can",
        "could", "should", "about", "after", "before", "over", "into", "than", "then", "there",
        "here", "more", "most", "some", "any", "all", "one", "two", "new", "says", "said", "say",
        "also", "just", "been", "being", "how", "why", "out", "off", "now", "may", "might",
        "many", "much", "other", "such", "only", "very", "get", "got", "like", "make", "made",
        "first", "last", "year", "years", "week", "day", "days", "time", "watch", "video",
        "live", "latest", "news", "update", "updates", "people", "world", "amid", "via", "per",
        "как", "что", "это", "его", "она", "они", "для", "при", "так", "все", "уже", "или",
        "только", "был", "была", "были", "быть", "если", "когда", "также", "может", "этом",
        "этот", "эта", "эти", "того", "чтобы", "которые", "который", "которая", "году",
    }
)  # fmt: skip
# (share of topics, kind)
TOPIC_MIX = (
    (0.35, "and"),
    (0.15, "or"),
    (0.15, "phrase"),
    (0.10, "exclude"),
    (0.10, "prefix"),
    (0.05, "title"),
    (0.05, "near"),
    (0.05, "filter"),
)
POPULAR_SHARE = 0.3  # words drawn in proportion to document frequency; the rest uniformly


STREAM_2022 = "2022 stream"
MODI = "Modi in Moscow 2024"
FIRST_TV = "1tv.ru titles"


@dataclass(frozen=True, slots=True)
class Corpus:
    items: list[MatchDoc]
    labels: list[str]  # the stream of each item

    @property
    def sources(self) -> Counter[str]:
        return Counter(self.labels)


# --- items --------------------------------------------------------------------------------------


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def load_items(eval_dir: Path) -> Corpus:
    """Every entry of the three news streams as a MatchDoc."""
    root = eval_dir / STREAMS
    items: list[MatchDoc] = []
    labels: list[str] = []
    path = root / "rumca-js-RSS-Link-Database-2022" / "entries_2022-01_to_08_non_youtube.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            title = html_to_text(row.get("title") or "").replace("\n", " ")
            if not title.strip():
                continue
            text = html_to_text(row.get("description") or "")
            language = (row.get("language") or "").lower() or None
            items.append(MatchDoc(title, text, _host(row.get("link") or ""), language))
            labels.append(STREAM_2022)
    with open(root / "rumca-js-RSS-Link-Database-2024-modi-moscow" / "entries.jsonl") as f:
        for line in f:
            row = json.loads(line)
            title = html_to_text(row["title"]).replace("\n", " ")
            text = html_to_text(row.get("summary") or "")
            items.append(MatchDoc(title, text, _host(row["link"]), "en"))
            labels.append(MODI)
    for name in ("chunk_2024.csv.gz", "chunk_2025.csv.gz"):
        with gzip.open(root / "1tv-ru-2024-2025" / name, "rb") as raw:
            reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
            for row in reader:
                # The `content` column is often another story's teaser: titles only.
                if row.get("title"):
                    items.append(MatchDoc(row["title"], "", "1tv.ru", "ru"))
                    labels.append(FIRST_TV)
    return Corpus(items, labels)


def pick_items(corpus: Corpus, count: int, rng: random.Random) -> list[MatchDoc]:
    """A seeded sample: every Modi-in-Moscow entry, a tenth 1tv.ru titles, the rest 2022."""
    by_source: dict[str, list[MatchDoc]] = {}
    for item, source in zip(corpus.items, corpus.labels, strict=True):
        by_source.setdefault(source, []).append(item)
    modi = by_source[MODI][:count]
    russian = rng.sample(by_source[FIRST_TV], min(count // 10, len(by_source[FIRST_TV])))
    rest = count - len(modi) - len(russian)
    english = rng.sample(by_source[STREAM_2022], min(max(rest, 0), len(by_source[STREAM_2022])))
    items = modi + russian + english
    rng.shuffle(items)
    return items


# --- topics -------------------------------------------------------------------------------------


class TopicMaker:
    """Random queries built from the words and headline phrases of the corpus."""

    def __init__(self, items: Sequence[MatchDoc], rng: random.Random) -> None:
        self.rng = rng
        df: Counter[str] = Counter()
        phrases: Counter[tuple[str, str]] = Counter()
        sites: Counter[str] = Counter()
        languages: Counter[str] = Counter()
        self.item_words: list[list[str]] = []
        for item in items:
            words = tokenize(item.title + " " + item.text)
            topical = list(dict.fromkeys(w for w in words if _topical(w)))
            df.update(topical)
            if len(topical) >= 3:
                self.item_words.append(topical[:30])
            title = tokenize(item.title)
            phrases.update(
                {(a, b) for a, b in itertools.pairwise(title) if _topical(a) and _topical(b)}
            )
            sites[item.site] += 1
            if item.language:
                languages[item.language.split("-")[0]] += 1
        self.words = sorted(w for w, n in df.items() if n >= 3)
        self.weights = [df[w] for w in self.words]
        self.phrases = sorted(p for p, n in phrases.items() if n >= 3)
        self.sites = [s for s, n in sites.most_common(12) if s]
        self.languages = [code for code, _ in languages.most_common(3)]

    def word(self) -> str:
        if self.rng.random() < POPULAR_SHARE:
            return self.rng.choices(self.words, weights=self.weights)[0]
        return self.rng.choice(self.words)

    def words_(self, low: int, high: int) -> list[str]:
        """One word from the vocabulary, or several that one real item uses together."""
        count = self.rng.randint(low, high)
        if count == 1:
            return [self.word()]
        return self.rng.sample(self.rng.choice(self.item_words), count)

    def phrase(self) -> str:
        a, b = self.rng.choice(self.phrases)
        return f'"{a} {b}"'

    def make(self, kind: str) -> str:
        rng = self.rng
        if kind == "and":
            return " ".join(self.words_(1, 3))
        if kind == "or":
            group = "(" + " OR ".join(self.words_(2, 3)) + ")"
            return group if rng.random() < 0.5 else f"{group} {self.word()}"
        if kind == "phrase":
            phrase = self.phrase()
            return phrase if rng.random() < 0.6 else f"{phrase} {self.word()}"
        if kind == "exclude":
            *wanted, unwanted = self.words_(2, 3)
            return " ".join(wanted) + " -" + unwanted
        if kind == "prefix":
            stems = [w for w in self.words_(1, 1) if len(w) >= 5]
            stem = stems[0][: rng.randint(4, len(stems[0]) - 1)] if stems else self.word()
            return f"{stem}*" if rng.random() < 0.5 else f"{stem}* {self.word()}"
        if kind == "title":
            return f"title:{self.word()}" + (f" {self.word()}" if rng.random() < 0.5 else "")
        if kind == "near":
            left, right = self.words_(2, 2)
            return f"{left} NEAR/{rng.randint(2, 8)} {right}"
        if rng.random() < 0.5 and self.sites:
            return f"{self.word()} site:{rng.choice(self.sites)}"
        return f"{self.word()} lang:{rng.choice(self.languages or ['en'])}"


def _topical(word: str) -> bool:
    return len(word) >= 3 and word.isalpha() and word not in STOPWORDS


def build_topics(
    maker: TopicMaker, count: int, rng: random.Random
) -> tuple[list[tuple[int, str, Query]], Counter[str], int]:
    """`count` parsed topics, their kinds, and how many generated queries failed to parse."""
    shares = [share for share, _ in TOPIC_MIX]
    kinds = [kind for _, kind in TOPIC_MIX]
    topics: list[tuple[int, str, Query]] = []
    by_kind: Counter[str] = Counter()
    rejected = 0
    while len(topics) < count:
        kind = rng.choices(kinds, weights=shares)[0]
        text = maker.make(kind)
        try:
            query = parse_query(text)
        except QueryError:
            rejected += 1
            continue
        topics.append((len(topics) + 1, kind, query))
        by_kind[kind] += 1
    return topics, by_kind, rejected


# --- the two matchers ---------------------------------------------------------------------------

Results = dict[int, MatchResult]


def run_index(index: TopicIndex, items: Sequence[MatchDoc]) -> tuple[list[Results], float, int]:
    """Results per item, seconds, and the candidates the index checked."""
    results: list[Results] = []
    checked = 0
    start = time.perf_counter()
    for item in items:
        prepared = prepare_doc(item)
        results.append(index.match(prepared))
    elapsed = time.perf_counter() - start
    for item in items:  # outside the timed loop
        checked += len(index.candidates(prepare_doc(item)))
    return results, elapsed, checked


def naive_match(topics: Sequence[tuple[int, str, Query]], prepared: PreparedDoc) -> Results:
    found: Results = {}
    for topic_id, _, query in topics:
        result = match(query, prepared)
        if result is not None:
            found[topic_id] = result
    return found


def run_side_by_side(
    index: TopicIndex, topics: Sequence[tuple[int, str, Query]], items: Sequence[MatchDoc]
) -> tuple[list[Results], list[Results], float, float]:
    """Both matchers on each item in turn, so that both see the same machine load.

    Returns the index's and the naive results per item and the seconds each side took, each
    including one `prepare` per item.
    """
    by_index: list[Results] = []
    by_naive: list[Results] = []
    index_seconds = naive_seconds = 0.0
    for item in items:
        start = time.perf_counter()
        by_index.append(index.match(prepare_doc(item)))
        middle = time.perf_counter()
        by_naive.append(naive_match(topics, prepare_doc(item)))
        index_seconds += middle - start
        naive_seconds += time.perf_counter() - middle
    return by_index, by_naive, index_seconds, naive_seconds


# --- main ---------------------------------------------------------------------------------------


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument(
        "--naive-items",
        type=int,
        default=300,
        help="items checked naively (a seeded sample, time scaled to --items); 0 = all",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    if not (args.eval_dir / STREAMS).is_dir():
        print(f"{args.eval_dir / STREAMS} is not there", file=sys.stderr)
        return 2

    rng = random.Random(args.seed)
    corpus = load_items(args.eval_dir)
    items = pick_items(corpus, args.items, rng)
    maker = TopicMaker(corpus.items, rng)
    topics, by_kind, rejected = build_topics(maker, args.topics, rng)
    out(
        "corpus: "
        + ", ".join(f"{n:,} {name}" for name, n in corpus.sources.items())
        + f"; {len(maker.words):,} topic words, {len(maker.phrases):,} headline phrases"
    )
    out(
        f"topics: {len(topics):,} ("
        + ", ".join(f"{kind} {by_kind[kind]:,}" for _, kind in TOPIC_MIX)
        + f"); {rejected} generated queries rejected by the parser"
    )
    out("examples: " + " | ".join(query.text for _, _, query in topics[:8]))

    start = time.perf_counter()
    index = TopicIndex()
    for topic_id, _, query in topics:
        index.add(topic_id, query)
    built = time.perf_counter() - start
    always = sum(not query.required_terms for _, _, query in topics)
    out(f"index: built in {built:.2f} s; {always} topics without an anchor word (checked always)")

    indexed, index_seconds, checked = run_index(index, items)
    matched = [len(r) for r in indexed]
    share = sum(n > 0 for n in matched) / len(items)
    out(
        f"\nitems: {len(items):,}; {share:.1%} match at least one topic;"
        f" matches per item: mean {statistics.fmean(matched):.1f},"
        f" median {statistics.median(matched):.0f}, max {max(matched)};"
        f" candidates checked per item: mean {checked / len(items):.1f}"
    )

    if args.naive_items <= 0 or args.naive_items >= len(items):
        sample_ids = list(range(len(items)))
    else:
        sample_ids = sorted(
            random.Random(args.seed + 1).sample(range(len(items)), args.naive_items)
        )
    sample = [items[i] for i in sample_ids]
    again, naive, index_sample_seconds, naive_seconds = run_side_by_side(index, topics, sample)
    mismatches = [
        i
        for i, first, second, slow in zip(
            sample_ids, (indexed[i] for i in sample_ids), again, naive, strict=True
        )
        if not first == second == slow
    ]
    scaled = naive_seconds * len(items) / len(sample)

    out(f"\n{'':<34}{'seconds':>10}{'items/s':>12}")
    out(f"{'index, all items':<34}{index_seconds:>10.2f}{_rate(len(items), index_seconds):>12}")
    label = f"index, {len(sample):,} items side by side"
    out(f"{label:<34}{index_sample_seconds:>10.2f}{_rate(len(sample), index_sample_seconds):>12}")
    label = f"naive, {len(sample):,} items side by side"
    out(f"{label:<34}{naive_seconds:>10.2f}{_rate(len(sample), naive_seconds):>12}")
    if len(sample) < len(items):
        label = f"naive, {len(items):,} items (scaled)"
        out(f"{label:<34}{scaled:>10.2f}{_rate(len(items), scaled):>12}")
    # Like with like: both sides timed on the same items, interleaved item by item. The index
    # then starts each item with caches the naive pass has cooled, so this is the low figure.
    speedup = naive_seconds / index_sample_seconds if index_sample_seconds > 0 else float("inf")
    throughput = scaled / index_seconds if index_seconds > 0 else float("inf")
    out(
        f"\nspeed-up: {speedup:,.0f}x side by side (target >= {TARGET_SPEEDUP:.0f}x);"
        f" {throughput:,.0f}x from the index's own run over all items"
    )
    compared = f"{len(sample):,} items x {len(topics):,} topics"
    out(f"results compared on {compared}: {len(mismatches)} items differ")
    for i in mismatches[:5]:
        slow = naive[sample_ids.index(i)]
        only_index = sorted(set(indexed[i]) - set(slow))[:5]
        only_naive = sorted(set(slow) - set(indexed[i]))[:5]
        out(f"  item {i}: {items[i].title[:60]!r}")
        out(f"    topics only the index found {only_index}, only the naive check {only_naive}")
    if mismatches:
        out("FAIL: the index and the naive check disagree")
        return 1
    verdict = "met" if speedup >= TARGET_SPEEDUP else "MISSED"
    out(f"target (>= {TARGET_SPEEDUP:.0f}x side by side, 0 differences): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
