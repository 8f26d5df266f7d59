"""The compiled queries of every active topic, kept up to date by difference."""

from __future__ import annotations

import logging

from bot.dedup.terms import TermAliases
from bot.match import (
    Aliases,
    QueryError,
    TopicIndex,
    parse_query,
)
from bot.storage.store import ActiveTopic

log = logging.getLogger(__name__)


class TopicCache:
    """Compiled queries of every active topic, refreshed by difference from the database."""

    def __init__(self, aliases: Aliases | None) -> None:
        self.aliases = aliases
        self.term_aliases = TermAliases.from_aliases(aliases)
        self.index = TopicIndex()
        self.topics: dict[int, ActiveTopic] = {}

    def refresh(self, active: list[ActiveTopic]) -> None:
        wanted = {topic.id: topic for topic in active}
        for topic_id, topic in list(self.topics.items()):
            if wanted.get(topic_id) != topic:
                self.index.remove(topic_id)
                del self.topics[topic_id]
        for topic_id, topic in wanted.items():
            if topic_id in self.topics:
                continue
            try:
                self.index.add(topic_id, parse_query(topic.query, self.aliases))
            except QueryError:
                log.warning("stored topic %s no longer parses; skipped", topic_id)
                continue
            self.topics[topic_id] = topic
