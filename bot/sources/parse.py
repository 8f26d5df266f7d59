"""Turn a fetched feed body (RSS, Atom, RDF or JSON Feed) into a ParsedFeed.

feedparser does the heavy lifting. Around it this module adds what a bot polling
untrusted URLs needs: a guard against XML entity expansion, a size and entry cap,
detection of HTML pages (with feed autodiscovery), JSON Feed support, a repair for
bodies that were UTF-8 encoded twice, and strict "never raise" behaviour.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import feedparser
import lxml.etree
import lxml.html
from feedparser.datetimes import _parse_date
from feedparser.encodings import RE_XML_PI_ENCODING, convert_to_utf8
from feedparser.sanitizer import replace_doctype

from bot.domain import FeedEntry, FetchResult, ParsedFeed
from bot.sources.normalize import clean_title

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 500
# Declared entities may expand the document by at most this many characters in total.
MAX_ENTITY_EXPANSION = 1024 * 1024
MAX_ENTITY_DECLARATIONS = 100
MAX_TTL_SECONDS = 24 * 3600

ENTITIES_REFUSED = "Feed declares XML entities; refused"
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json+feed",
        "application/rdf+xml",
        "application/x-rss+xml",
    }
)
_FEED_ROOTS = frozenset({b"rss", b"feed", b"rdf:rdf", b"rdf", b"channel", b"redirect"})
_HTML_ROOTS = frozenset({b"html", b"head", b"body"})
_UPDATE_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}
_EARLIEST_YEAR = 1990


# --- double-encoded UTF-8 ("Ð¯Ð½Ð´ÐµÐºÑ") -------------------------------------------------


def _cp1252_fallback(exc: UnicodeError) -> tuple[bytes, int]:
    # cp1252 leaves 0x81, 0x8D, 0x8F, 0x90, 0x9D undefined; mojibake keeps them as C1 controls.
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    chunk = exc.object[exc.start : exc.end]
    if all(ord(ch) < 256 for ch in chunk):
        return chunk.encode("latin-1"), exc.end
    raise exc


codecs.register_error("summit_cp1252_fallback", _cp1252_fallback)

_CONTINUATION = "".join(
    sorted({bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xC0)})
)
_MOJIBAKE = re.compile(f"[\u00c2-\u00df][{re.escape(_CONTINUATION)}]")
_MOJIBAKE_MIN_HITS = 8


def _repair_double_utf8(body: bytes) -> bytes:
    """Undo UTF-8 text that was decoded as cp1252 and encoded to UTF-8 again."""
    # A byte order mark has no cp1252 form; left in, it would make the round trip fail.
    bom = b"\xef\xbb\xbf" if body.startswith(b"\xef\xbb\xbf") else b""
    try:
        text = body[len(bom) :].decode("utf-8")
    except UnicodeDecodeError:
        return body
    hits = sum(1 for _ in itertools.islice(_MOJIBAKE.finditer(text), _MOJIBAKE_MIN_HITS))
    if hits < _MOJIBAKE_MIN_HITS:
        return body
    try:
        # A strict round trip is only possible when every non-ASCII character is mojibake.
        repaired = text.encode("cp1252", errors="summit_cp1252_fallback").decode("utf-8")
    except UnicodeError:
        return body
    return bom + repaired.encode()


# --- surrogate character references ("&#55357;&#56832;") ------------------------------------

# Some feed writers escape characters outside the BMP as UTF-16 surrogate pairs. An XML parser
# refuses them and feedparser's fallback parser raises on them, losing the whole feed. Over the
# bytes: a surrogate can only appear as a reference in an ASCII-compatible encoding.
_SURROGATE_REF = re.compile(rb"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2})|0*(5[5-7][0-9]{3}));")
_SURROGATE_PAIR = re.compile(_SURROGATE_REF.pattern + _SURROGATE_REF.pattern)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _ref_value(hex_digits: bytes | None, decimal: bytes | None) -> int:
    return int(hex_digits, 16) if hex_digits is not None else int(decimal or b"0")


def _join_pair(match: re.Match[bytes]) -> bytes:
    high, low = _ref_value(*match.group(1, 2)), _ref_value(*match.group(3, 4))
    if 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF:
        return b"&#x%X;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    return match.group(0)


def _replace_lone(match: re.Match[bytes]) -> bytes:
    value = _ref_value(*match.group(1, 2))
    return b"&#xFFFD;" if 0xD800 <= value <= 0xDFFF else match.group(0)


def _fix_surrogate_refs(body: bytes) -> bytes:
    """Surrogate-pair references become one reference; lone surrogates become U+FFFD."""
    if _SURROGATE_REF.search(body) is None:
        return body
    return _SURROGATE_REF.sub(_replace_lone, _SURROGATE_PAIR.sub(_join_pair, body))


# --- undeclared charsets --------------------------------------------------------------------

_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']""", re.IGNORECASE)
# Single-byte and CJK encodings whose text feedparser would otherwise read as windows-1252.
_SNIFFABLE = frozenset(
    {
        "cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp866", "cp1253", "iso8859_7",
        "gb18030", "gb2312", "big5", "shift_jis", "cp932", "euc_jp", "euc_kr", "cp949",
    }
)  # fmt: skip


