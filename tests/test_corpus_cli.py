"""`summit-watch check` over whole corpora of feeds, served from 127.0.0.1.

Every file of the feedparser test suite goes through one `check` run: nothing may crash,
every source is accounted for (items on stdout, or one `<url>: <reason>` line on stderr), and
every file feedparser alone finds entries in gives items. Every real feed snapshot must give
at least one item with a title and a link and no mojibake, and the Russian feeds must come out
as readable Cyrillic however their charset is declared. Characters escaped as UTF-16
surrogates must not lose a feed or break the output.

The data lives in ../shared/eval; without it the corpus tests skip.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import feedparser
import pytest

from bot.config import Settings

RECORD_KEYS = {"source", "title", "url", "published", "summary"}
CHECK_TIMEOUT = 80
# Linux caps the whole command line (and environment) at ARG_MAX, commonly 2 MB; stay far below.
MAX_COMMAND_CHARS = 100_000

CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/feed+json",
    ".md": "text/markdown",
}
# The header lines feedparser's own suite sends with a file (`Header: Name: value`).
HEADER_LINE = re.compile(rb"^Header:\s+([^:\s]+):(.*)$", re.MULTILINE)
BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)

# Real-feeds files (path under real-feeds/) that legitimately give no item with both a title
# and a link, and why.
REAL_FEED_EXCEPTIONS = {
    "arminreiter-FeedReader/Rss092FullSample.xml": "RSS 0.92 spec sample: items have no link",
    "arminreiter-FeedReader/Rss20DailyMail.xml": "the snapshot's channel has no items",
    "feed-rs/atom/atom_entry_1.xml": "a lone Atom entry document without a link",
    "feed-rs/atom/atom_example_7.xml": "its one entry has no link",
    "feed-rs/atom/atom_pub_spec_1.xml": "AtomPub spec sample: the entry has no link",
    "feed-rs/rss0/rss_0.91_missing_id.xml": "the item has neither link nor guid",
    "feed-rs/rss0/rss_0.92_spec_1.xml": "RSS 0.92 spec sample: items have no link",
    "feed-rs/rss2/rss_2.0_ghost_1.xml": "one item with content only: no title, no link",
    "feed-rs/rss2/rss_2.0_invalid_1.xml": "a server error cut the feed off before any item",
    "feed-rs/xml/xml_iso8859.xml": "a bare <rdf> with an item that has no link",
    "feed-rs/xml/xml_sample_1.xml": "not a feed: a book catalogue",
    "feed-rs/xml/xml_sample_2.xml": "not a feed: a book catalogue",
    "kagisearch-fastfeedparser/malformed_rss_namespaced.xml": (
        "synthetic: a doubled '<?xml?xml ... ??>' and rss:-prefixed elements whose prefix is "
        "never declared; feedparser finds no items"
    ),
    "prof18-RSS-Parser/feed-test-charset.xml": "podcast item: no link, a non-permalink guid",
    "rbren-rss-parser/input/incomplete-fields.atom": "the entry holds only an empty author",
    "rbren-rss-parser/input/missing-fields.atom": "the entry holds only an id",
    "rbren-rss-parser/input/unrecognized.rss": "not a feed: an HTML 'Document Moved' page",
}

# Latin-1 style mojibake of UTF-8 ("Ð¯Ð½Ð´ÐµÐºÑ") and windows-1251 style ("РђСЂРі"): a Р or С
# followed by a character that only a UTF-8 continuation byte read as windows-1251 gives.
LATIN_MOJIBAKE = re.compile("[ÐÑÃÂ][\u0080-\u00bf\u0152-\u0178\u2013-\u203a\u20ac\u2122]")
CYRILLIC_MOJIBAKE = re.compile("[РС][ЂЃ‚ѓ„…†‡€‰Љ‹ЊЌЋЏђ‘’“”•–—™љ›њќћџЎўЈ¤Ґ¦§©Є¬®Ї°±Ііґµ¶·№єјЅѕї]")
CYRILLIC = re.compile("[А-Яа-яЁё]")


# --- a static server ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    body: bytes
    headers: tuple[tuple[str, str], ...]


class StaticServer:
    """Fixed bodies by path on 127.0.0.1: HTTP/1.1 keep-alive, one thread per connection."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requested: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def add(self, path: str, body: bytes, headers: Sequence[tuple[str, str]]) -> str:
        self.routes[path] = Route(body, tuple(headers))
        return self.base_url + path

    def __enter__(self) -> StaticServer:
        server = self

        class Handler(_StaticHandler):
            static = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _lookup(self, path: str) -> Route | None:
        with self._lock:
            self.requested[path] += 1
        return self.routes.get(path)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128


