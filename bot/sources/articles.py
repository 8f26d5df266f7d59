"""Article pages fetched for their text: for thin feed items and for page-mode sources."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from bot.domain import Article
from bot.sources.extract import extract_article
from bot.sources.fetch import Fetcher, FetchError

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
MAX_TEXT = 20_000


class ArticleFetcher:
    """Fetches and extracts article pages, remembering recent results (failures too), so a
    page is fetched once however many feeds carry it. Per-host politeness comes from the
    shared fetcher's caps."""

    def __init__(self, fetcher: Fetcher, *, cache_size: int = 1024) -> None:
        self.fetcher = fetcher
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Article | None] = OrderedDict()

    async def article(self, url: str) -> Article | None:
        if url in self._cache:
            self._cache.move_to_end(url)
            return self._cache[url]
        try:
            result = await self.fetcher.fetch(url, accept=HTML_ACCEPT)
        except FetchError:
            article = None
        else:
            article = await asyncio.to_thread(extract_article, result.body, url=result.final_url)
            if not article.text:
                article = None
        self._cache[url] = article
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return article
