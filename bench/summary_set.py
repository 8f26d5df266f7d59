"""Draw the feed descriptions of the labelled summary set from ../shared/eval (run once).

The draw is deterministic: the first items of each chosen feed, in feed order. Labels
(`first_sentence`, `chrome`) are added by hand to the written file afterwards.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections import Counter
from pathlib import Path

from bot.sources.parse import parse_feed

EVAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "eval"
REAL = EVAL / "real-feeds"
# (path under real-feeds, how many items)
FEEDS = [
    ("aparna2004-media-mosaic/timesofindia_rssfeedstopstories.xml", 8),
    ("aparna2004-media-mosaic/thehindu_news_states.xml", 8),
    ("aparna2004-media-mosaic/theguardian_international.xml", 8),
    ("arminreiter-FeedReader/Rss20IndianExpress.xml", 6),
    ("arminreiter-FeedReader/Rss20MoscowTimes.xml", 6),
    ("arminreiter-FeedReader/Rss20YandexRussia.xml", 15),
    ("arminreiter-FeedReader/Rss20Reuters.xml", 5),
    ("arminreiter-FeedReader/Rss20NYTimes.xml", 4),
    ("arminreiter-FeedReader/Rss20DailyMail.xml", 4),
    ("arminreiter-FeedReader/Rss20TheMirror.xml", 4),
    ("arminreiter-FeedReader/Rss20CityDog.xml", 10),
    ("arminreiter-FeedReader/Rss20CTVNews.xml", 3),
    ("arminreiter-FeedReader/Rss20BreakingNews.xml", 3),
    ("arminreiter-FeedReader/Rss20JapanToday.xml", 3),
    ("jameslawler-react-native-rss-parser/reuters.xml", 5),
    ("jameslawler-react-native-rss-parser/huffpost.xml", 5),
    ("prof18-RSS-Parser/feed-test-hindi-channel-image.xml", 8),
    ("prof18-RSS-Parser/feed-test-ru.xml", 8),
    ("prof18-RSS-Parser/feed-test-source.xml", 3),
]
STREAM_2022 = {
    "http://feeds.bbci.co.uk/news/rss.xml": 12,
    "http://rss.cnn.com/rss/edition.rss": 12,
    "https://www.theguardian.com/rss": 14,
    "https://www.dailymail.co.uk/news/index.rss": 4,
    "https://rss.nytimes.com/services/xml/rss/nyt/World.xml": 4,
    "https://www.techradar.com/rss": 4,
    "https://tvn24.pl/najwazniejsze.xml": 4,
}
MODI_MOSCOW = 30
# A chrome-heavy stratum: stream items whose description carries a known kind of chrome.
CHROME_MARKERS = re.compile(
    r"appeared first on|Read more|Click here|sign up for free|Sign up here|Follow us|\[…\]"
    r"|\[\.\.\.\]|Photograph:|Illustration:"
)
CHROME_ITEMS = 24
CHROME_PER_SOURCE = 4


def _feeds() -> list[dict[str, str]]:
    out = []
    for name, count in FEEDS:
        path = REAL / name
        if not path.exists():
            print(f"missing {name}", file=sys.stderr)
            continue
        parsed = parse_feed(path.read_bytes(), url=f"https://feed.test/{path.name}")
        taken = [e for e in parsed.entries if e.content_html.strip()][:count]
        for i, entry in enumerate(taken):
            out.append(
                {"id": f"{path.stem}-{i}", "origin": f"real-feeds/{name}",
                 "title": entry.title, "description": entry.content_html}
            )  # fmt: skip
    return out


def _streams() -> list[dict[str, str]]:
    out = []
    left = dict(STREAM_2022)
    chrome_left, per_source = CHROME_ITEMS, Counter[str]()
    path = next((EVAL / "news-streams/rumca-js-RSS-Link-Database-2022").glob("*.jsonl.gz"))
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            row = json.loads(line)
            source = row["source"]
            description = row.get("description") or ""
            if (
                chrome_left > 0
                and per_source[source] < CHROME_PER_SOURCE
                and n % 40
                and CHROME_MARKERS.search(description)
            ):
                chrome_left -= 1
                per_source[source] += 1
                out.append(
                    {"id": f"stream2022-{n}", "origin": f"news-streams/{path.parent.name}",
                     "title": row["title"], "description": description}
                )  # fmt: skip
            # one item in 40, so the draw spreads over the months
            if left.get(source, 0) > 0 and (row.get("description") or "").strip() and n % 40 == 0:
                left[source] -= 1
                out.append(
                    {"id": f"stream2022-{n}", "origin": f"news-streams/{path.parent.name}",
                     "title": row["title"], "description": row["description"]}
                )  # fmt: skip
    path = EVAL / "news-streams/rumca-js-RSS-Link-Database-2024-modi-moscow/entries.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for n, row in enumerate(r for r in rows if (r.get("summary") or "").strip()):
        if n < MODI_MOSCOW:
            out.append(
                {"id": f"modi-moscow-{n}", "origin": f"news-streams/{path.parent.name}",
                 "title": row["title"], "description": row["summary"]}
            )  # fmt: skip
    return out


def main() -> None:
    for record in _feeds() + _streams():
        print(json.dumps(record, ensure_ascii=False))


if __name__ == "__main__":
    main()
