"""Summary quality on the labelled feed descriptions: old pattern list against the classifier.

    python -m bench.summaries            # figures for both rules
    python -m bench.summaries --show     # also every item where the new rule misses

The set is tests/fixtures/summaries/descriptions.jsonl (see its SOURCE.md). Each description
goes through the bot's own summary path (`html_to_blocks`, `summarize_blocks`, as
`normalize_entry` calls them) for the new rule; the old rule is the
pattern list as it was (bench/summary_baseline.py) fed the same plain text. An item's
summary is clean when none of its labelled chrome pieces, and not the title, appear in it;
it starts right when it begins with the labelled first sentence (or is empty where the
description holds no article text).
"""

from __future__ import annotations

import argparse
import json
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import summary_baseline
from bot.sources.normalize import clean_title, html_to_blocks, html_to_text
from bot.summarize.summary import summarize_blocks

LABELS = Path(__file__).resolve().parents[1] / "tests/fixtures/summaries/descriptions.jsonl"
CHROME_GOAL = 0.98
FIRST_SENTENCE_GOAL = 0.95


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    language: str
    title: str
    description: str
    first_sentence: str
    chrome: tuple[str, ...]


def load() -> list[Record]:
    records = []
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        records.append(
            Record(
                id=row["id"],
                language=row["language"],
                title=row["title"],
                description=row["description"],
                first_sentence=row["first_sentence"],
                chrome=tuple(row["chrome"]),
            )
        )
    return records


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def has_chrome(summary: str, record: Record) -> bool:
    got = f" {_key(summary)} "
    for piece in record.chrome:
        key = _key(piece)
        if key and f" {key} " in got:
            return True
        if not key and piece.strip() and piece.strip() in summary:  # marks such as "[…]"
            return True
    title = _key(clean_title(record.title))
    first = _key(record.first_sentence)
    return bool(title) and got.startswith(f" {title}") and not first.startswith(title)


def starts_right(summary: str, record: Record) -> bool:
    want = _key(record.first_sentence)
    if not want:
        return not summary
    got = _key(summary.removesuffix("…"))
    if got.startswith(want):
        return True
    # A first sentence longer than the summary limit is cut at a word.
    return summary.endswith("…") and len(got) >= 40 and want.startswith(got)


def new_rule(record: Record) -> str:
    """What `normalize_entry` does for the summary (it also detects the language, untimed here)."""
    blocks = html_to_blocks(record.description)
    return summarize_blocks(blocks, title=clean_title(record.title))


def old_rule(record: Record) -> str:
    text = html_to_text(record.description)
    return summary_baseline.summarize(text, title=clean_title(record.title))


@dataclass(frozen=True, slots=True)
class Score:
    total: int
    clean: int
    right: int
    misses: list[tuple[Record, str, bool, bool]]

    @property
    def clean_share(self) -> float:
        return self.clean / self.total

    @property
    def right_share(self) -> float:
        return self.right / self.total


def score(rule: Callable[[Record], str], records: list[Record]) -> Score:
    clean = right = 0
    misses = []
    for record in records:
        summary = rule(record)
        is_clean, is_right = not has_chrome(summary, record), starts_right(summary, record)
        clean += is_clean
        right += is_right
        if not (is_clean and is_right):
            misses.append((record, summary, is_clean, is_right))
    return Score(len(records), clean, right, misses)


def per_item_ms(rule: Callable[[Record], str], records: list[Record], rounds: int = 5) -> float:
    """Best of `rounds` passes over the set, in milliseconds per description."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for record in records:
            rule(record)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", action="store_true", help="print the new rule's misses")
    args = parser.parse_args()
    records = load()
    old, new = score(old_rule, records), score(new_rule, records)
    print(f"{len(records)} labelled descriptions ({LABELS.relative_to(Path.cwd())})")
    print(f"{'rule':<28}{'no chrome':>12}{'right first sentence':>24}")
    for name, result in (("old: pattern list", old), ("new: block classifier", new)):
        print(
            f"{name:<28}{result.clean_share:>11.1%} {result.right_share:>22.1%}"
            f"   ({result.clean}/{result.total}, {result.right}/{result.total})"
        )
    old_ms, new_ms = per_item_ms(old_rule, records), per_item_ms(new_rule, records)
    print(
        f"time per description, HTML to summary: old {old_ms:.2f} ms, new {new_ms:.2f} ms "
        f"({new_ms / old_ms:.1f}x; new parses the HTML once more, for its blocks)"
    )
    met = new.clean_share >= CHROME_GOAL and new.right_share >= FIRST_SENTENCE_GOAL
    print(f"goal ({CHROME_GOAL:.0%} / {FIRST_SENTENCE_GOAL:.0%}): {'met' if met else 'MISSED'}")
    if args.show:
        for rule, result in (("old", old), ("new", new)):
            for record, summary, is_clean, is_right in result.misses:
                flags = ("" if is_clean else "CHROME ") + ("" if is_right else "START")
                print(f"\n[{rule} {flags}] {record.id}: {summary!r}")
                print(f"   want: {record.first_sentence[:120]!r}")


if __name__ == "__main__":
    main()
