"""Main text of an article page (trafilatura), and article links on a listing page."""

from __future__ import annotations

import itertools
import json
import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
import trafilatura

from bot.domain import Article
from bot.sources.normalize import canonical_url, clean_title
from bot.summarize.summary import summarize

log = logging.getLogger(__name__)

MAX_HTML_BYTES = 5 * 1024 * 1024
# The largest of 411 evaluation pages has 5,500 elements.
MAX_ELEMENTS = 20_000
SUMMARY_LIMIT = 350

# <meta> names and properties that carry a precise publication time.
_DATE_META = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "datepublished",
    "publishdate",
    "publish-date",
    "publish_date",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.created",
    "dc.date",
    "article.published",
    "cxenseparse:recs:publishtime",
)
_JSONLD_TYPES = re.compile(r"\w*Article|BlogPosting|Report|LiveBlogPosting", re.I)
_EARLIEST_YEAR = 1990


def _capped(html: str | bytes) -> str | bytes:
    # Characters, not bytes, for str input: close enough for a guard against huge pages.
    return html[:MAX_HTML_BYTES]


def _parse_datetime(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _plausible(parsed)


def _plausible(value: datetime) -> datetime | None:
    value = value.astimezone(UTC)
    too_late = datetime.now(UTC) + timedelta(days=2)
    return value if value.year >= _EARLIEST_YEAR and value <= too_late else None


def _jsonld_dates(doc: Any) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            kind = node.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and _JSONLD_TYPES.fullmatch(k) for k in kinds):
                value = node.get("datePublished")
                if isinstance(value, str):
                    found.append(value)
            walk(node.get("@graph"))

    for script in doc.xpath('//script[@type="application/ld+json"]/text()')[:20]:
        try:
            walk(json.loads(str(script)))
        except (ValueError, RecursionError):
            continue
    return found


def _precise_published(tree: Any) -> datetime | None:
    """The publication time from structured markup, which is more exact than a page date."""
    candidates: list[str] = _jsonld_dates(tree)
    for meta in tree.xpath("//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _DATE_META:
            candidates.append(meta.get("content") or "")
    candidates.extend(str(v) for v in tree.xpath('//*[@itemprop="datePublished"]/@datetime'))
    for candidate in candidates:
        parsed = _parse_datetime(candidate)
        if parsed is not None:
            return parsed
    return None


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return _plausible(datetime.combine(day, time(0, 0), tzinfo=UTC))


def _language(value: str | None) -> str | None:
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _tree(html: str | bytes) -> Any | None:
    """Parse with trafilatura's loader, which also guesses the charset of bytes."""
    try:
        return trafilatura.load_html(html)
    except (lxml.etree.LxmlError, ValueError, TypeError):
        return None


def extract_article(html: str | bytes, *, url: str | None = None) -> Article:
    """Title, main text, date, language and a summary of an article page. Never raises."""
    try:
        return _extract(_capped(html), url)
    except Exception as exc:  # a hostile page must not break a poll
        log.warning("article extraction failed for %s: %r", url, exc)
        return Article(title=None, text="", published=None, summary="", url=url)


def _extract(html: str | bytes, url: str | None) -> Article:
    if not html or not html.strip():
        return Article(title=None, text="", published=None, summary="", url=url)
    tree = _tree(html)
    if tree is None:
        return Article(title=None, text="", published=None, summary="", url=url)
    if sum(1 for _ in itertools.islice(tree.iter(), MAX_ELEMENTS + 1)) > MAX_ELEMENTS:
        # Extraction time grows faster than linearly; real articles stay far below this.
        log.warning("page too complex to extract: %s", url)
        return _metadata_only(tree, url)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        with_metadata=True,
    )
    text = ""
    title: str | None = None
    language: str | None = None
    day: str | None = None
    if document is not None and not isinstance(document, dict):
        text = document.text or ""
        title = document.title
        language = document.language
        day = document.date
    if not language:
        language = tree.get("lang") or None
    title = clean_title(title) if title else None
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    published = _precise_published(tree) or _day(day)
    return Article(
        title=title or None,
        text=text,
        published=published,
        summary=summarize(text, title=title or "", limit=SUMMARY_LIMIT),
        language=_language(language),
        url=url,
    )


def _metadata_only(tree: Any, url: str | None) -> Article:
    titles = tree.xpath('//meta[@property="og:title"]/@content') or tree.xpath("//title/text()")
    title = clean_title(str(titles[0])) if titles else ""
    return Article(
        title=title or None,
        text="",
        published=_precise_published(tree),
        summary="",
        language=_language(tree.get("lang")),
        url=url,
    )


# --- listing pages -----------------------------------------------------------------------------

_SKIP_SEGMENTS = frozenset(
    {
        "tag", "tags", "topic", "topics", "category", "categories", "section", "sections",
        "author", "authors", "profile", "login", "signin", "sign-in", "register", "signup",
        "about", "about-us", "privacy", "privacy-policy", "terms", "contact", "contact-us",
        "subscribe", "subscription", "newsletter", "newsletters", "account", "search", "help",
        "faq", "cookie-policy", "cookies", "advertise", "careers", "jobs", "feed", "rss",
        "wp-login.php", "cart", "shop", "page", "archive", "archives", "sitemap",
    }
)  # fmt: skip
_ASSET = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|ico|bmp|tiff?|avif|mp3|mp4|m4a|webm|mov|avi|pdf|zip|gz|rar|"
    r"exe|dmg|css|js|json|xml|rss|atom|woff2?|ttf)$",
    re.IGNORECASE,
)
_SLUG = re.compile(r"\w+(?:-\w+){2,}")
_NUMERIC_ID = re.compile(r"\d{4,}")


def _site(host: str) -> str:
    return host.lower().removeprefix("www.")


def _looks_like_article(path: str) -> bool:
    """Article URLs end in a slug or an id; section pages end in a bare word."""
    segments = [s for s in path.split("/") if s]
    if not segments or _ASSET.search(segments[-1]):
        return False
    if any(s.lower() in _SKIP_SEGMENTS for s in segments):
        return False
    last = re.sub(r"\.(s?html?|php|aspx?|cms)$", "", segments[-1], flags=re.IGNORECASE)
    if _SLUG.fullmatch(last) or _NUMERIC_ID.search(last):
        return True
    has_marks = any(c.isdigit() for c in last) or "-" in last or "_" in last
    return len(segments) >= 2 and len(last) >= 5 and has_marks


def find_article_links(html: str, *, base_url: str, limit: int = 100) -> list[str]:
    """Same-site links that look like articles, canonical, in page order. Never raises."""
    try:
        tree = _tree(_capped(html))
        base_host = _site(urlsplit(base_url).hostname or "")
        if tree is None or not base_host:
            return []
        base = base_url
        for href in tree.xpath("//base/@href")[:1]:
            base = urljoin(base_url, str(href).strip())
        found: list[str] = []
        seen: set[str] = set()
        for raw in tree.xpath("//a/@href"):
            href = str(raw).strip()
            if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
                continue
            absolute = urljoin(base, re.sub(r"\s+", "", href))
            parts = urlsplit(absolute)
            if parts.scheme not in ("http", "https") or _site(parts.hostname or "") != base_host:
                continue
            if not _looks_like_article(parts.path):
                continue
            canonical = canonical_url(absolute)
            if canonical not in seen:
                seen.add(canonical)
                found.append(canonical)
                if len(found) >= limit:
                    break
        return found
    except Exception as exc:
        log.warning("link discovery failed for %s: %r", base_url, exc)
        return []