def _undeclared_charset(body: bytes, content_type: str) -> str | None:
    """Guess the charset of a body that declares none and is not UTF-8."""
    if "charset=" in content_type.lower() or body[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return None
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or _DECLARED_ENCODING.match(body[:512]):
        return None
    try:
        body.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:65536]).best()
    return best.encoding if best is not None and best.encoding in _SNIFFABLE else None


# --- XML prolog scan and entity guard --------------------------------------------------------


class _EntityRefused(Exception):
    pass


@dataclass(slots=True)
class _Prolog:
    root: bytes | None = None  # lower-cased name of the first element
    doctype: tuple[int, int, int] | None = None  # (start, subset start or -1, end)
    declarations: list[bytes] = field(default_factory=list)
    stray_entity: bool = False  # an <!ENTITY outside a DOCTYPE, or a subset we could not read


_ROOT_TAG = re.compile(rb"<([A-Za-z0-9_][^\s/>]*)")
_ENTITY_DECL = re.compile(
    rb"""<!ENTITY\s+([A-Za-z_][\w.\-]*)\s+(?:"([^"]*)"|'([^']*)')\s*>\Z""", re.IGNORECASE
)
_CHAR_REF = re.compile(rb"&#(?:[0-9]{1,7}|x[0-9a-fA-F]{1,6});\Z")


def _skip_quoted(data: bytes, i: int) -> int:
    end = data.find(data[i : i + 1], i + 1)
    return -1 if end < 0 else end + 1


def _scan_prolog(data: bytes) -> _Prolog:
    """Walk comments, PIs and the DOCTYPE up to the first element, as an XML parser would."""
    out = _Prolog()
    pos, n = 0, len(data)
    while pos < n:
        lt = data.find(b"<", pos)
        if lt < 0:
            break
        if data.startswith(b"<?", lt):
            end = data.find(b"?>", lt + 2)
            pos = n if end < 0 else end + 2
        elif data.startswith(b"<!--", lt):
            end = data.find(b"-->", lt + 4)
            pos = n if end < 0 else end + 3
        elif data[lt : lt + 9].upper() == b"<!DOCTYPE":
            pos = _scan_doctype(data, lt, out)
        elif data.startswith(b"<!", lt):
            if data[lt : lt + 8].upper() == b"<!ENTITY":
                out.stray_entity = True
            end = data.find(b">", lt)
            pos = n if end < 0 else end + 1
        elif match := _ROOT_TAG.match(data, lt):
            out.root = match.group(1).lower()
            break
        else:
            pos = lt + 1
    return out


def _scan_doctype(data: bytes, start: int, out: _Prolog) -> int:
    n = len(data)
    i = start + 9
    while i < n:
        ch = data[i : i + 1]
        if ch in (b'"', b"'"):
            i = _skip_quoted(data, i)
            if i < 0:
                break
        elif ch == b">":
            out.doctype = (start, -1, i + 1)
            return i + 1
        elif ch == b"[":
            return _scan_subset(data, start, i, out)
        else:
            i += 1
    out.stray_entity = out.stray_entity or b"<!ENTITY" in data[start:].upper()
    return n


def _scan_subset(data: bytes, start: int, subset: int, out: _Prolog) -> int:
    n = len(data)
    i = subset + 1
    while i < n:
        if data.startswith(b"]", i):
            close = data.find(b">", i)
            if close < 0 or data[i + 1 : close].strip():
                break
            out.doctype = (start, subset, close + 1)
            return close + 1
        if data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            i = n if end < 0 else end + 3
        elif data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
            i = n if end < 0 else end + 2
        elif data.startswith(b"<!", i):
            j = i + 2
            while j < n and data[j : j + 1] != b">":
                j = _skip_quoted(data, j) if data[j : j + 1] in (b'"', b"'") else j + 1
                if j < 0:
                    j = n
            out.declarations.append(data[i : j + 1])
            i = j + 1
        elif data[i : i + 1] in (b'"', b"'"):
            i = _skip_quoted(data, i)
            if i < 0:
                break
        else:
            i += 1
    # An unterminated internal subset: refuse if it declares anything.
    out.stray_entity = out.stray_entity or b"<!ENTITY" in data[subset:].upper()
    return n


