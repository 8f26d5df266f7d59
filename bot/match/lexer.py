"""The query's words and operators read from untrusted chat input, and the errors a user is
shown when a query cannot be read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from babel.localedata import locale_identifiers

from bot.domain import UserError

MAX_QUERY_CHARS = 300
MAX_TERMS = 30
MAX_DEPTH = 10
MAX_NEAR = 50
MIN_PREFIX = 2


class QueryError(UserError, ValueError):
    """A query the user has to fix. `message` is the English text (logs, the command line);
    chat replies use `key`, `query.<name>` in the catalogs, with the limits as values."""

    def __init__(self, message: str) -> None:
        super().__init__(_KEY_OF.get(message, "query.invalid"), **_LIMITS)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- lexer --------------------------------------------------------------------------------------

_QUOTES = frozenset('"“”„‟«»＂')
_DASHES = frozenset("-–—−")
_FIELD_RE = re.compile(r"(title|site|lang):", re.IGNORECASE)
_NEAR_RE = re.compile(r"near/(.*)", re.IGNORECASE | re.DOTALL)
_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
_LANG_RE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")

_E_EMPTY = "The query is empty. Type a few words to watch, e.g. Putin Modi summit."
_E_NO_WORDS = "A query needs at least one word to look for."
_E_ONLY_EXCLUDED = "A query needs at least one word to look for, not only exclusions."
_E_ONLY_FILTERS = "A query needs at least one word to look for; site: and lang: only narrow it."
_E_OR_SIDE = (
    "Each side of OR needs a word to look for; an exclusion or a site:/lang: filter"
    " can't stand there alone."
)
_E_UNCLOSED = "Unbalanced parentheses: a '(' is never closed."
_E_UNOPENED = "Unbalanced parentheses: a ')' has no matching '('."
_E_QUOTE = "Unbalanced quotes: a '\"' is never closed."
_E_EMPTY_GROUP = "Empty parentheses: put some words inside '( )'."
_E_EMPTY_PHRASE = "Empty phrase: put some words inside the quotes."
_E_OR = "Dangling OR: it needs a word on both sides."
_E_AND = "Dangling AND: it needs a word on both sides."
_E_NOT = "Dangling NOT: it must be followed by a word, phrase or group."
_E_MINUS = "Nothing to exclude after '-': write it right before a word, e.g. -cricket."
_E_DOUBLE_NOT = "Double exclusion: use NOT or '-' only once before a word."
_E_NEAR_N = f"NEAR needs a distance from 1 to {MAX_NEAR}, e.g. Putin NEAR/5 Modi."
_E_NEAR_ARGS = "NEAR links two words or phrases, e.g. Putin NEAR/5 Modi."
_E_NEAR_CHAIN = "NEAR links exactly two words or phrases; combine more with AND."
_E_BARE_STAR = "A bare '*' would match everything; put at least 2 letters before it, e.g. Путин*."
_E_SHORT_PREFIX = "A wildcard needs at least 2 letters before the '*', e.g. Путин*."
_E_MID_STAR = "A '*' can only end a word, e.g. Путин*."
_E_TITLE = "'title:' needs a word, phrase or group right after it, e.g. title:Putin."
_E_TITLE_FILTER = "'title:' applies to words and phrases, not to site: or lang:."
_E_SITE = "'site:' needs a web address, e.g. site:bbc.com."
_E_LANG = "'lang:' needs a language code, e.g. lang:ru."
_E_LANG_UNKNOWN = "'lang:' needs a known language code, e.g. lang:ru or lang:hi."
_E_LONG = f"The query is too long: at most {MAX_QUERY_CHARS} characters."
_E_TERMS = f"Too many words: at most {MAX_TERMS} per query."
_E_DEPTH = f"Too deeply nested: at most {MAX_DEPTH} levels of parentheses."
_KEY_OF = {
    text: f"query.{name[3:].lower()}" for name, text in globals().items() if name[:3] == "_E_"
}
_LIMITS = {
    "max_near": MAX_NEAR,
    "max_chars": MAX_QUERY_CHARS,
    "max_terms": MAX_TERMS,
    "max_depth": MAX_DEPTH,
}


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # WORD WILD PHRASE LPAREN RPAREN AND OR NOT MINUS NEAR TITLE SITE LANG
    value: str = ""
    number: int = 0


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Lexeme("LPAREN" if c == "(" else "RPAREN"))
            i += 1
        elif c in _QUOTES:
            end = next((j for j in range(i + 1, n) if text[j] in _QUOTES), -1)
            if end < 0:
                raise QueryError(_E_QUOTE)
            out.append(_Lexeme("PHRASE", text[i + 1 : end]))
            i = end + 1
        elif c in _DASHES:
            # A dash glued to what follows excludes it; a lone dash is just punctuation.
            if i + 1 < n and not text[i + 1].isspace():
                out.append(_Lexeme("MINUS"))
            i += 1
        else:
            j = i
            while (
                j < n and not text[j].isspace() and text[j] not in "()" and text[j] not in _QUOTES
            ):
                j += 1
            out.extend(_lex_word(text[i:j], text[j] if j < n else ""))
            i = j
    return out


def _lex_word(word: str, following: str) -> list[_Lexeme]:
    if word in ("AND", "OR", "NOT"):
        return [_Lexeme(word)]
    if word == "NEAR":
        raise QueryError(_E_NEAR_N)
    if near := _NEAR_RE.fullmatch(word):
        digits = near.group(1)
        if not (digits.isascii() and digits.isdigit() and 1 <= int(digits) <= MAX_NEAR):
            raise QueryError(_E_NEAR_N)
        return [_Lexeme("NEAR", number=int(digits))]
    if fld := _FIELD_RE.match(word):
        name, rest = fld.group(1).lower(), word[fld.end() :]
        if name == "site":
            return [_Lexeme("SITE", _site_host(rest))]
        if name == "lang":
            return [_Lexeme("LANG", _lang_code(rest))]
        if not rest and following not in _QUOTES and following != "(":
            raise QueryError(_E_TITLE)
        return [_Lexeme("TITLE"), *(_lex_term(rest) if rest else [])]
    return _lex_term(word)


def _lex_term(word: str) -> list[_Lexeme]:
    if word.endswith("*"):
        stem = word.rstrip("*")
        if "*" in stem:
            raise QueryError(_E_MID_STAR)
        return [_Lexeme("WILD", stem)]
    if "*" in word:
        raise QueryError(_E_MID_STAR)
    return [_Lexeme("WORD", word)]


def _site_host(value: str) -> str:
    host = value.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host)
    host = re.split(r"[/?#:]", host, maxsplit=1)[0].rstrip(".").removeprefix("www.")
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise QueryError(_E_SITE) from None
    if not _HOST_RE.fullmatch(host):
        raise QueryError(_E_SITE)
    return host


def _lang_code(value: str) -> str:
    code = value.strip().lower().replace("_", "-")
    if not _LANG_RE.fullmatch(code):
        raise QueryError(_E_LANG)
    if code.split("-", 1)[0] not in _known_languages():
        raise QueryError(_E_LANG_UNKNOWN)
    return code


@cache
def _known_languages() -> frozenset[str]:
    """Language codes in the Unicode CLDR (via Babel); `lang:` with another can never match."""
    return frozenset(name.split("_", 1)[0].lower() for name in locale_identifiers())
