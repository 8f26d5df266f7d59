"""Topic queries and the matcher that checks items against them."""

from bot.match.engine import TopicIndex
from bot.match.lexer import MAX_DEPTH, MAX_NEAR, MAX_QUERY_CHARS, MAX_TERMS, QueryError
from bot.match.matcher import MatchDoc, MatchResult, PreparedDoc, match, prepare
from bot.match.query import Query, Wording, clean_input, parse_query
from bot.match.words import NO_ALIASES, Aliases, load_aliases, normalize, tokenize

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
    "Wording",
    "clean_input",
    "load_aliases",
    "match",
    "normalize",
    "parse_query",
    "prepare",
    "tokenize",
]
