"""Topic queries and the matcher that checks items against them."""

from bot.match.engine import TopicIndex
from bot.match.query import (
    MAX_DEPTH,
    MAX_NEAR,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    NO_ALIASES,
    Aliases,
    MatchDoc,
    MatchResult,
    PreparedDoc,
    Query,
    QueryError,
    load_aliases,
    match,
    normalize,
    parse_query,
    prepare,
    tokenize,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_NEAR",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "NO_ALIASES",
    "Aliases",
    "MatchDoc",
    "MatchResult",
    "PreparedDoc",
    "Query",
    "QueryError",
    "TopicIndex",
    "load_aliases",
    "match",
    "normalize",
    "parse_query",
    "prepare",
    "tokenize",
]
