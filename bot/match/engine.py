"""Match one item against many topics at a cost set by the item's words, not by the topic count."""

from __future__ import annotations

from collections import Counter

from bot.match.matcher import MatchDoc, MatchResult, PreparedDoc, match, prepare
from bot.match.query import Query


class TopicIndex:
    """Compiled topic queries, indexed by the words any matching item must contain.

    Each query is filed under its `required_terms`: every item it matches holds at least one of
    them. An item only gets checked against the topics filed under its own words.
    """

    def __init__(self) -> None:
        self._queries: dict[int, Query] = {}
        self._by_token: dict[str, set[int]] = {}
        self._by_prefix: dict[str, set[int]] = {}
        self._prefix_lengths: Counter[int] = Counter()
        self._always: set[int] = set()

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._queries

    def get(self, topic_id: int) -> Query | None:
        return self._queries.get(topic_id)

    def add(self, topic_id: int, query: Query) -> None:
        """File a topic's query, replacing the one it had."""
        self.remove(topic_id)
        self._queries[topic_id] = query
        anchors = query.required_terms
        if not anchors:
            self._always.add(topic_id)
        for anchor in anchors:
            if anchor.endswith("*"):
                prefix = anchor[:-1]
                if prefix not in self._by_prefix:
                    self._prefix_lengths[len(prefix)] += 1
                self._by_prefix.setdefault(prefix, set()).add(topic_id)
            else:
                self._by_token.setdefault(anchor, set()).add(topic_id)

    def remove(self, topic_id: int) -> None:
        query = self._queries.pop(topic_id, None)
        if query is None:
            return
        self._always.discard(topic_id)
        for anchor in query.required_terms:
            if anchor.endswith("*"):
                prefix = anchor[:-1]
                _discard(self._by_prefix, prefix, topic_id)
                if prefix not in self._by_prefix:
                    self._prefix_lengths[len(prefix)] -= 1
                    if not self._prefix_lengths[len(prefix)]:
                        del self._prefix_lengths[len(prefix)]
            else:
                _discard(self._by_token, anchor, topic_id)

    def candidates(self, doc: PreparedDoc) -> set[int]:
        """Topics that may match: those filed under a word of the item, plus unindexable ones."""
        found = set(self._always)
        by_token = self._by_token
        by_prefix = self._by_prefix
        lengths = sorted(self._prefix_lengths)
        for token in doc.vocabulary:
            if (ids := by_token.get(token)) is not None:
                found |= ids
            for length in lengths:
                if length > len(token):
                    break
                if (ids := by_prefix.get(token[:length])) is not None:
                    found |= ids
        return found

    def match(self, doc: MatchDoc | PreparedDoc) -> dict[int, MatchResult]:
        """Every topic the item matches, by topic id in ascending order."""
        prepared = doc if isinstance(doc, PreparedDoc) else prepare(doc)
        results: dict[int, MatchResult] = {}
        for topic_id in sorted(self.candidates(prepared)):
            result = match(self._queries[topic_id], prepared)
            if result is not None:
                results[topic_id] = result
        return results


def _discard(index: dict[str, set[int]], key: str, topic_id: int) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(topic_id)
        if not ids:
            del index[key]