class _StaticHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, the body waits for the client's delayed ACK of the headers (~40 ms each).
    disable_nagle_algorithm = True
    static: StaticServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        route = self.static._lookup(self.path)
        if route is None:
            route = Route(b"not found", (("Content-Type", "text/plain"),))
            self.send_response_only(404)
        else:
            self.send_response_only(200)
        for name, value in route.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body)


# --- running `summit-watch check` --------------------------------------------------------


@dataclass
class CheckRun:
    requested: list[str]
    returncodes: list[int] = field(default_factory=list)
    records: list[dict[str, object]] = field(default_factory=list)
    stdout_lines: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def failures(self) -> dict[str, str]:
        """URL -> reason, from the stderr lines."""
        out = {}
        for line in self.stderr_lines:
            url, _, reason = line.partition(": ")
            out[url] = reason
        return out

    def items_by_source(self) -> dict[str, list[dict[str, object]]]:
        out: dict[str, list[dict[str, object]]] = {}
        for record in self.records:
            out.setdefault(str(record["source"]), []).append(record)
        return out


def check_command() -> list[str]:
    script = Path(sys.executable).with_name("summit-watch")
    if script.exists():
        return [str(script), "check"]
    found = shutil.which("summit-watch")
    return [found, "check"] if found else [sys.executable, "-m", "bot", "check"]


def check_env() -> dict[str, str]:
    """The caller's environment without any setting of the bot, plus private networks."""
    settings = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in settings}
    env.update({"ALLOW_PRIVATE_NETWORKS": "true", "PYTHONIOENCODING": "utf-8"})
    return env


def batches(urls: Sequence[str], limit: int = MAX_COMMAND_CHARS) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for url in urls:
        if batch and size + len(url) + 1 > limit:
            yield batch
            batch, size = [], 0
        batch.append(url)
        size += len(url) + 1
    if batch:
        yield batch


def run_check(urls: Sequence[str], cwd: Path) -> CheckRun:
    """`summit-watch check` over all `urls`: one process, or a few when the list is huge."""
    run = CheckRun(list(urls))
    for batch in batches(urls):
        done = subprocess.run(
            [*check_command(), *batch],
            cwd=cwd,
            env=check_env(),
            capture_output=True,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
        run.returncodes.append(done.returncode)
        stdout = done.stdout.decode("utf-8")
        run.stdout_lines.extend(stdout.splitlines())
        run.stderr += done.stderr.decode("utf-8", "replace")
    for line in run.stdout_lines:
        record = json.loads(line)
        assert isinstance(record, dict), line
        run.records.append(record)
    return run


def assert_well_formed(run: CheckRun) -> None:
    """The contract of `check` for any input: exit 0 or 1, JSON lines out, one line per
    failing source on stderr, and every requested source accounted for."""
    requested = set(run.requested)
    assert all(code in (0, 1) for code in run.returncodes), run.returncodes
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    for line in run.stderr_lines:
        url, sep, reason = line.partition(": ")
        assert sep and url in requested and reason.strip(), f"stray stderr line: {line!r}"
    for record in run.records:
        assert set(record) == RECORD_KEYS, record
        assert record["source"] in requested, record
        assert isinstance(record["title"], str) and isinstance(record["url"], str), record
        assert isinstance(record["summary"], str), record
        assert record["published"] is None or isinstance(record["published"], str), record
    with_items = set(run.items_by_source())
    failed = set(run.failures())
    assert not with_items & failed, sorted(with_items & failed)[:10]
    missing = requested - with_items - failed
    assert not missing, f"{len(missing)} sources neither printed items nor failed: " + ", ".join(
        sorted(missing)[:10]
    )
    assert len(with_items | failed) == len(requested)
    exit_failed = any(code == 1 for code in run.returncodes)
    assert exit_failed == any(not r.startswith("no items") for r in run.failures().values())


# --- the corpora -------------------------------------------------------------------------


def served_headers(path: Path, body: bytes) -> list[tuple[str, str]]:
    """Content-Type by extension, or the headers the feedparser suite prescribes."""
    headers: dict[str, tuple[str, str]] = {}
    if path.suffix == ".xml":
        head = body[: body.find(b"-->")] if b"-->" in body else b""
        for match in HEADER_LINE.finditer(head):
            name = match.group(1).decode("ascii")
            value = match.group(2).decode("latin-1").strip()
            headers[name.lower()] = (name, value)
    headers.setdefault(
        "content-type", ("Content-Type", CONTENT_TYPES.get(path.suffix, "application/xml"))
    )
    return list(headers.values())


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


def real_feed_files(shared_eval: Path) -> list[Path]:
    root = shared_eval / "real-feeds"
    return sorted(p for p in root.rglob("*") if p.is_file() and is_feed_file(p))


def url_path(root: Path, path: Path) -> str:
    return "/" + path.relative_to(root).as_posix()


def summary_line(name: str, run: CheckRun) -> str:
    reasons = Counter(reason for reason in run.failures().values())
    return (
        f"{name}: {len(run.requested)} sources, {len(run.items_by_source())} gave "
        f"{len(run.records)} items, {len(run.failures())} on stderr "
        f"({', '.join(f'{n} {r!r}' for r, n in reasons.most_common(8))})"
    )


@pytest.mark.slow
def test_check_accounts_for_every_feedparser_suite_file(shared_eval: Path, tmp_path: Path) -> None:
    root = shared_eval / "feedparser-tests"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) > 2000
    with_entries = set()  # what feedparser alone, given the same headers, finds entries in
    with StaticServer() as server:
        urls = []
        for path in files:
            body = path.read_bytes()
            headers = served_headers(path, body)
            urls.append(server.add(url_path(root, path), body, headers))
            lowered = {name.lower(): value for name, value in headers}
            plain = feedparser.parse(io.BytesIO(body), response_headers=lowered)
            if plain.entries:
                with_entries.add(urls[-1])
        run = run_check(urls, tmp_path)
        assert set(server.requested) == set(server.routes)
    print(summary_line("feedparser-tests", run))
    assert_well_formed(run)
    assert len(with_entries) > 1000
    lost = sorted(with_entries - set(run.items_by_source()))
    assert not lost, f"{len(lost)} feeds lost their entries: {lost[:10]}"


