"""Item language detection against the languages real feeds declare, and against a baseline.

Reads `bench/data/item_languages.jsonl` (built by `python -m bench.language_labels` from
../shared/eval/real-feeds; see bench/data/SOURCE.md). For each item, the text the bot gives the
detector (title, then the start of the text) goes to:

* detector: `bot.language.detect.detect`, lingua over the bot's language set;
* baseline: the likeliest language for the text's script alone (Latin -> en, Cyrillic -> ru,
  Devanagari -> hi, …), in the same run.

Accuracy is given against the feed's declared language (`declared`) and against the
hand-checked label (`label`; items in more than one language left out). The declared language
is not shown to the detector. Run from the repository root::

    python -m bench.languages
    python -m bench.languages --errors         # also list every miss
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.language_labels import MIXED, OUT
from bot.language.detect import MAX_CHARS, detect
from bot.language.script import script_guess


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def sample(row: dict[str, str]) -> str:
    return f"{row['title']}\n{row['text'][:MAX_CHARS]}"


def score(
    rows: list[dict[str, str]], guess: Callable[[str], str | None], field: str
) -> tuple[float, Counter[tuple[str, str]]]:
    kept = [row for row in rows if row[field] != MIXED]
    misses: Counter[tuple[str, str]] = Counter()
    for row in kept:
        found = guess(sample(row)) or "-"
        if found != row[field]:
            misses[(row[field], found)] += 1
    return 1 - sum(misses.values()) / len(kept), misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=OUT)
    parser.add_argument("--errors", action="store_true", help="list every kind of miss")
    args = parser.parse_args(argv)
    rows = load(args.data)
    started = time.perf_counter()
    detect("warm the detector up before timing it")
    warm = time.perf_counter() - started
    languages = Counter(row["declared"] for row in rows)
    print(f"{len(rows)} items from {len({row['feed'] for row in rows})} feeds; declared:")
    print("  " + ", ".join(f"{code} {count}" for code, count in languages.most_common()))
    print(f"detector loaded in {warm:.2f} s")
    print(f"{'against':<10} {'detector':>9} {'baseline':>9} {'ratio':>7}")
    for field in ("declared", "label"):
        started = time.perf_counter()
        ours, misses = score(rows, detect, field)
        elapsed = time.perf_counter() - started
        base, _ = score(rows, script_guess, field)
        print(f"{field:<10} {ours:>9.1%} {base:>9.1%} {ours / base:>6.2f}x")
        if args.errors:
            for (expected, found), count in misses.most_common():
                print(f"    {expected} -> {found}: {count}")
    print(f"detector time: {elapsed / len(rows) * 1000:.2f} ms per item")
    return 0


if __name__ == "__main__":
    sys.exit(main())