def _expansion(data: bytes, entities: Iterable[tuple[bytes, int]]) -> int:
    return sum(data.count(b"&" + name + b";") * size for name, size in entities)


def _guard_entities(converted: bytes, prolog: _Prolog) -> bytes | None:
    """Return a rewritten document when the DOCTYPE had to be cleaned, else None.

    Harmless declarations (a character reference, or short plain text used a bounded
    number of times) are kept so feeds relying on them still read right. Parameter,
    external and nested entities are dropped; their references stay unexpanded.
    Anything that would still expand too far is refused.
    """
    if prolog.stray_entity:
        raise _EntityRefused
    rewritten: bytes | None = None
    if prolog.doctype and prolog.doctype[1] >= 0:
        start, subset, end = prolog.doctype
        if len(prolog.declarations) > MAX_ENTITY_DECLARATIONS:
            raise _EntityRefused
        kept: list[bytes] = []
        sizes: list[tuple[bytes, int]] = []
        for decl in prolog.declarations:
            match = _ENTITY_DECL.match(decl)
            if not match:
                continue
            name = match.group(1)
            value = match.group(2) if match.group(2) is not None else match.group(3)
            if b'"' in value:
                continue
            if _CHAR_REF.match(value):
                size = 1
            elif not re.search(rb"[&%<]", value):
                size = len(value)
            else:
                continue
            kept.append(b"<!ENTITY " + name + b' "' + value + b'">')
            sizes.append((name, size))
        if _expansion(converted[end:], sizes) > MAX_ENTITY_EXPANSION:
            raise _EntityRefused
        head = converted[start:subset].rstrip()
        # On a line of its own, so feedparser's own DOCTYPE regex sees the same declaration.
        subset_text = b" [\n" + b"\n".join(kept) + b"\n]" if kept else b""
        rewritten = converted[:start] + b"\n" + head + subset_text + b">" + converted[end:]
    # feedparser's loose parser expands what its own regex finds; check that too.
    final = rewritten if rewritten is not None else converted
    _, _, safe = replace_doctype(final)
    sizes2 = [(k.encode(), len(v)) for k, v in safe.items()]
    if _expansion(final, sizes2) > MAX_ENTITY_EXPANSION:
        raise _EntityRefused
    return rewritten


# --- entries listed unchanged since the last poll -------------------------------------------

# Most polls of a changed feed re-list dozens of entries it listed before, byte for byte, next
# to one or two new ones. A C parser finds the entry elements and digests them; those listed
# last time are cut out before the much slower feedparser reads the rest of the document.
LISTING_DIGEST_BYTES = 8
DATED_ENTRIES = 40  # unchanged entries whose dates are read, twice `observed_gap`'s sample
_LISTING_PARSER = lxml.etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, strip_cdata=False
)
_ENTRY_NAMES = frozenset({"item", "entry"})
_LISTING_ROOTS = frozenset({"rss", "rdf", "feed"})
# In feedparser's order of preference: published, then updated, then created.
_DATE_RANKS = {
    "pubdate": 0, "published": 0, "issued": 0, "updated": 1, "modified": 1, "date": 1, "created": 2
}  # fmt: skip


@dataclass(slots=True)
class _Listing:
    digests: bytes
    body: bytes | None  # the document without the entries cut out, if any were
    unchanged: int = 0
    unchanged_published: tuple[datetime, ...] = ()


def listed_digests(listing: bytes) -> set[bytes]:
    size = LISTING_DIGEST_BYTES
    return {listing[i : i + size] for i in range(0, len(listing) - size + 1, size)}


