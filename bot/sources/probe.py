"""What a user-submitted address is: a feed, a page naming its feed, or a page to watch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain import FetchResult, ParsedFeed, UserError
from bot.sources.articles import ArticleFetcher
from bot.sources.extract import find_article_links
from bot.sources.fetch import Fetcher
from bot.sources.normalize import clean_title
from bot.sources.parse import parse_response


@dataclass(frozen=True, slots=True)
class SourceProbe:
    url: str
    kind: str  # feed | page
    name: str
    latest: list[str]


class NotASource(UserError, ValueError):
    """An address that answers but offers nothing to follow; `key` is `probe.<name>`."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(f"probe.{key}")
        self.message = message

    def __str__(self) -> str:
        return self.message


async def fetch_feed(fetcher: Fetcher, url: str) -> tuple[FetchResult, ParsedFeed]:
    """Fetch and parse an address; a page that names its feed is followed to the feed."""
    result = await fetcher.fetch(url)
    parsed = await asyncio.to_thread(parse_response, result)
    if not parsed.is_feed and parsed.feed_links:
        result = await fetcher.fetch(parsed.feed_links[0])
        parsed = await asyncio.to_thread(parse_response, result)
    return result, parsed


async def probe_source(fetcher: Fetcher, articles: ArticleFetcher, url: str) -> SourceProbe:
    """Fetch an address once and tell what it offers. Raises FetchError or NotASource."""
    result, parsed = await fetch_feed(fetcher, url)
    host = (urlsplit(result.final_url).hostname or result.final_url).removeprefix("www.")
    if parsed.entries:
        titles = [clean_title(entry.title) for entry in parsed.entries[:3]]
        feed_url = result.permanent_redirect or result.final_url
        return SourceProbe(feed_url, "feed", clean_title(parsed.title or "") or host, titles)
    if "html" not in result.content_type and parsed.is_feed:
        raise NotASource(parsed.error or "The feed has no items yet", "empty_feed")
    if "html" not in result.content_type:
        raise NotASource(
            parsed.error or "This address is neither a feed nor a web page", "not_feed_or_page"
        )
    html = result.body.decode("utf-8", "replace")
    links = await asyncio.to_thread(find_article_links, html, base_url=result.final_url)
    if not links:
        raise NotASource("I found no feed and no article links on that page", "no_links")
    found = await asyncio.gather(*(articles.article(link) for link in links[:3]))
    titles = [article.title or link for link, article in zip(links, found, strict=False) if article]
    return SourceProbe(result.final_url, "page", host, titles or links[:3])
