"""Near-duplicate evaluation: how well `bot.dedup.near` tells copies of a story from other stories.

Datasets, all read from ../shared/eval (nothing is downloaded):

* STS-B `main-news` pairs (EMM RSS headlines, MSRpar news sentences, deft-news): a score of 4 or
  more is "same story", 1 or less "different"; pairs in between are left out.
* MSRP news-sentence paraphrases: label 1 vs 0. Single sentences reworded by a journalist are
  harder than copies of an item; the figures are for reference.
* Syndicated copies built from real feed items the way syndication changes them (outlet suffix,
  quotes and case, a new dateline, boilerplate after the text, a tracking URL, one or two words
  changed and the last sentence cut), against every pair of different items of the same feed.
  Pairs whose titles share a name ("Putin", "Ukraine") are counted apart as same-topic negatives.
* Same-topic pairs from the 2022 BBC/CNN/Guardian stream: items of one feed, at most two days
  apart, whose titles share a name. No labels: the outlet published them as separate items, so
  they count as different stories, but some are updates of one story (see `--show`).

Run from the repository root::

    python -m bench.near_duplicates            # the tables for the shipped parameters
    python -m bench.near_duplicates --sweep    # exact Jaccard for other n / lead / thresholds
    python -m bench.near_duplicates --show 10  # the worst misses and false alarms
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.dedup import near
from bot.sources.normalize import html_to_text, normalize_entry
from bot.sources.parse import parse_feed

EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
SEED = 1729

# News outlets among the real-feeds snapshots (blogs, podcasts, forums and spec samples left out).
NEWS_FEEDS = (
    "aparna2004-media-mosaic/theguardian_international.xml",
    "aparna2004-media-mosaic/thehindu_news_states.xml",
    "aparna2004-media-mosaic/thehindu_sport_cricket.xml",
    "aparna2004-media-mosaic/timesofindia_rssfeedstopstories.xml",
    "arminreiter-FeedReader/Rss20IndianExpress.xml",
    "arminreiter-FeedReader/Rss20MoscowTimes.xml",
    "arminreiter-FeedReader/Rss20YandexRussia.xml",
    "arminreiter-FeedReader/Rss20Reuters.xml",
    "arminreiter-FeedReader/Rss20NYTimes.xml",
    "arminreiter-FeedReader/Rss20TheMirror.xml",
    "arminreiter-FeedReader/Rss20CTVNews.xml",
    "arminreiter-FeedReader/Rss20BreakingNews.xml",
    "arminreiter-FeedReader/Rss20JapanTimes.xml",
    "arminreiter-FeedReader/Rss20JapanToday.xml",
    "arminreiter-FeedReader/Rss20LeMonde.xml",
    "arminreiter-FeedReader/Rss20LeFigaro.xml",
    "arminreiter-FeedReader/Rss20LeParisien.xml",
    "arminreiter-FeedReader/Rss20Spiegel.xml",
    "arminreiter-FeedReader/Rss20FazNet.xml",
    "arminreiter-FeedReader/Rss20DaStandardAt.xml",
    "arminreiter-FeedReader/Rss20CityDog.xml",
    "arminreiter-FeedReader/Rss20RomaToday.xml",
    "jameslawler-react-native-rss-parser/huffpost.xml",
    "rbren-rss-parser/input/guardian.rss",
    "rbren-rss-parser/input/uolNoticias.rss",
    "rbren-rss-parser/input/encoding.rss",
    "rbren-rss-parser/input/customfields.rss",
    "prof18-RSS-Parser/feed-test-hindi-channel-image.xml",
    "prof18-RSS-Parser/feed-test-ru.xml",
    "prof18-RSS-Parser/feed-test-greek.xml",
    "feed-rs/rss2/rss_2.0_nbcny.xml",
    "feed-rs/rss2/rss_2.0_ilgiornale.xml",
    "feed-rs/rss2/rss_2.0_ilmessaggero.xml",
)
OUTLETS = (
    "Reuters",
    "The Hindu",
    "Hindustan Times",
    "The Times of India",
    "AP News",
    "NDTV",
    "The Moscow Times",
    "Yahoo News",
    "MSN",
    "News18",
)
DATELINES = (
    "NEW DELHI (Reuters) - ",
    "MOSCOW, July 8 (AP) \u2014 ",
    "NEW DELHI: ",
    "WASHINGTON (AFP) - ",
    "(Reuters) - ",
    "KYIV, Ukraine (AP) \u2014 ",
    "LONDON, Jan 5 (Reuters) - ",
)
BOILERPLATE = (
    "We use cookies to improve your experience on our site and to show you relevant advertising."
    " By continuing to browse, you agree to our use of cookies. Accept all cookies",
    "Read more at {outlet}: https://{host}/news/story-{n}.html?utm_source=rss&utm_medium=feed",
    "The post {title} appeared first on {outlet}.",
    "Subscribe to our newsletter for the latest headlines. Follow {outlet} on Facebook, X and"
    " Instagram.",
    "Continue reading...",
)
COPY_KINDS = ("suffix, quotes, case", "wire dateline", "boilerplate", "light rewrite", "all")


@dataclass(frozen=True, slots=True)
class Doc:
    title: str
    text: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Pair:
    a: Doc
    b: Doc
    same: bool
    group: str  # what kind of pair: a copy kind, a negative kind, a dataset


# --- datasets -----------------------------------------------------------------------------------


def sts_pairs(eval_dir: Path = EVAL_DIR) -> list[Pair]:
    """STS-B news pairs: >= 4 same story, <= 1 different; group 'STS-B <file>'."""
    pairs: list[Pair] = []
    folder = eval_dir / "near-duplicates" / "stsbenchmark"
    for name in ("sts-train.csv", "sts-dev.csv", "sts-test.csv"):
        with open(folder / name, encoding="utf-8") as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                if len(cols) < 7 or cols[0] != "main-news":
                    continue
                score = float(cols[4])
                if 1.0 < score < 4.0:
                    continue
                pairs.append(Pair(Doc(cols[5]), Doc(cols[6]), score >= 4.0, f"STS-B {cols[1]}"))
    return pairs


def msrp_pairs(eval_dir: Path = EVAL_DIR) -> list[Pair]:
    pairs: list[Pair] = []
    folder = eval_dir / "near-duplicates" / "msrp"
    for name in ("msr_paraphrase_train.txt", "msr_paraphrase_test.txt"):
        with open(folder / name, encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(reader)
            for row in reader:
                if len(row) == 5:
                    pairs.append(Pair(Doc(row[3]), Doc(row[4]), row[0] == "1", "MSRP"))
    return pairs


def feed_items(eval_dir: Path = EVAL_DIR) -> dict[str, list[Doc]]:
    """Items of the news feeds, through the bot's own parser and normalizer.

    Items with fewer than 4 title words or a title seen before in the feed are left out.
    """
    feeds: dict[str, list[Doc]] = {}
    for relative in NEWS_FEEDS:
        path = eval_dir / "real-feeds" / relative
        parsed = parse_feed(path.read_bytes(), url=f"https://feeds.example/{path.name}")
        seen: set[str] = set()
        docs: list[Doc] = []
        for entry in parsed.entries:
            item = normalize_entry(entry, source_url="https://feeds.example/", source_name="x")
            key = " ".join(near.story_words(item.title, ""))
            if len(item.title.split()) < 4 or key in seen:
                continue
            seen.add(key)
            docs.append(Doc(item.title, item.text, item.url))
        if docs:
            feeds[relative] = docs
    return feeds


# --- syndicated copies ---------------------------------------------------------------------------

_WORD = re.compile(r"\S+")
# A sentence ends after a lower-case word, a number or a closing quote, not after "Mr." or "U.S.".
_SENTENCE_END = re.compile(
    r"(?:(?<=[a-z\u0430-\u044f\u0900-\u097f0-9]{2}[.!?])|(?<=[)\"\u201d\u2019'][.!?])"
    r"|(?<=\u0964))\s+(?=[^\W\d_a-z]|[\"\u201c\u2018'])"
)
_NAME = re.compile(r"(?<=\s)[A-Z\u0410-\u042f][\w\u2019'-]{3,}")
_NOT_NAMES = frozenset(
    {
        "This", "That", "These", "Those", "There", "Their", "They", "What", "When", "Where",
        "Which", "While", "With", "Will", "Would", "From", "After", "Before", "About", "Over",
        "Under", "Into", "Amid", "Says", "Said", "News", "Live", "Watch", "Video", "Photos",
        "Updates", "Update", "Latest", "Week", "Year", "Years", "Days", "Monday", "Tuesday",
        "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    }
)  # fmt: skip


def _swap_quotes(s: str) -> str:
    if any(c in s for c in "\u2018\u2019\u201c\u201d"):
        return (
            s.replace("\u2018", "'")
            .replace("\u2019", "'")
            .replace("\u201c", '"')
            .replace("\u201d", '"')
        )
    s = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", s)
    return s.replace("'", "\u2019")


def _change_case(title: str, rng: random.Random) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        return title.upper()
    if choice == 1:
        return " ".join(w[:1].upper() + w[1:] for w in title.split(" "))
    return title[:1] + title[1:].lower()


def _tracking(url: str, rng: random.Random) -> str:
    base = url or "https://outlet.example/story"
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}utm_source=rss&utm_medium=feed&utm_campaign={rng.randrange(10**6)}"


def _with_dateline(text: str, rng: random.Random) -> str:
    return rng.choice(DATELINES) + near.strip_dateline(text)


def _rewrite(title: str, text: str, pool: Sequence[str], rng: random.Random) -> tuple[str, str]:
    """Change 1-2 words of the title or the lead to other words of the feed."""
    fields = [title, text]
    for _ in range(rng.choice((1, 2))):
        spans = [
            (f, m)
            for f in (0, 1)
            for m in list(_WORD.finditer(fields[f]))[: 60 if f else None]
            if len(m.group()) >= 3
        ]
        if not spans:
            break
        f, m = rng.choice(spans)
        replacement = rng.choice(pool)
        fields[f] = fields[f][: m.start()] + replacement + fields[f][m.end() :]
    return fields[0], fields[1]


def _trim(text: str) -> str:
    """Drop the last sentence, and the one before when there are four or more."""
    sentences = _SENTENCE_END.split(text.strip())
    if len(sentences) < 2:
        return text
    keep = len(sentences) - (2 if len(sentences) >= 4 else 1)
    return " ".join(sentences[:keep])


def _boilerplate(doc: Doc, outlet: str, rng: random.Random) -> str:
    template = rng.choice(BOILERPLATE)
    host = outlet.lower().replace(" ", "") + ".example"
    extra = template.format(outlet=outlet, host=host, n=rng.randrange(10**5), title=doc.title)
    return doc.text.rstrip() + "\n\n" + extra


def syndicated_copy(doc: Doc, kind: str, pool: Sequence[str], rng: random.Random) -> Pair:
    """The original (maybe with its own wire dateline) and a copy as another outlet prints it."""
    outlet = rng.choice(OUTLETS)
    original = doc
    title = doc.title + rng.choice((" - ", " | ", " \u2014 ")) + outlet
    text = doc.text
    everything = kind == "all"
    if kind == "suffix, quotes, case" or everything:
        title = _change_case(_swap_quotes(title), rng)
        text = _swap_quotes(text)
    if (kind == "wire dateline" or everything) and text:
        original = Doc(doc.title, _with_dateline(doc.text, rng), doc.url)
        text = _with_dateline(text, rng)
        title = _swap_quotes(title)
    if (kind == "boilerplate" or everything) and text:
        text = _boilerplate(Doc(title, text), outlet, rng)
    if kind == "light rewrite" or everything:
        title, text = _rewrite(title, text, pool, rng)
        text = _trim(text)
    return Pair(original, Doc(title, text, _tracking(doc.url, rng)), True, f"copy: {kind}")


def _names(title: str) -> set[str]:
    return {m.group().strip("'\u2019-") for m in _NAME.finditer(" " + title)} - _NOT_NAMES


def syndicated_pairs(feeds: dict[str, list[Doc]], seed: int = SEED) -> list[Pair]:
    """Copies of every item (one per kind) and all pairs of different items of one feed."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for docs in feeds.values():
        pool = sorted({w for d in docs for w in d.title.split() if w.isalpha() and len(w) >= 4})
        pool = pool or ["news"]
        for doc in docs:
            for kind in COPY_KINDS:
                pairs.append(syndicated_copy(doc, kind, pool, rng))
        names = [_names(d.title) for d in docs]
        for (i, a), (j, b) in itertools.combinations(enumerate(docs), 2):
            group = "other story, same topic" if names[i] & names[j] else "other story, same feed"
            pairs.append(Pair(a, b, False, group))
    return pairs


