"""Shared helpers for benches: real feed snapshots, a feed farm that serves thousands of them,
and topics to match against.

The farm is an asyncio HTTP/1.1 server (keep-alive, ETag / Last-Modified, 304 answers) meant
to run in a process of its own, so the client under test has a CPU core to itself::

    python -m bench.data serve --feeds 2000        # prints "port NNNN", serves until killed

Feed `n` is served at `/f/<n>.xml`: a copy of one real snapshot (RSS, RDF or Atom) from
../shared/eval/real-feeds. `GET /_bump?share=0.1` gives that share of the feeds (a random
choice, seeded by the bump number) a new item at the top (a real 2022 headline and lead
from ../shared/eval/news-streams), which changes their body, ETag and
Last-Modified; `GET /_stats` returns counters as JSON; `GET /_reset_stats` clears them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"
BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
FIRST_ITEM = re.compile(rb"<(item|entry)[\s>]")
BASE_TIME = 1_735_689_600  # 2025-01-01T00:00:00Z; Last-Modified moves a minute per version
KEEP_NEW_ITEMS = 5  # a changed feed keeps its latest few bench items on top

# Words for topics: frequent in 2022 news, plus the ones this bot was made for.
WORDS = (
    "Ukraine", "Russia", "Putin", "Modi", "India", "China", "Covid", "Biden", "Trump", "Johnson",
    "Europe", "Kyiv", "Taiwan", "Olympics", "election", "climate", "oil", "gas", "sanctions",
    "summit", "inflation", "football", "cricket", "Twitter", "Musk", "Queen", "strike", "court",
    "energy", "war",
)  # fmt: skip
STORIES_FILE = Path(
    "news-streams/rumca-js-RSS-Link-Database-2022/entries_2022-01_to_08_non_youtube.jsonl.gz"
)


# --- real feed files ----------------------------------------------------------------------


def decoded_start(body: bytes) -> str:
    """The first characters of a file, after any byte order mark."""
    for bom, encoding in BOMS:
        if body.startswith(bom):
            return body[len(bom) : len(bom) + 256].decode(encoding, "ignore")
    return body[:256].decode("utf-8", "ignore")


def is_feed_file(path: Path) -> bool:
    """Decided by content: markup, or a JSON Feed. Other JSON is a tool's expected output."""
    body = path.read_bytes()
    start = decoded_start(body).lstrip()
    if start.startswith("<"):
        return True
    if start.startswith("{"):
        try:
            data = json.loads(body.decode("utf-8-sig"))
        except ValueError:
            return False
        return isinstance(data, dict) and "jsonfeed" in str(data.get("version", ""))
    return False


def real_feed_files(eval_dir: Path = DEFAULT_EVAL_DIR) -> list[Path]:
    root = eval_dir / "real-feeds"
    if not root.is_dir():
        raise SystemExit(f"no feed snapshots at {root}")
    return sorted(p for p in root.rglob("*") if p.is_file() and is_feed_file(p))


@dataclass(frozen=True)
class FeedTemplate:
    """A snapshot split where a new first item goes."""

    name: str
    prefix: bytes
    suffix: bytes
    kind: str  # "item" (RSS, RDF) or "entry" (Atom)

    @property
    def size(self) -> int:
        return len(self.prefix) + len(self.suffix)


def feed_templates(eval_dir: Path = DEFAULT_EVAL_DIR, min_items: int = 2) -> list[FeedTemplate]:
    """Snapshots with at least `min_items` plain <item> or <entry> elements, in an
    ASCII-compatible encoding, ready to take a new item."""
    out = []
    root = eval_dir / "real-feeds"
    for path in real_feed_files(eval_dir):
        body = path.read_bytes()
        first = FIRST_ITEM.search(body)
        if first is None:
            continue
        kind = first.group(1).decode()
        if len(re.findall(rb"<" + kind.encode() + rb"[\s>]", body)) < min_items:
            continue
        name = path.relative_to(root).as_posix()
        out.append(FeedTemplate(name, body[: first.start()], body[first.start() :], kind))
    return out


@dataclass(frozen=True)
class Story:
    title: str
    text: str


def load_stories(eval_dir: Path = DEFAULT_EVAL_DIR, seed: int = 11) -> list[Story]:
    """Real 2022 headlines and leads (BBC, CNN, Guardian, ...), shuffled; new items use them
    in turn, so they are distinct stories (syndicated copies among them stay copies)."""
    path = eval_dir / STORIES_FILE
    stories = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            title, text = (entry.get("title") or "").strip(), entry.get("description") or ""
            if title and (entry.get("language") or "en").startswith("en"):
                stories.append(Story(title, text.strip()))
    random.Random(seed).shuffle(stories)
    return stories


def new_item(kind: str, n: int, version: int, story: Story) -> bytes:
    """The markup of one new item for feed `n` at `version`, as ASCII (character references
    for the rest), so it fits a feed in any ASCII-compatible encoding."""
    title, text = escape(story.title), escape(story.text or story.title)
    link = f"https://bench.example/news/{n}/{version}"
    when = BASE_TIME + version * 60
    if kind == "entry":
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
        markup = (
            f'<entry><title>{title}</title><link href="{link}"/><id>{link}</id>'
            f"<updated>{iso}</updated><summary>{text}</summary></entry>\n"
        )
    else:
        markup = (
            f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{formatdate(when, usegmt=True)}</pubDate>"
            f"<description>{text}</description></item>\n"
        )
    return markup.encode("ascii", "xmlcharrefreplace")


