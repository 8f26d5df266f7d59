"""Which recent story a report belongs to, and how it changes that story. Pure functions.

Two measures decide, cheapest and surest first:

1. MinHash (`bot.dedup.near`): a copy of a story already seen (a wire reprint, a syndicated
   column, a retitled republication) folds into it.
2. Story terms (`bot.dedup.terms`): a report whose weighted terms are close enough to a recent
   story's centroid tells the same event in other words. The centroid is the sum of its
   reports' term vectors, older ones decayed by `HALF_LIFE`, so a story follows its latest turn.
   Storage finds candidates through an inverted index on each centroid's `INDEX_TERMS` heaviest
   terms, so the cost of a decision does not grow with the number of stories in the window.

When in doubt a report stays a story of its own: a second alert is a smaller harm than a story
hidden inside another. The numbers were chosen on hand-labelled news days (`bench.stories`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum

from bot import domain
from bot.dedup.near import StorySignature, same_story, signature
from bot.dedup.terms import (
    NO_ALIASES,
    TermAliases,
    cosine,
    story_terms,
    subject_keys,
    top_terms,
)

THRESHOLD = 0.50  # cosine of a report and a story's centroid from which they are one story
# The words a matching topic asked for name the subject every report of it shares, not the
# event: for whoever watches "Putin Modi summit", "Putin and Modi open their summit" and "Putin
# and Modi sign energy deals" are two developments. Beyond the full cosine, the terms left once
# the subject's are taken out must agree this much.
EVENT_THRESHOLD = 0.2
MIN_SHARED = 2  # terms they must share: one name alone is a subject, not an event
MIN_TERMS = 3  # a report with fewer terms (a one-word title, no text) folds only as a copy
TERM_WINDOW = timedelta(hours=36)  # a story older than this takes only copies
HALF_LIFE = timedelta(hours=12)  # of a report's weight in its story's centroid
CENTROID_TERMS = 40
INDEX_TERMS = 10  # a story's heaviest terms, under which the index finds it
QUERY_TERMS = 10  # a report's heaviest terms, looked up in the index
CANDIDATES = 20  # stories compared per report at most


class FoldKind(Enum):
    REPORT = "report"  # another outlet's report: "Also reported by …"
    UPDATE = "update"  # the same outlet again, in other words: "+N updates"
    COPY = "copy"  # the same outlet's piece republished nearly unchanged: nothing to show


@dataclass(frozen=True, slots=True)
class Report:
    """What the fold decision needs of a new item."""

    outlet: str
    at: datetime
    terms: Mapping[str, float] = field(default_factory=dict)
    signature: StorySignature | None = None
    subject: frozenset[str] = frozenset()  # terms of the words its topics matched


@dataclass(frozen=True, slots=True)
class StoryState:
    """What storage keeps of a recent story for the fold decision."""

    id: int
    outlets: tuple[str, ...]
    centroid: Mapping[str, float] = field(default_factory=dict)
    centroid_at: datetime | None = None
    minhash: bytes | None = None


@dataclass(frozen=True, slots=True)
class Fold:
    """The decision: the report joins story `story_id` as `kind`; the story's centroid becomes
    `centroid` and it is indexed under `index_terms`."""

    story_id: int
    kind: FoldKind
    centroid: dict[str, float]
    centroid_at: datetime
    index_terms: tuple[str, ...]
    score: float


def report_of(
    item: domain.Item,
    aliases: TermAliases = NO_ALIASES,
    now: datetime | None = None,
    subject: Iterable[str] = (),
    *,
    only_keys: bool = False,
) -> Report:
    """The item as the fold decision sees it; an item without a date is dated `now`. `subject`
    holds the words of the topics it matches. With `only_keys` it has neither terms nor a
    signature: it folds only where its URL, guid or title was seen."""
    now = now or datetime.now(UTC)
    at = min(item.published, now) if item.published else now  # a date in the future is now
    if only_keys:
        return Report(outlet=item.source_name[:100], at=at)
    return Report(
        outlet=item.source_name[:100],
        at=at,
        terms=story_terms(item.title, item.text, item.language, aliases),
        subject=frozenset(subject_keys(subject, item.language, aliases)),
        signature=signature(item.title, item.text),
    )


def query_terms(report: Report) -> list[str]:
    return top_terms(report.terms, QUERY_TERMS) if len(report.terms) >= MIN_TERMS else []


def start_centroid(report: Report) -> tuple[dict[str, float], tuple[str, ...]]:
    """The centroid of a story that this report starts, and its index terms."""
    centroid = _rounded(report.terms)
    return centroid, tuple(top_terms(centroid, INDEX_TERMS))


def decide(report: Report, stories: Sequence[StoryState]) -> Fold | None:
    """The story this report belongs to, or None when it starts one of its own."""
    for story in stories:
        if (
            report.signature is not None
            and story.minhash
            and same_story(report.signature, replace(report.signature, minhash=story.minhash))
        ):
            kind = FoldKind.COPY if report.outlet in story.outlets else FoldKind.REPORT
            return _fold(report, story, kind, 1.0)
    if len(report.terms) < MIN_TERMS:
        return None
    best: tuple[float, StoryState] | None = None
    for story in stories:
        if story.centroid_at is not None and report.at - story.centroid_at > TERM_WINDOW:
            continue
        if sum(1 for term in report.terms if term in story.centroid) < MIN_SHARED:
            continue
        score = cosine(report.terms, story.centroid)
        if score < THRESHOLD or (best is not None and score <= best[0]):
            continue
        if report.subject and _event_cosine(report, story.centroid) < EVENT_THRESHOLD:
            continue
        best = (score, story)
    if best is None:
        return None
    score, story = best
    return told_again(report, story, score)


def told_again(report: Report, story: StoryState, score: float) -> Fold:
    """The fold of a report that tells `story` again in other words: another outlet's report,
    or the same outlet's update."""
    kind = FoldKind.UPDATE if report.outlet in story.outlets else FoldKind.REPORT
    return _fold(report, story, kind, score)