def stream_topic_pairs(
    eval_dir: Path = EVAL_DIR, limit: int = 20_000, seed: int = SEED
) -> list[Pair]:
    """Items of one 2022 feed, at most two days apart, whose titles share a name."""
    path = (
        eval_dir
        / "news-streams"
        / "rumca-js-RSS-Link-Database-2022"
        / "entries_2022-01_to_08_non_youtube.jsonl.gz"
    )
    by_feed: dict[str, list[tuple[datetime, Doc, set[str]]]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            title = (row.get("title") or "").strip()
            if len(title.split()) < 4 or not row.get("date_published"):
                continue
            doc = Doc(title, html_to_text(row.get("description") or ""), row.get("link") or "")
            when = datetime.fromisoformat(row["date_published"])
            by_feed[row["source"]].append((when, doc, _names(title)))
    candidates: list[Pair] = []
    for rows in by_feed.values():
        rows.sort(key=lambda r: r[0])
        for i, (when, doc, names) in enumerate(rows):
            for later, other, other_names in rows[i + 1 :]:
                if (later - when).total_seconds() > 2 * 86400:
                    break
                if names & other_names and doc.title != other.title:
                    candidates.append(Pair(doc, other, False, "2022 stream, same topic"))
    rng = random.Random(seed)
    return rng.sample(candidates, limit) if len(candidates) > limit else candidates


# --- scoring ------------------------------------------------------------------------------------


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    misses: list[tuple[float, Pair]] = field(default_factory=list)
    false_alarms: list[tuple[float, Pair]] = field(default_factory=list)

    def add(self, pair: Pair, decided: bool, score: float) -> None:
        if pair.same and decided:
            self.tp += 1
        elif pair.same:
            self.fn += 1
            self.misses.append((score, pair))
        elif decided:
            self.fp += 1
            self.false_alarms.append((score, pair))
        else:
            self.tn += 1

    def merge(self, other: Counts) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.tn += other.tn
        self.misses += other.misses
        self.false_alarms += other.false_alarms

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0


class Signatures:
    """Signatures computed once per distinct (title, text)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], near.StorySignature | None] = {}

    def __call__(self, doc: Doc) -> near.StorySignature | None:
        key = (doc.title, doc.text)
        if key not in self._cache:
            self._cache[key] = near.signature(doc.title, doc.text)
        return self._cache[key]


def decide_same_story(sigs: Signatures) -> Callable[[Pair], tuple[bool, float]]:
    """`same_story` on the two signatures; a missing signature decides "different"."""

    def decide(pair: Pair) -> tuple[bool, float]:
        a, b = sigs(pair.a), sigs(pair.b)
        if a is None or b is None:
            return False, -1.0
        return near.same_story(a, b), near.similarity(a, b)

    return decide


def decide_with_bands(sigs: Signatures) -> Callable[[Pair], tuple[bool, float]]:
    """As the database would: a candidate through a shared band key, then `same_story`."""
    inner = decide_same_story(sigs)

    def decide(pair: Pair) -> tuple[bool, float]:
        a, b = sigs(pair.a), sigs(pair.b)
        if a is None or b is None or not set(a.bands) & set(b.bands):
            return False, -1.0
        return inner(pair)

    return decide


def score(pairs: Iterable[Pair], decide: Callable[[Pair], tuple[bool, float]]) -> dict[str, Counts]:
    """Counts by pair group."""
    groups: dict[str, Counts] = defaultdict(Counts)
    for pair in pairs:
        decided, value = decide(pair)
        groups[pair.group].add(pair, decided, value)
    return dict(groups)


def total(groups: dict[str, Counts], names: Iterable[str] | None = None) -> Counts:
    result = Counts()
    for name in names if names is not None else groups:
        if name in groups:
            result.merge(groups[name])
    return result


def no_signature_share(pairs: Iterable[Pair], sigs: Signatures) -> tuple[int, int]:
    """Distinct docs without a signature (too short), and all distinct docs."""
    docs = {d for p in pairs for d in (p.a, p.b)}
    return sum(sigs(d) is None for d in docs), len(docs)


# --- printing -----------------------------------------------------------------------------------


def _row(name: str, c: Counts) -> str:
    positives, negatives = c.tp + c.fn, c.fp + c.tn
    # Without copies in a set, precision and recall say nothing: only the false alarms count.
    precision = f"{c.precision:>9.4f}" if positives else f"{'-':>9}"
    recall = f"{c.recall:>7.4f}" if positives else f"{'-':>7}"
    return (
        f"{name:<34} {positives:>7} {negatives:>8} {c.tp:>6} {c.fn:>6} {c.fp:>5}"
        f" {precision} {recall} {c.false_alarm_rate:>9.5f}"
    )


def print_table(title: str, rows: Sequence[tuple[str, Counts]]) -> None:
    print(f"\n{title}")
    print(
        f"{'pairs':<34} {'same':>7} {'differ':>8} {'TP':>6} {'FN':>6} {'FP':>5}"
        f" {'precision':>9} {'recall':>7} {'FP rate':>9}"
    )
    for name, counts in rows:
        print(_row(name, counts))


def _short(doc: Doc, width: int = 110) -> str:
    text = (doc.title + " || " + doc.text.replace("\n", " ")) if doc.text else doc.title
    return text[:width]


def show_examples(label: str, examples: list[tuple[float, Pair]], n: int, worst_high: bool) -> None:
    if not n or not examples:
        return
    print(f"\n{label}:")
    ordered = sorted(examples, key=lambda e: e[0], reverse=worst_high)
    for value, pair in ordered[:n]:
        print(f"  {value:5.2f} [{pair.group}]")
        print(f"        A: {_short(pair.a)}")
        print(f"        B: {_short(pair.b)}")


# --- parameter sweep (exact Jaccard, no MinHash noise) -------------------------------------------

SWEEP_GRAMS: tuple[tuple[int, ...], ...] = ((1,), (2,), (1, 2), (3,))
SWEEP_LEADS = (30, 40, 60, 100)
SWEEP_THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def _features(doc: Doc, grams: tuple[int, ...], lead: int) -> set[str] | None:
    """Shingles of every size in `grams`; None when the shipped signature would be None."""
    words = near.story_words(doc.title, doc.text, lead=lead)
    if len(words) < near.MIN_SHINGLES + near.SHINGLE_WORDS - 1:
        return None
    found: set[str] = set()
    for n in grams:
        found.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return found


def _sweep_cell(jaccards: list[tuple[bool, float]], threshold: float) -> str:
    tp = sum(same and j >= threshold for same, j in jaccards)
    fp = sum(not same and j >= threshold for same, j in jaccards)
    fn = sum(same and j < threshold for same, j in jaccards)
    if tp + fn == 0:
        return f"fp={fp}"
    precision = tp / (tp + fp) if tp + fp else 1.0
    return f"{precision:.3f}/{tp / (tp + fn):.3f}"


def sweep(
    datasets: dict[str, list[Pair]],
    grams: Sequence[tuple[int, ...]] = SWEEP_GRAMS,
    leads: Sequence[int] = SWEEP_LEADS,
) -> None:
    """Precision/recall (or false alarms, for sets without copies) by exact shingle Jaccard."""
    for sizes, lead in itertools.product(grams, leads):
        cache: dict[Doc, set[str] | None] = {}
        print(f"\nshingles of {sizes} words, lead {lead} words  (precision/recall, or FP count)")
        print(f"{'threshold':<30}" + "".join(f"{t:>14}" for t in SWEEP_THRESHOLDS))
        for name, pairs in datasets.items():
            jaccards: list[tuple[bool, float]] = []
            for pair in pairs:
                for doc in (pair.a, pair.b):
                    if doc not in cache:
                        cache[doc] = _features(doc, sizes, lead)
                a, b = cache[pair.a], cache[pair.b]
                j = len(a & b) / len(a | b) if a and b else -1.0
                jaccards.append((pair.same, j))
            cells = "".join(f"{_sweep_cell(jaccards, t):>14}" for t in SWEEP_THRESHOLDS)
            print(f"{name:<30}{cells}")


# --- main ---------------------------------------------------------------------------------------


def modi_moscow_docs(eval_dir: Path = EVAL_DIR) -> list[tuple[str, Doc]]:
    """The 61 entries of 8-9 July 2024 (Moscow Times, WaPo, NBC, Sky), labelled by link."""
    path = eval_dir / "news-streams" / "rumca-js-RSS-Link-Database-2024-modi-moscow"
    docs: list[tuple[str, Doc]] = []
    with open(path / "entries.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            title = html_to_text(row.get("title") or "").replace("\n", " ")
            doc = Doc(title, html_to_text(row.get("summary") or ""), row.get("link") or "")
            docs.append((row["feed"].split("/")[2].removeprefix("www."), doc))
    return docs


def print_stream(
    docs: list[tuple[str, Doc]], sigs: Signatures, floor: float = 0.08, most: int = 10
) -> None:
    """Every pair of a small unlabelled stream scoring at least `floor`, best first."""
    scored: list[tuple[float, bool, str, Doc, str, Doc]] = []
    for (site_a, a), (site_b, b) in itertools.combinations(docs, 2):
        sig_a, sig_b = sigs(a), sigs(b)
        if sig_a is None or sig_b is None:
            continue
        value = near.similarity(sig_a, sig_b)
        if value >= floor:
            scored.append((value, near.same_story(sig_a, sig_b), site_a, a, site_b, b))
    flagged = sum(s[1] for s in scored)
    pairs = len(docs) * (len(docs) - 1) // 2
    print(f"\nModi in Moscow, 8-9 July 2024 (no labels): {flagged} of {pairs} pairs same_story;")
    print(f"the {most} most similar pairs with similarity >= {floor}:")
    for value, decided, site_a, a, site_b, b in sorted(scored, key=lambda s: -s[0])[:most]:
        mark = "SAME" if decided else "    "
        print(f"  {value:4.2f} {mark} {site_a}: {a.title[:60]}")
        print(f"            {site_b}: {b.title[:60]}")


def time_signatures(docs: Sequence[Doc]) -> float:
    """Microseconds per `signature` call (not asserted anywhere; for sizing only)."""
    start = time.perf_counter()
    for doc in docs:
        near.signature(doc.title, doc.text)
    return (time.perf_counter() - start) / max(len(docs), 1) * 1e6


def load_all(eval_dir: Path) -> dict[str, list[Pair]]:
    feeds = feed_items(eval_dir)
    return {
        "STS-B": sts_pairs(eval_dir),
        "MSRP": msrp_pairs(eval_dir),
        "syndicated": syndicated_pairs(feeds),
        "2022 stream": stream_topic_pairs(eval_dir),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--sweep", action="store_true", help="exact-Jaccard parameter sweep")
    parser.add_argument("--show", type=int, default=0, help="print N worst misses / false alarms")
    args = parser.parse_args(argv)
    if not args.eval_dir.is_dir():
        print(f"{args.eval_dir} is not there", file=sys.stderr)
        return 2
    datasets = load_all(args.eval_dir)
    if args.sweep:
        sweep(
            {
                "STS-B headlines": [p for p in datasets["STS-B"] if p.group == "STS-B headlines"],
                "STS-B all news": datasets["STS-B"],
                "MSRP": datasets["MSRP"],
                "syndicated": datasets["syndicated"],
                "syndicated rewrite/all": [
                    p
                    for p in datasets["syndicated"]
                    if not p.same or p.group in ("copy: light rewrite", "copy: all")
                ],
                "syndicated same-topic neg.": [
                    p for p in datasets["syndicated"] if p.group == "other story, same topic"
                ],
                "2022 stream (negatives)": datasets["2022 stream"],
            }
        )
        return 0

    print(
        f"near.py: {near.SHINGLE_WORDS}-word shingles of title + {near.LEAD_WORDS}-word lead,"
        f" NUM_PERM={near.NUM_PERM} BANDS={near.BANDS} ROWS={near.ROWS}"
        f" THRESHOLD={near.THRESHOLD} MIN_SHINGLES={near.MIN_SHINGLES}"
    )
    print(
        "band S-curve, P(candidate) at Jaccard "
        + ", ".join(
            f"{j:.1f}: {near.candidate_probability(j):.3f}" for j in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
        )
    )
    sigs = Signatures()
    same = decide_same_story(sigs)
    banded = decide_with_bands(sigs)
    for name, pairs in datasets.items():
        groups = score(pairs, same)
        rows = [(group, groups[group]) for group in sorted(groups)]
        rows.append((f"{name} (all)", total(groups)))
        with_bands = total(score(pairs, banded))
        rows.append((f"{name} (all, band candidates)", with_bands))
        missing, docs = no_signature_share(pairs, sigs)
        print_table(f"{name}: same_story  ({missing} of {docs} texts too short to sign)", rows)
        if args.show:
            c = total(groups)
            show_examples(f"{name}: lowest-scoring misses", c.misses, args.show, worst_high=False)
            show_examples(f"{name}: false alarms", c.false_alarms, args.show, worst_high=True)
    print_stream(modi_moscow_docs(args.eval_dir), sigs)
    sample = [p.b for p in datasets["syndicated"] if p.same][:2000]
    print(f"\nsignature(): {time_signatures(sample):.0f} µs per item (title + lead)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