def topic_queries(count: int, seed: int = 7) -> list[str]:
    """`count` topic queries of the usual shapes, over WORDS."""
    rng = random.Random(seed)
    shapes = (
        "{a} {b}",
        "{a} {b} {c}",
        "{a} ({b} OR {c})",
        '"{a} and {b}"',
        "{a} -{b}",
        "title:{a} {b}",
        "{a}* {b}",
        "{a} NEAR/5 {b}",
    )
    out = []
    for i in range(count):
        a, b, c = rng.sample(WORDS, 3)
        out.append(shapes[i % len(shapes)].format(a=a, b=b, c=c))
    return out


# --- the feed farm -------------------------------------------------------------------------


@dataclass
class Feed:
    template: FeedTemplate
    version: int = 0
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    new_items: list[bytes] = field(default_factory=list)


class FeedFarm:
    """State of `feeds` feeds; feed n is a copy of templates[n % len(templates)]."""

    def __init__(self, templates: list[FeedTemplate], feeds: int, stories: list[Story]) -> None:
        self.feeds = [Feed(templates[n % len(templates)]) for n in range(feeds)]
        self.stories = stories
        self.next_story = 0
        for n in range(feeds):
            self._refresh(n)
        self.bumps = 0
        self.stats: Counter[str] = Counter()

    def _refresh(self, n: int) -> None:
        feed = self.feeds[n]
        feed.body = feed.template.prefix + b"".join(feed.new_items) + feed.template.suffix
        feed.etag = f'"{n}-{feed.version}"'
        feed.last_modified = formatdate(BASE_TIME + feed.version * 60, usegmt=True)

    def bump(self, share: float) -> list[int]:
        """Give `share` of the feeds one new item each; returns their numbers."""
        self.bumps += 1
        rng = random.Random(self.bumps)
        chosen = sorted(rng.sample(range(len(self.feeds)), round(share * len(self.feeds))))
        for n in chosen:
            feed = self.feeds[n]
            feed.version += 1
            story = self.stories[self.next_story % len(self.stories)]
            self.next_story += 1
            feed.new_items.insert(0, new_item(feed.template.kind, n, feed.version, story))
            del feed.new_items[KEEP_NEW_ITEMS:]
            self._refresh(n)
        return chosen

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        route = parts.path
        if route.startswith("/f/") and route.endswith(".xml"):
            try:
                feed = self.feeds[int(route[3:-4])]
            except (ValueError, IndexError):
                return self._plain(404, b"no such feed")
            out = {
                "Content-Type": "application/xml",
                "ETag": feed.etag,
                "Last-Modified": feed.last_modified,
                "Cache-Control": "max-age=60",
            }
            inm = headers.get("if-none-match")
            ims = headers.get("if-modified-since")
            if (inm is not None and feed.etag in [t.strip() for t in inm.split(",")]) or (
                inm is None and ims == feed.last_modified
            ):
                self.stats["304"] += 1
                return 304, out, b""
            self.stats["200"] += 1
            self.stats["bytes"] += len(feed.body)
            return 200, out, feed.body
        if route == "/_bump":
            share = float(parse_qs(parts.query).get("share", ["0.1"])[0])
            changed = self.bump(share)
            body = json.dumps({"changed": changed}).encode()
            return 200, {"Content-Type": "application/json"}, body
        if route == "/_stats":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.stats).encode()
        if route == "/_reset_stats":
            self.stats.clear()
            return 200, {"Content-Type": "application/json"}, b"{}"
        return self._plain(404, b"not found")

    @staticmethod
    def _plain(status: int, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "text/plain"}, body


REASONS = {200: b"OK", 304: b"Not Modified", 404: b"Not Found", 400: b"Bad Request"}


async def _serve_connection(
    farm: FeedFarm, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                return
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if length:
                await reader.readexactly(length)
            status, out, body = farm.answer(target, headers)
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            lines_out = [f"HTTP/1.1 {status} {REASONS.get(status, b'X').decode()}"]
            lines_out += [f"{k}: {v}" for k, v in out.items()]
            if status != 304:
                lines_out.append(f"Content-Length: {len(body)}")
            if close:
                lines_out.append("Connection: close")
            data = ("\r\n".join(lines_out) + "\r\n\r\n").encode("latin-1")
            writer.write(data + body if method != "HEAD" and status != 304 else data)
            await writer.drain()
            if close:
                return
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(farm: FeedFarm, host: str = "127.0.0.1", port: int = 0) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(farm, r, w), host, port, backlog=4096, limit=65536
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"port {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve a feed farm on 127.0.0.1")
    run.add_argument("--feeds", type=int, default=2000)
    run.add_argument("--port", type=int, default=0)
    run.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    args = parser.parse_args(argv)
    templates = feed_templates(args.eval_dir)
    print(
        f"templates {len(templates)} mean_bytes {sum(t.size for t in templates) // len(templates)}",
        file=sys.stderr,
        flush=True,
    )
    farm = FeedFarm(templates, args.feeds, load_stories(args.eval_dir))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(farm, port=args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