@pytest.mark.slow
def test_every_real_feed_gives_titled_linked_items(shared_eval: Path, tmp_path: Path) -> None:
    root = shared_eval / "real-feeds"
    files = real_feed_files(shared_eval)
    assert len(files) > 150
    assert not any(p.suffix == ".json" and "expected" in p.name for p in files)
    with StaticServer() as server:
        urls = {
            server.add(url_path(root, p), p.read_bytes(), served_headers(p, b"")): p for p in files
        }
        run = run_check(list(urls), tmp_path)
    print(summary_line("real-feeds", run))
    assert_well_formed(run)
    by_source = run.items_by_source()
    bad = {}
    for url, path in urls.items():
        name = path.relative_to(root).as_posix()
        good = [r for r in by_source.get(url, []) if r["title"] and r["url"]]
        if not good and name not in REAL_FEED_EXCEPTIONS:
            bad[name] = run.failures().get(url, f"{len(by_source.get(url, []))} items, none usable")
    assert not bad, bad
    # An exception that now works should leave the list.
    fixed = [
        name
        for url, path in urls.items()
        if (name := path.relative_to(root).as_posix()) in REAL_FEED_EXCEPTIONS
        and any(r["title"] and r["url"] for r in by_source.get(url, []))
    ]
    assert not fixed, f"no longer exceptions: {fixed}"
    for record in run.records:
        text = f"{record['title']} {record['summary']}"
        assert not LATIN_MOJIBAKE.search(text), f"{record['source']}: {text[:200]}"
        assert not CYRILLIC_MOJIBAKE.search(text), f"{record['source']}: {text[:200]}"
        if "\ufffd" in text:  # only where the snapshot itself has U+FFFD
            assert "\ufffd".encode() in urls[str(record["source"])].read_bytes(), text[:200]


# --- Russian feeds in windows-1251 ---------------------------------------------------------


def undo_double_utf8(text: str) -> str:
    """UTF-8 that was read as windows-1252 and saved as UTF-8 again, back to what it was."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            out += ch.encode("latin-1")
    return out.decode("utf-8")


def russian_feeds(shared_eval: Path) -> dict[str, str]:
    """name -> the feed as text, with the XML declaration's encoding left out."""
    feeds = shared_eval / "real-feeds"
    yandex = (feeds / "arminreiter-FeedReader" / "Rss20YandexRussia.xml").read_text("utf-8")
    aif = (feeds / "prof18-RSS-Parser" / "feed-test-ru.xml").read_text("utf-8")
    texts = {"yandex": undo_double_utf8(yandex), "aif": aif}
    return {
        name: re.sub(r"""\s+encoding=["'][^"']*["']""", "", text, count=1)
        for name, text in texts.items()
    }


def expected_titles(text: str) -> list[str]:
    root = ET.fromstring(text.encode("utf-8"))
    return [" ".join((el.findtext("title") or "").split()) for el in root.iter("item")]


