"""What /watch checks before it stores a topic."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import UserError
from bot.match import Aliases, Query, QueryError, parse_query
from bot.storage.models import Topic

MAX_QUERY_LENGTH = 300  # characters of a topic's query
MODES = ("instant", "hourly", "daily")  # how a topic's alerts arrive


def understood_as(query: str, aliases: Aliases | None) -> str:
    """A query's meaning with spelling, case, accents and spacing folded away."""
    try:
        return parse_query(query, aliases).describe()
    except QueryError:  # stored before a rule was added: compare the text
        return " ".join(query.casefold().split())


def same_topic(topics: Sequence[Topic], query: Query, aliases: Aliases | None) -> Topic | None:
    """The chat's topic that reads exactly like `query`, if there is one."""
    wanted = query.describe()
    return next((t for t in topics if understood_as(t.query, aliases) == wanted), None)


def refuse_duplicate(topics: Sequence[Topic], query: Query, aliases: Aliases | None) -> None:
    """UserError naming the number of the chat's topic that already reads like `query`."""
    same = same_topic(topics, query, aliases)
    if same is not None:
        raise UserError("duplicate.topic", id=same.number or 0, query=same.query)
