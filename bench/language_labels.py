"""Builds `bench/data/item_languages.jsonl`: real feed items with the language their feed declares.

Every RSS/RDF/Atom snapshot under ../shared/eval/real-feeds is read with the bot's own parser
and normalizer. An item is kept when its feed (or the entry itself) declares a language and the
item has at least 20 letters of title and text (feeds from repositories without a license
are left out, see `UNLICENSED`); at most `PER_FEED` items per feed, in document
order, so a few large feeds do not outweigh the rest. Each row holds the declared language and
a hand-checked one (`label`): they differ where a person reading the item sees another language
than the feed declares (`CHECKED` below, decided by reading the items before any detector was
run on them). Run from the repository root::

    python -m bench.language_labels            # rewrites bench/data/item_languages.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.data import DEFAULT_EVAL_DIR
from bot.sources.normalize import normalize_entry
from bot.sources.parse import parse_feed

OUT = Path(__file__).resolve().parent / "data" / "item_languages.jsonl"
PER_FEED = 25
MAX_TEXT = 400
FEED_SUFFIXES = (".xml", ".rss", ".atom")
# Snapshots whose repository states no license are not copied into this one.
UNLICENSED = ("aparna2004-media-mosaic/",)
MIXED = "mixed"  # a label for items in more than one language, left out of the checked score

# (file, title prefix or "*") -> the language a reader sees, where it is not what is declared.
CHECKED: dict[tuple[str, str], str] = {
    # Declared Kannada; the items are English (Bangalore news in English).
    ("rbren-rss-parser/input/customfields.rss", "*"): "en",
    # A Spanish feed from Catalonia: some items are in Catalan.
    ("arminreiter-FeedReader/Rss10Minutos20Catalans.xml", "Els "): "ca",
    ("arminreiter-FeedReader/Rss10Minutos20Catalans.xml", "Veïns "): "ca",
    # The Polish OpenStreetMap chapter writes some posts in English.
    ("kagisearch-fastfeedparser/osm-pl.xml", "SotM EU 2024 – Community"): "en",
    ("kagisearch-fastfeedparser/osm-pl.xml", "Introducing another"): "en",
    # OpenStreetMap changesets: English boilerplate around each mapper's own (often Polish)
    # comment; and a German headline above an English feed blurb. No single language.
    ("kagisearch-fastfeedparser/osm.xml", "*"): MIXED,
    ("prof18-RSS-Parser/rdf-feed-test.xml", "*"): MIXED,
}


def _checked(relative: str, title: str, declared: str) -> str:
    for (path, prefix), label in CHECKED.items():
        if path == relative and (prefix == "*" or title.startswith(prefix)):
            return label
    return declared


def collect(eval_dir: Path) -> list[dict[str, str]]:
    root = eval_dir / "real-feeds"
    rows: list[dict[str, str]] = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in FEED_SUFFIXES:
            continue
        relative = str(path.relative_to(root))
        if relative.startswith(UNLICENSED):
            continue
        parsed = parse_feed(path.read_bytes(), url="https://example.com/feed")
        kept = 0
        for entry in parsed.entries:
            if kept >= PER_FEED or not entry.language:
                continue
            item = normalize_entry(entry, source_url="", source_name="")
            text = item.text[:MAX_TEXT]
            if sum(ch.isalpha() for ch in item.title + text) < 20:
                continue
            declared = entry.language
            rows.append(
                {
                    "feed": relative,
                    "title": item.title,
                    "text": text,
                    "declared": declared,
                    "label": _checked(relative, item.title, declared),
                }
            )
            kept += 1
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not (args.eval_dir / "real-feeds").is_dir():
        print(f"{args.eval_dir / 'real-feeds'} is not there", file=sys.stderr)
        return 1
    rows = collect(args.eval_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} items written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
