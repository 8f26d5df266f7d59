"""What every handler is handed: PTB's context, with the bot's services on it, typed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.delivery.translate import AlertTranslator
from bot.match import Aliases
from bot.sources.articles import ArticleFetcher
from bot.sources.fetch import Fetcher
from bot.sources.search import search_feeds
from bot.storage.models import Topic, utcnow
from bot.storage.store import Store

SERVICES = "services"  # the bot_data key `register` stores them under


@dataclass
class Services:
    store: Store
    settings: Settings
    aliases: Aliases | None = None
    fetcher: Fetcher | None = None
    articles: ArticleFetcher | None = None
    translator: AlertTranslator | None = None
    on_topics_changed: Callable[[], None] = field(default=lambda: None)
    clock: Callable[[], datetime] = utcnow  # what "today" is for /upcoming and /calendar

    def search_urls(self, topic: Topic, language: str) -> list[tuple[str, str]]:
        if not self.settings.news_search or not topic.search:
            return []
        return [
            (feed.url, feed.name)
            for feed in search_feeds(
                topic.query,
                language=language,
                google_template=self.settings.news_search_google_url,
                bing_template=self.settings.news_search_bing_url,
            )
        ]


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context of every handler and job of the application `build_application` makes."""

    __slots__ = ()

    @property
    def services(self) -> Services:
        services: Services = self.bot_data[SERVICES]
        return services


CONTEXT_TYPES = ContextTypes(context=BotContext)