def _local_name(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower() if isinstance(tag, str) else ""


def _entry_date(entry: Any) -> datetime | None:
    found: tuple[int, str] | None = None
    for child in entry:
        rank = _DATE_RANKS.get(_local_name(child))
        if rank is not None and child.text and (found is None or rank < found[0]):
            found = (rank, child.text)
    return _valid_date(_from_struct(_parse_date(found[1].strip()))) if found else None


def _cut_listed(converted: bytes, unchanged: bytes) -> _Listing | None:
    """Digest every entry of a well-formed feed and cut out those listed last time.

    `converted` is the document as feedparser reads it: in UTF-8, declared so.
    """
    try:
        # feedparser reads past whitespace before the XML declaration; libxml2 would not.
        root = lxml.etree.fromstring(converted.lstrip(), _LISTING_PARSER)
    except (lxml.etree.LxmlError, ValueError):
        return None
    if _local_name(root) not in _LISTING_ROOTS:
        return None
    parents = [root, *(child for child in root if _local_name(child) == "channel")]
    entries = [e for parent in parents for e in parent if _local_name(e) in _ENTRY_NAMES]
    seen = listed_digests(unchanged)
    digests: list[bytes] = []
    cut: list[Any] = entries[MAX_ENTRIES:]
    published: list[datetime] = []
    for entry in entries[:MAX_ENTRIES]:
        markup = lxml.etree.tostring(entry, with_tail=False)
        digest = hashlib.blake2b(markup, digest_size=LISTING_DIGEST_BYTES).digest()
        digests.append(digest)
        if digest in seen:
            cut.append(entry)
            # The feed's rhythm is read from its newest entries, which feeds list first.
            if len(published) < DATED_ENTRIES and (moment := _entry_date(entry)):
                published.append(moment)
    body = None
    if cut:
        for entry in cut:
            entry.getparent().remove(entry)
        body = lxml.etree.tostring(root, encoding="utf-8", xml_declaration=True)
    unchanged_count = len(cut) - len(entries[MAX_ENTRIES:])
    return _Listing(b"".join(digests), body, unchanged_count, tuple(published))


# --- HTML pages ------------------------------------------------------------------------------


def _looks_like_html(head: bytes, content_type: str) -> bool:
    ctype = content_type.split(";")[0].strip().lower()
    sample = head[:4096].lower()
    if b"<rss" in sample or b"<feed" in sample or b"<rdf:rdf" in sample:
        return False
    return (
        ctype in ("text/html", "application/xhtml+xml")
        or b"<!doctype html" in sample
        or re.search(rb"<(html|head|body)[\s>]", sample) is not None
    )


def discover_feed_links(html: bytes | str, *, base_url: str) -> list[str]:
    """Feed URLs announced by <link rel="alternate" type="application/rss+xml" ...>."""
    try:
        doc = lxml.html.document_fromstring(html)
    except Exception:
        return []
    base = base_url
    for href in doc.xpath("//base/@href"):
        base = urljoin(base_url, str(href).strip())
        break
    found: list[str] = []
    for link in doc.xpath("//link[@href]"):
        rels = str(link.get("rel") or "").lower().split()
        kind = str(link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rels or kind not in FEED_TYPES:
            continue
        absolute = urljoin(base, re.sub(r"\s+", "", str(link.get("href"))))
        if urlsplit(absolute).scheme in ("http", "https") and absolute not in found:
            found.append(absolute)
    return found


def _html_result(body: bytes, url: str) -> ParsedFeed:
    return ParsedFeed(
        title=None,
        link=None,
        entries=[],
        is_feed=False,
        feed_links=discover_feed_links(body, base_url=url),
        error="Not a feed (HTML page)",
    )


# --- field helpers -----------------------------------------------------------------------------


def _valid_date(value: datetime | None, now: datetime | None = None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    now = now or datetime.now(UTC)
    if value.year < _EARLIEST_YEAR or value > now + timedelta(days=2):
        return None
    return value


def _from_struct(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _language(value: Any) -> str | None:
    """The primary language subtag ("en-US" -> "en"), or None."""
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _absolute_http(link: Any, base: str) -> str:
    if not isinstance(link, str) or not link.strip():
        return ""
    link = re.sub(r"\s+", "", link)
    try:
        absolute = urljoin(base, link)
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return ""
    return absolute if scheme in ("http", "https") else ""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    if _SURROGATE.search(value):
        # A JSON Feed's "\ud800" escapes: no UTF-8 output (database, Telegram) takes them.
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value.strip()


def _feed_title(feed: Mapping[str, Any]) -> str | None:
    """The feed's title as plain text; feedparser hands over HTML for type="html" titles."""
    title = _text(feed.get("title"))
    detail = feed.get("title_detail")
    if title and isinstance(detail, Mapping) and "html" in str(detail.get("type", "")):
        title = clean_title(title)
    return title or None


def _ttl_seconds(feed: Mapping[str, Any]) -> int | None:
    candidates: list[int] = []
    ttl = _text(feed.get("ttl"))
    if ttl.isdigit() and int(ttl) > 0:
        candidates.append(int(ttl) * 60)
    period = _UPDATE_PERIODS.get(_text(feed.get("sy_updateperiod")).lower())
    if period:
        frequency = _text(feed.get("sy_updatefrequency"))
        divisor = int(frequency) if frequency.isdigit() and int(frequency) > 0 else 1
        candidates.append(period // divisor)
    if not candidates:
        return None
    return max(60, min(max(candidates), MAX_TTL_SECONDS))


# --- feedparser result -> FeedEntry ----------------------------------------------------------


def _entry_link(entry: Mapping[str, Any], base: str) -> str:
    link = _absolute_http(entry.get("link"), base)
    if link:
        return link
    for candidate in entry.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate":
            link = _absolute_http(candidate.get("href"), base)
            if link:
                return link
    guid = _text(entry.get("id"))
    if guid.startswith(("http://", "https://")):
        return _absolute_http(guid, base)
    return ""


def _entry_content(entry: Mapping[str, Any]) -> str:
    values = [_text(c.get("value")) for c in entry.get("content") or [] if isinstance(c, Mapping)]
    values.append(_text(entry.get("summary")))
    return max(values, key=len)


def _entry_language(entry: Mapping[str, Any], feed_language: str | None) -> str | None:
    details = [entry.get("title_detail"), entry.get("summary_detail")]
    details.extend(entry.get("content") or [])
    for detail in details:
        if isinstance(detail, Mapping) and (lang := _language(detail.get("language"))):
            return lang
    return feed_language


def _entry_published(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get skips FeedParserDict's deprecated updated -> published aliasing.
        raw = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        value = _valid_date(_from_struct(raw))
        if value:
            return value
    return None


def _to_entry(entry: Mapping[str, Any], base: str, feed_language: str | None) -> FeedEntry:
    return FeedEntry(
        title=_text(entry.get("title")),
        link=_entry_link(entry, base),
        guid=_text(entry.get("id")) or None,
        published=_entry_published(entry),
        content_html=_entry_content(entry),
        author=_text(entry.get("author")) or None,
        language=_entry_language(entry, feed_language),
    )


def _prepare(
    body: bytes, *, url: str, content_type: str, unchanged: bytes = b""
) -> tuple[bytes, dict[str, str], _Prolog, _Listing | None]:
    """Apply the entity guard and cut out entries listed last time; returns the bytes and
    headers to give feedparser, and the entries' listing."""
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    if charset := _undeclared_charset(body, content_type):
        headers["content-type"] = f"application/xml; charset={charset}"
    probe: dict[str, Any] = {}
    try:
        # Scan the document as feedparser will see it, so UTF-16 or UTF-7 cannot hide a DOCTYPE.
        converted = convert_to_utf8(dict(headers), body, probe)
    except UnicodeDecodeError:
        # feedparser chokes on a non-UTF-8 encoding name in the XML declaration; blank it.
        if bogus := RE_XML_PI_ENCODING.match(body):
            body = body[: bogus.start(1)] + body[bogus.end(1) :]
        converted = convert_to_utf8(dict(headers), body, probe)
    prolog = _scan_prolog(converted)
    rewritten = _guard_entities(converted, prolog)
    listing = None
    if rewritten is None and prolog.doctype is None and probe.get("encoding"):
        listing = _cut_listed(converted, unchanged)
        rewritten = listing.body if listing is not None else None
    if rewritten is not None:
        body = rewritten
        headers["content-type"] = "application/xml; charset=utf-8"
    return body, headers, prolog, listing


def _run_feedparser(body: bytes, headers: dict[str, str]) -> Any:
    # A stream, not a str: feedparser treats strings as URLs or file names.
    return feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        resolve_relative_uris=True,
        sanitize_html=True,
    )


# --- JSON Feed ---------------------------------------------------------------------------------


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed | None:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return None
    if "jsonfeed.org" not in str(data.get("version", "")) and not data.get("title"):
        return None
    base = _absolute_http(data.get("feed_url"), url) or url
    feed_language = _language(data.get("language"))
    entries: list[FeedEntry] = []
    for item in data["items"][:MAX_ENTRIES]:
        if not isinstance(item, dict):
            continue
        link = _absolute_http(item.get("url"), base)
        link = link or _absolute_http(item.get("external_url"), base)
        content = _text(item.get("content_html"))
        if not content and (plain := _text(item.get("content_text"))):
            content = "<p>" + plain.replace("&", "&amp;").replace("<", "&lt;") + "</p>"
        summary = _text(item.get("summary"))
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next(
            (_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")), None
        )
        published = None
        for key in ("date_published", "date_modified"):
            published = _valid_date(_iso_datetime(item.get(key)))
            if published:
                break
        item_id = item.get("id")
        entries.append(
            FeedEntry(
                title=_text(item.get("title")),
                link=link,
                guid=None if item_id is None else (str(item_id).strip() or None),
                published=published,
                content_html=content if len(content) >= len(summary) else summary,
                author=author or None,
                language=_language(item.get("language")) or feed_language,
            )
        )
    return ParsedFeed(
        title=_text(data.get("title")) or None,
        link=_absolute_http(data.get("home_page_url"), url) or None,
        entries=entries,
        language=feed_language,
    )


def _iso_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        parsed = _parse_date(value)
        return _from_struct(parsed)


# --- entry point -------------------------------------------------------------------------------


def _failure(error: str, *, is_feed: bool = False) -> ParsedFeed:
    return ParsedFeed(title=None, link=None, entries=[], is_feed=is_feed, error=error)


def _short(exc: BaseException | None) -> str:
    text = re.sub(r"\s+", " ", str(exc or "")).strip() or type(exc).__name__
    return text[:80]


def parse_feed(
    body: bytes, *, url: str, content_type: str = "", unchanged: bytes = b""
) -> ParsedFeed:
    """Parse an already fetched feed body. Never raises and never touches the network.

    `unchanged` is the `listing` of the feed's last parse: entries listed then, byte for byte,
    are left out of `entries` (counted in `unchanged`).
    """
    try:
        return _parse(body, url=url, content_type=content_type, unchanged=unchanged)
    except Exception as exc:  # untrusted input must not break a polling cycle
        log.warning("feed parse failed for %s: %r", url, exc)
        return _failure(f"Malformed feed: {_short(exc)}")


def _parse(body: bytes, *, url: str, content_type: str, unchanged: bytes = b"") -> ParsedFeed:
    if not body or not body.strip():
        return _failure("Empty response")
    if len(body) > MAX_FEED_BYTES:
        return _failure("Feed too large", is_feed=True)
    body = _fix_surrogate_refs(_repair_double_utf8(body))
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        parsed = _parse_json_feed(body, url)
        return parsed if parsed is not None else _failure("Not a feed")
    if body[:1].isspace() and head.startswith(b"<?xml"):
        # Blank lines before the XML declaration (a common server-side slip) would make it
        # ill-formed and push feedparser to its loose parser.
        body = head
    try:
        data, headers, prolog, listing = _prepare(
            body, url=url, content_type=content_type, unchanged=unchanged
        )
    except _EntityRefused:
        return _failure(ENTITIES_REFUSED, is_feed=True)
    if prolog.root in _HTML_ROOTS:
        return _html_result(body, url)
    result = _run_feedparser(data, headers)

    feed = result.get("feed") or {}
    raw_entries = result.get("entries") or []
    if not raw_entries and not result.get("version"):
        if _looks_like_html(head, content_type):
            return _html_result(body, url)
        if prolog.root not in _FEED_ROOTS:
            return _failure("Not a feed")
        if result.get("bozo"):
            return _failure(f"Malformed feed: {_short(result.get('bozo_exception'))}")

    feed_language = _language(feed.get("language"))
    entries = [_to_entry(e, url, feed_language) for e in raw_entries[:MAX_ENTRIES]]
    return ParsedFeed(
        title=_feed_title(feed),
        link=_absolute_http(feed.get("link"), url) or None,
        entries=entries,
        language=feed_language,
        ttl_seconds=_ttl_seconds(feed),
        is_feed=True,
        listing=listing.digests if listing is not None else None,
        unchanged=listing.unchanged if listing is not None else 0,
        unchanged_published=listing.unchanged_published if listing is not None else (),
    )


def parse_response(result: FetchResult, unchanged: bytes = b"") -> ParsedFeed:
    """Parse a fetched response, handing feedparser the HTTP charset."""
    return parse_feed(
        result.body,
        url=result.final_url,
        content_type=result.headers.get("content-type", ""),
        unchanged=unchanged,
    )