def encoded_variants(text: str) -> dict[str, tuple[bytes, str]]:
    """variant -> (body, Content-Type): windows-1251 declared in the header, the XML, both,
    neither, or the header contradicting a UTF-8 declaration; plus plain UTF-8."""
    cp1251 = text.encode("windows-1251", errors="xmlcharrefreplace")
    declared = cp1251.replace(
        b'<?xml version="1.0"', b'<?xml version="1.0" encoding="windows-1251"', 1
    )
    mislabeled = cp1251.replace(b'<?xml version="1.0"', b'<?xml version="1.0" encoding="utf-8"', 1)
    assert declared != cp1251 and mislabeled != cp1251
    rss = "application/rss+xml"
    return {
        "utf-8": (text.encode("utf-8"), rss),
        "1251 in header": (cp1251, f"{rss}; charset=windows-1251"),
        "1251 in xml": (declared, rss),
        "1251 in both": (declared, "text/xml; charset=windows-1251"),
        "1251 undeclared": (cp1251, rss),
        "1251 header over utf-8 decl": (mislabeled, f"{rss}; charset=windows-1251"),
    }


def test_russian_feeds_read_as_cyrillic_in_any_declared_charset(
    shared_eval: Path, tmp_path: Path
) -> None:
    feeds = russian_feeds(shared_eval)
    expected = {name: expected_titles(text) for name, text in feeds.items()}
    assert len(expected["yandex"]) == 15 and len(expected["aif"]) == 1
    assert all(CYRILLIC.search(" ".join(titles)) for titles in expected.values())
    with StaticServer() as server:
        # The snapshots exactly as stored, too: AiF in UTF-8, Yandex in double-encoded UTF-8.
        stored = shared_eval / "real-feeds"
        urls = {
            server.add(
                "/stored/yandex.xml",
                (stored / "arminreiter-FeedReader" / "Rss20YandexRussia.xml").read_bytes(),
                [("Content-Type", "application/rss+xml")],
            ): ("yandex", "stored"),
            server.add(
                "/stored/aif.xml",
                (stored / "prof18-RSS-Parser" / "feed-test-ru.xml").read_bytes(),
                [("Content-Type", "application/rss+xml")],
            ): ("aif", "stored"),
        }
        for name, text in feeds.items():
            for n, (variant, (body, ctype)) in enumerate(encoded_variants(text).items()):
                url = server.add(f"/{name}/{n}.xml", body, [("Content-Type", ctype)])
                urls[url] = (name, variant)
        run = run_check(list(urls), tmp_path)
    assert_well_formed(run)
    assert run.returncodes == [0], run.stderr
    by_source = run.items_by_source()
    for url, (name, variant) in urls.items():
        records = by_source.get(url, [])
        titles = [str(r["title"]) for r in records]
        label = f"{name} ({variant})"
        assert titles == expected[name], f"{label}: {titles[:3]} != {expected[name][:3]}"
        for record in records:
            text = f"{record['title']} {record['summary']}"
            assert not LATIN_MOJIBAKE.search(text), f"{label}: {text[:200]}"
            assert not CYRILLIC_MOJIBAKE.search(text), f"{label}: {text[:200]}"
            assert "\ufffd" not in text, f"{label}: {text[:200]}"
    assert all(CYRILLIC.search(str(r["summary"])) for r in run.records if r["summary"])


# --- characters a feed writer escaped as UTF-16 ----------------------------------------------


def test_check_reads_surrogate_escapes_without_losing_the_feed(tmp_path: Path) -> None:
    """Emoji written as surrogate-pair references (XML) or lone "\\ud800" escapes (JSON Feed)
    must neither lose the feed nor break the UTF-8 output."""
    rss = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>Summit &#55357;&#56832; ends</title><link>https://e.test/1</link>"
        b"<description>Lone &#xD800; reference.</description></item></channel></rss>"
    )
    jsonfeed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "items": [{"id": "1", "url": "https://e.test/2", "title": "Lone \ud800 escape"}],
        },
        ensure_ascii=True,
    ).encode()
    with StaticServer() as server:
        rss_url = server.add("/rss.xml", rss, [("Content-Type", "application/rss+xml")])
        json_url = server.add("/feed.json", jsonfeed, [("Content-Type", "application/feed+json")])
        run = run_check([rss_url, json_url], tmp_path)
    assert_well_formed(run)
    assert run.returncodes == [0], run.stderr
    titles = {str(r["source"]): str(r["title"]) for r in run.records}
    assert titles == {rss_url: "Summit \U0001f600 ends", json_url: "Lone \ufffd escape"}
    summary = next(str(r["summary"]) for r in run.records if r["source"] == rss_url)
    assert summary == "Lone \ufffd reference."