def _event_cosine(report: Report, centroid: Mapping[str, float]) -> float:
    """The cosine of what the report and the story say beyond the report's subject."""
    subject = report.subject
    return cosine(
        {t: w for t, w in report.terms.items() if t not in subject},
        {t: w for t, w in centroid.items() if t not in subject},
    )


def _fold(report: Report, story: StoryState, kind: FoldKind, score: float) -> Fold:
    centroid, at = merge_centroid(story.centroid, story.centroid_at, report.terms, report.at)
    return Fold(story.id, kind, centroid, at, tuple(top_terms(centroid, INDEX_TERMS)), score)


def merge_centroid(
    centroid: Mapping[str, float],
    centroid_at: datetime | None,
    terms: Mapping[str, float],
    at: datetime,
) -> tuple[dict[str, float], datetime]:
    """The centroid with one more report: what it held decays by the time between them."""
    if centroid_at is None:
        centroid_at = at
    newer = max(at, centroid_at)
    old_factor = 0.5 ** ((newer - centroid_at) / HALF_LIFE)
    new_factor = 0.5 ** ((newer - at) / HALF_LIFE)
    merged = {term: w * old_factor for term, w in centroid.items()}
    for term, w in terms.items():
        merged[term] = merged.get(term, 0.0) + w * new_factor
    kept = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:CENTROID_TERMS])
    return _rounded(kept), newer


def _rounded(vector: Mapping[str, float]) -> dict[str, float]:
    return {term: round(w, 4) for term, w in vector.items() if round(w, 4) > 0}


def centroid_json(centroid: Mapping[str, float]) -> str:
    return json.dumps(centroid, ensure_ascii=False, separators=(",", ":"))


def centroid_from_json(text: str | None) -> dict[str, float]:
    """A stored centroid; a damaged one reads as empty (the story then takes only copies)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}
