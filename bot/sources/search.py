"""News-search feeds built from a topic query, so a topic needs no feed URL."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote_plus, urlsplit

GOOGLE_NEWS = "https://news.google.com/rss/search?q={query}&hl={hl}&gl={gl}&ceid={gl}:{lang}"
BING_NEWS = "https://www.bing.com/news/search?q={query}&format=rss&setlang={lang}&cc={gl}"

# language -> (Google's hl, region)
REGIONS: dict[str, tuple[str, str]] = {
    "en": ("en-US", "US"),
    "ru": ("ru", "RU"),
    "hi": ("hi", "IN"),
    "uk": ("uk", "UA"),
    "de": ("de", "DE"),
    "fr": ("fr", "FR"),
    "es": ("es-419", "US"),
}

_NEAR = re.compile(r"\bNEAR/(\d+)\b")
_LANG = re.compile(r"(?<!\S)-?lang:\S+")
_TITLE = re.compile(r"(?<![\w-])title:")


@dataclass(frozen=True, slots=True)
class SearchFeed:
    engine: str
    name: str
    url: str


def search_terms(query: str, *, engine: str) -> str:
    """Our query syntax is close to what news search engines take; adapt the rest."""
    text = _LANG.sub(" ", query)
    if engine == "google":
        text = _NEAR.sub(r"AROUND(\1)", text)
        text = _TITLE.sub("intitle:", text)
    else:
        text = _NEAR.sub(" ", text)
        text = _TITLE.sub("", text)
    return " ".join(text.split())


def search_feeds(
    query: str,
    *,
    language: str = "en",
    google_template: str = GOOGLE_NEWS,
    bing_template: str = BING_NEWS,
) -> list[SearchFeed]:
    lang = (language or "en").split("-")[0].lower()
    hl, gl = REGIONS.get(lang, REGIONS["en"])
    if lang not in REGIONS:
        lang = "en"
    feeds = []
    for engine, label, template in (
        ("google", "Google News", google_template),
        ("bing", "Bing News", bing_template),
    ):
        if not template:
            continue
        terms = quote_plus(search_terms(query, engine=engine))
        url = template.format(query=terms, hl=hl, gl=gl, lang=lang)
        feeds.append(SearchFeed(engine, f"{label}: {query}"[:200], url))
    return feeds


def unwrap_search_link(url: str) -> str:
    """Resolve search-result redirect wrappers to the article URL they carry, where they do."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    params = parse_qs(parts.query)
    if host.endswith("bing.com") and "url" in params:
        return _http_or(params["url"][0], url)
    if host == "news.google.com" and "/articles/" in parts.path:
        return _google_article(parts.path.rsplit("/", 1)[-1]) or url
    if host.endswith("google.com") and parts.path == "/url":
        for key in ("url", "q"):
            if key in params:
                return _http_or(params[key][0], url)
    return url


def _http_or(candidate: str, fallback: str) -> str:
    return candidate if candidate.startswith(("http://", "https://")) else fallback


def _google_article(token: str) -> str | None:
    """Older Google News article ids carry the URL in base64; newer ones need Google to answer."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    found = re.search(rb"https?://[\x21-\x7e]+", raw)
    if not found:
        return None
    link = found.group(0).decode("ascii", "ignore")
    # The id's protobuf framing may trail the URL; a URL never contains these bytes.
    return re.split(r"[\x00-\x20\"<>\\^`{|}]", link)[0] or None
