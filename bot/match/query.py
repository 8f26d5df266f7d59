"""Topic queries: parse untrusted chat input into a small boolean tree and match it against items.

Grammar, loosest binding first::

    query   := and_expr
    and_expr:= or_expr ( [AND] or_expr )*          # a space is an implicit AND
    or_expr := unary ( OR unary )*                 # OR binds tighter than AND, as in web search
    unary   := ( NOT | - ) near | near
    near    := primary [ NEAR/n primary ]
    primary := word | word* | "phrase" | ( and_expr )
             | title:primary | site:host | lang:code
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import TypeAlias

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


# --- normalization and tokens -------------------------------------------------------------------


def _char_class(codepoints: Iterable[int]) -> str:
    parts: list[str] = []
    start = prev = -2
    for cp in [*sorted(codepoints), -1]:
        if cp == prev + 1:
            prev = cp
            continue
        if start >= 0:
            parts.append(chr(start) if start == prev else f"{chr(start)}-{chr(prev)}")
        start = prev = cp
    return "".join(parts)


def _marks() -> tuple[list[int], list[int]]:
    """Code points of all marks, and of the nonspacing ones."""
    # Planes 2-13 hold no marks and 15-16 are private use; letters and digits are skipped
    # cheaply by the regex before asking for categories.
    points = array("I", [*range(0xD800), *range(0xE000, 0x20000), *range(0xE0000, 0xE1000)])
    chars = points.tobytes().decode(f"utf-32-{sys.byteorder[0]}e")
    marks: list[int] = []
    nonspacing: list[int] = []
    for ch in re.sub(r"[^\W_]+", "", chars):
        category = unicodedata.category(ch)
        if category[0] == "M":
            marks.append(ord(ch))
            if category == "Mn":
                nonspacing.append(ord(ch))
    return marks, nonspacing


_ALL_MARKS, _NONSPACING_MARKS = _marks()
# Only Latin, Greek and Cyrillic lose their marks: in Devanagari and other abugidas the marks are
# vowels and the word would become another word.
_LGC_LETTERS = (
    "A-Za-z\u00c0-\u02af\u0370-\u03ff\u0400-\u052f\u1c80-\u1c8f\u1e00-\u1fff"
    "\u2c60-\u2c7f\ua640-\ua69f\ua720-\ua7ff\uab30-\uab6f"
)
_LGC_MARKS_RE = re.compile(f"(?<=[{_LGC_LETTERS}])[{_char_class(_NONSPACING_MARKS)}]+")
_TOKEN_RE = re.compile(f"(?:[^\\W_]|[{_char_class(_ALL_MARKS)}])+")
WORD_CHAR = _TOKEN_RE.pattern[:-1]  # one letter, digit or mark, in any script
# Chinese and Japanese are written without spaces; one token per character turns a query word
# into a phrase, which then matches inside the running text.
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200c\u200d\u2060\ufeff"))
# U+02BC is a letter to Unicode, but keyboards put it where an apostrophe belongs ("Putinʼs").
_INVISIBLE[0x02BC] = " "


def normalize(text: str) -> str:
    """Case- and accent-folded text: NFKD, casefold, drop marks on Latin/Greek/Cyrillic, NFC."""
    s = unicodedata.normalize("NFKD", text.translate(_INVISIBLE)).casefold()
    s = _LGC_MARKS_RE.sub("", unicodedata.normalize("NFKD", s))
    return unicodedata.normalize("NFC", s)


def tokenize(text: str) -> list[str]:
    """Normalized word tokens: runs of letters, digits and marks; everything else separates."""
    return _TOKEN_RE.findall(_CJK_RE.sub(r" \g<0> ", normalize(text)))


# --- aliases ------------------------------------------------------------------------------------

Tokens: TypeAlias = tuple[str, ...]


class Aliases:
    """Sets of names for the same thing; a plain query word from a set matches any of its names."""

    __slots__ = ("_variants", "sets")

    def __init__(self, sets: Iterable[Iterable[str]] = ()) -> None:
        variants: dict[Tokens, list[Tokens]] = {}
        kept: list[tuple[Tokens, ...]] = []
        for names in sets:
            group: list[Tokens] = []
            for name in names:
                tokens = tuple(tokenize(name))
                if not tokens:
                    raise ValueError(f"Alias {name!r} has no letters or digits")
                if tokens not in group:
                    group.append(tokens)
            if not group:
                continue
            kept.append(tuple(group))
            for tokens in group:
                known = variants.setdefault(tokens, [tokens])
                known.extend(t for t in group if t not in known)
        self.sets: tuple[tuple[Tokens, ...], ...] = tuple(kept)
        self._variants = {k: tuple(v) for k, v in variants.items()}

    def variants(self, tokens: Tokens) -> tuple[Tokens, ...]:
        """Every token sequence that counts as `tokens`, starting with `tokens` itself."""
        return self._variants.get(tokens, (tokens,))

    def __len__(self) -> int:
        return len(self.sets)


NO_ALIASES = Aliases()


def load_aliases(path: str | os.PathLike[str]) -> Aliases:
    """Read `[[alias]]` tables, each with `terms = ["Putin", "Путин", ...]`."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    tables = data.get("alias", [])
    if not isinstance(tables, list):
        raise ValueError(f"{path}: 'alias' must be an array of tables ([[alias]])")
    sets: list[list[str]] = []
    for number, table in enumerate(tables, 1):
        terms = table.get("terms") if isinstance(table, dict) else None
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise ValueError(f"{path}: alias #{number} needs a 'terms' list of strings")
        sets.append(terms)
    try:
        return Aliases(sets)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


# --- the query tree -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase: any variant, as consecutive tokens, matches."""

    label: str  # as the user wrote it
    variants: tuple[Tokens, ...]  # the user's own tokens first, then aliases
    prefix: bool = False  # the last token of a variant matches as a prefix
    title_only: bool = False


@dataclass(frozen=True, slots=True)
class Near:
    left: Term
    right: Term
    distance: int  # 1 = adjacent

    @property
    def label(self) -> str:
        return f"{self.left.label} NEAR/{self.distance} {self.right.label}"


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Site:
    host: str


@dataclass(frozen=True, slots=True)
class Lang:
    code: str


Node: TypeAlias = "Term | Near | And | Or | Not | Site | Lang"


@dataclass(frozen=True)
class Query:
    text: str
    ast: Node

    def describe(self, words: Wording | None = None) -> str:
        """A plain echo of how the query was understood, e.g. 'all of: putin, modi; none of: x'.

        `words` gives the connecting words in the reader's language."""
        w = words or Wording()
        node = self.ast
        if isinstance(node, Or):
            return w.any_of + ": " + ", ".join(_describe(c, w) for c in node.children)
        children = node.children if isinstance(node, And) else (node,)
        wanted = [_describe(c, w) for c in children if not isinstance(c, Not)]
        unwanted = [_describe(c.child, w) for c in children if isinstance(c, Not)]
        text = w.all_of + ": " + ", ".join(wanted)
        return text + (f"; {w.none_of}: " + ", ".join(unwanted) if unwanted else "")

    @cached_property
    def required_terms(self) -> frozenset[str]:
        """Normalized tokens of which every matching item contains at least one.

        An entry ending in '*' stands for any token with that prefix. Empty when the query has no
        such anchor, so an index has to check it against every item.
        """
        return _anchors(self.ast) or frozenset()


def _describe_term(term: Term) -> str:
    words = list(term.variants[0])
    if term.prefix:
        words[-1] += "*"
    text = words[0] if len(words) == 1 else '"' + " ".join(words) + '"'
    return "title:" + text if term.title_only else text


@dataclass(frozen=True, slots=True)
class Wording:
    """The connecting words of `Query.describe`; English unless the caller gives others."""

    all_of: str = "all of"
    any_of: str = "any of"
    none_of: str = "none of"
    and_: str = "and"
    or_: str = "or"
    not_: str = "not"
    within: str = "{left} within {n} words of {right}"
    within_one: str = "{left} within 1 word of {right}"


def _describe(node: Node, w: Wording) -> str:
    match node:
        case Term():
            return _describe_term(node)
        case Near(left, right, n):
            pattern = w.within_one if n == 1 else w.within
            return pattern.format(left=_describe_term(left), n=n, right=_describe_term(right))
        case And(children):
            return "(" + f" {w.and_} ".join(_describe(c, w) for c in children) + ")"
        case Or(children):
            return "(" + f" {w.or_} ".join(_describe(c, w) for c in children) + ")"
        case Not(child):
            return f"{w.not_} " + _describe(child, w)
        case Site(host):
            return "site:" + host
        case Lang(code):
            return "lang:" + code


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


# --- parser -------------------------------------------------------------------------------------

_ENDS_OPERAND = frozenset({"RPAREN", "AND", "OR"})


class _Parser:
    def __init__(self, lexemes: list[_Lexeme], aliases: Aliases) -> None:
        self.lexemes = lexemes
        self.aliases = aliases
        self.pos = 0
        self.depth = 0
        self.terms = 0

    def peek(self) -> _Lexeme | None:
        return self.lexemes[self.pos] if self.pos < len(self.lexemes) else None

    def take(self) -> _Lexeme:
        lexeme = self.lexemes[self.pos]
        self.pos += 1
        return lexeme

    def parse(self) -> Node | None:
        node = self.and_expr()
        if self.peek() is not None:
            raise QueryError(_E_UNOPENED)
        return node

    def and_expr(self) -> Node | None:
        items: list[Node] = []
        has_left = False
        while (lexeme := self.peek()) is not None and lexeme.kind != "RPAREN":
            if lexeme.kind == "OR":
                raise QueryError(_E_OR)
            if lexeme.kind == "AND":
                self.take()
                following = self.peek()
                if not has_left or following is None or following.kind in _ENDS_OPERAND:
                    raise QueryError(_E_AND)
                continue
            has_left = True
            if (node := self.or_expr()) is not None:
                items.append(node)
        return _combine(And, items)

    def or_expr(self) -> Node | None:
        items = [self.unary()]
        while (lexeme := self.peek()) is not None and lexeme.kind == "OR":
            self.take()
            following = self.peek()
            if following is None or following.kind in _ENDS_OPERAND:
                raise QueryError(_E_OR)
            items.append(self.unary())
        return _combine(Or, [item for item in items if item is not None])

    def unary(self) -> Node | None:
        lexeme = self.peek()
        if lexeme is None or lexeme.kind not in ("NOT", "MINUS"):
            return self.near()
        self.take()
        following = self.peek()
        if following is None or following.kind in _ENDS_OPERAND:
            raise QueryError(_E_NOT if lexeme.kind == "NOT" else _E_MINUS)
        if following.kind in ("NOT", "MINUS"):
            raise QueryError(_E_DOUBLE_NOT)
        child = self.near()
        return None if child is None else Not(child)

    def near(self) -> Node | None:
        left = self.primary()
        lexeme = self.peek()
        if lexeme is None or lexeme.kind != "NEAR":
            return left
        self.take()
        following = self.peek()
        if following is None or following.kind not in ("WORD", "WILD", "PHRASE", "TITLE"):
            raise QueryError(_E_NEAR_ARGS)
        right = self.primary()
        if not isinstance(left, Term) or not isinstance(right, Term):
            raise QueryError(_E_NEAR_ARGS)
        if (after := self.peek()) is not None and after.kind == "NEAR":
            raise QueryError(_E_NEAR_CHAIN)
        return Near(left, right, lexeme.number)

    def primary(self) -> Node | None:
        lexeme = self.take()
        match lexeme.kind:
            case "WORD":
                return self.word(lexeme.value)
            case "WILD":
                return self.wildcard(lexeme.value)
            case "PHRASE":
                return self.phrase(lexeme.value)
            case "SITE":
                self.count_term()
                return Site(lexeme.value)
            case "LANG":
                self.count_term()
                return Lang(lexeme.value)
            case "TITLE":
                following = self.peek()
                if following is None or following.kind not in ("WORD", "WILD", "PHRASE", "LPAREN"):
                    raise QueryError(_E_TITLE)
                inner = self.primary()
                return None if inner is None else _in_title(inner, direct=True)
            case "LPAREN":
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise QueryError(_E_DEPTH)
                following = self.peek()
                if following is not None and following.kind == "RPAREN":
                    raise QueryError(_E_EMPTY_GROUP)
                node = self.and_expr()
                if self.peek() is None:
                    raise QueryError(_E_UNCLOSED)
                self.take()
                self.depth -= 1
                return node
            case "NEAR":
                raise QueryError(_E_NEAR_ARGS)
            case "RPAREN":
                raise QueryError(_E_UNOPENED)
            case _:  # unreachable: callers consume operators before asking for an operand
                raise QueryError(_E_NOT)

    def count_term(self) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(_E_TERMS)

    def word(self, raw: str) -> Term | None:
        tokens = tuple(tokenize(raw))
        if not tokens:
            return None
        self.count_term()
        return Term(raw, self.aliases.variants(tokens))

    def wildcard(self, stem: str) -> Term:
        tokens = tuple(tokenize(stem))
        if not tokens:
            raise QueryError(_E_BARE_STAR if not stem.strip() else _E_SHORT_PREFIX)
        if len(tokens[-1]) < MIN_PREFIX:
            raise QueryError(_E_SHORT_PREFIX)
        self.count_term()
        return Term(stem + "*", (tokens,), prefix=True)

    def phrase(self, raw: str) -> Term:
        tokens = tuple(tokenize(raw))
        if not tokens:
            raise QueryError(_E_EMPTY_PHRASE)
        self.count_term()
        return Term(f'"{raw}"', (tokens,))


def _combine(kind: type[And] | type[Or], items: list[Node]) -> Node | None:
    flat: list[Node] = []
    for item in items:
        for child in item.children if isinstance(item, kind) else (item,):
            if child not in flat:
                flat.append(child)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _in_title(node: Node, direct: bool = False) -> Node:
    match node:
        case Term():
            label = "title:" + node.label if direct else node.label
            return replace(node, label=label, title_only=True)
        case Near(left, right, n):
            return Near(replace(left, title_only=True), replace(right, title_only=True), n)
        case And(children):
            return And(tuple(_in_title(c) for c in children))
        case Or(children):
            return Or(tuple(_in_title(c) for c in children))
        case Not(child):
            return Not(_in_title(child))
        case Site() | Lang():
            raise QueryError(_E_TITLE_FILTER)


def _has_anchor(node: Node) -> bool:
    """Whether every item the node matches must contain some word of it."""
    match node:
        case Term() | Near():
            return True
        case And(children):
            return any(_has_anchor(c) for c in children)
        case Or(children):
            return all(_has_anchor(c) for c in children)
        case Not() | Site() | Lang():
            return False


def _has_positive_word(node: Node) -> bool:
    match node:
        case Term() | Near():
            return True
        case And(children) | Or(children):
            return any(_has_positive_word(c) for c in children)
        case Not() | Site() | Lang():
            return False


def _has_filter(node: Node) -> bool:
    match node:
        case Site() | Lang():
            return True
        case And(children) | Or(children):
            return any(_has_filter(c) for c in children)
        case Not(child):
            return _has_filter(child)
        case Term() | Near():
            return False


def _check_or_sides(node: Node) -> None:
    match node:
        case Or(children):
            if not all(_has_anchor(c) for c in children):
                raise QueryError(_E_OR_SIDE)
            for child in children:
                _check_or_sides(child)
        case And(children):
            for child in children:
                _check_or_sides(child)
        case Not(child):
            _check_or_sides(child)
        case _:
            pass


def parse_query(text: str, aliases: Aliases | None = None) -> Query:
    """Parse chat input into a Query, or raise QueryError with a message for the user."""
    text = clean_input(text)
    if not text:
        raise QueryError(_E_EMPTY)
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(_E_LONG)
    root = _Parser(_lex(text), aliases or NO_ALIASES).parse()
    if root is None:
        raise QueryError(_E_NO_WORDS)
    if not _has_positive_word(root):
        raise QueryError(_E_ONLY_FILTERS if _has_filter(root) else _E_ONLY_EXCLUDED)
    _check_or_sides(root)
    if not _has_anchor(root):
        raise QueryError(_E_ONLY_EXCLUDED)
    return Query(text=text, ast=root)


def clean_input(text: str) -> str:
    """Chat input without control characters (NUL, ESC, …; line breaks become spaces) and
    without invisible formatting characters: a zero-width space would split a word in two."""
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf"):
            kept.append(ch)
    return "".join(kept).strip()


# --- anchors for indexing -----------------------------------------------------------------------


def _term_anchors(term: Term) -> frozenset[str]:
    anchors: set[str] = set()
    # Single words first, so that "vladimir putin" can reuse the anchor of "putin".
    for tokens in sorted(term.variants, key=lambda v: len(v) != 1):
        exact = tokens[:-1] if term.prefix else tokens
        if not exact:
            anchors.add(tokens[0] + "*")
        elif not anchors.intersection(exact):
            anchors.add(max(exact, key=len))
    return frozenset(anchors)


def _anchor_cost(anchors: frozenset[str]) -> tuple[int, int, int]:
    prefixes = sum(a.endswith("*") for a in anchors)
    return prefixes, len(anchors), -min(len(a.rstrip("*")) for a in anchors)


def _anchors(node: Node) -> frozenset[str] | None:
    match node:
        case Term():
            return _term_anchors(node)
        case Near(left, right, _):
            return min(_term_anchors(left), _term_anchors(right), key=_anchor_cost)
        case And(children):
            options = [a for c in children if (a := _anchors(c)) is not None]
            return min(options, key=_anchor_cost) if options else None
        case Or(children):
            union: set[str] = set()
            for child in children:
                anchors = _anchors(child)
                if anchors is None:
                    return None
                union |= anchors
            return frozenset(union)
        case Not() | Site() | Lang():
            return None


# --- documents and matching ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchDoc:
    title: str
    text: str
    site: str = ""
    language: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class PreparedDoc:
    """An item tokenized once, to be matched against many queries.

    `tokens` is the title, a gap of empty strings, then the text; the gap keeps phrases and NEAR
    from reaching across the two, and title tokens keep the same positions in both.
    """

    title_tokens: tuple[str, ...]
    tokens: tuple[str, ...]
    positions: dict[str, list[int]]  # token -> ascending positions in `tokens`
    vocabulary: frozenset[str]
    site: str
    language: str | None
    by_first_two: dict[str, tuple[str, ...]] = field(repr=False)

    def words_with_prefix(self, prefix: str) -> list[str]:
        return [w for w in self.by_first_two.get(prefix[:2], ()) if w.startswith(prefix)]


def _clean_site(site: str) -> str:
    host = site.strip().lower().rstrip(".").removeprefix("www.")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return host
    return host


def prepare(doc: MatchDoc) -> PreparedDoc:
    title = tuple(tokenize(doc.title))
    text = tokenize(doc.text)
    gap = ("",) * (MAX_NEAR + 1) if title and text else ()
    tokens = (*title, *gap, *text)
    positions: dict[str, list[int]] = {}
    for index, token in enumerate(tokens):
        if token:
            positions.setdefault(token, []).append(index)
    buckets: dict[str, list[str]] = {}
    for word in positions:
        buckets.setdefault(word[:2], []).append(word)
    language = doc.language.strip().lower().replace("_", "-") if doc.language else None
    return PreparedDoc(
        title_tokens=title,
        tokens=tokens,
        positions=positions,
        vocabulary=frozenset(positions),
        site=_clean_site(doc.site),
        language=language,
        by_first_two={k: tuple(v) for k, v in buckets.items()},
    )


@dataclass(frozen=True)
class MatchResult:
    terms: tuple[str, ...]  # the positive words and phrases found, as the user wrote them


def _variant_spans(
    tokens: Tokens, prefix: bool, title_only: bool, doc: PreparedDoc
) -> Iterator[tuple[int, int]]:
    last = len(tokens) - 1
    if prefix and last == 0:
        starts: Iterable[int] = sorted(
            p for w in doc.words_with_prefix(tokens[0]) for p in doc.positions[w]
        )
    else:
        starts = doc.positions.get(tokens[0], ())
    limit = len(doc.title_tokens) if title_only else len(doc.tokens)
    seq = doc.tokens
    for start in starts:
        end = start + last
        if end >= limit:
            break
        if all(seq[start + j] == tokens[j] for j in range(1, last)) and (
            seq[end].startswith(tokens[last]) if prefix else seq[end] == tokens[last]
        ):
            yield start, end


def _term_spans(term: Term, doc: PreparedDoc) -> Iterator[tuple[int, int]]:
    for tokens in term.variants:
        yield from _variant_spans(tokens, term.prefix, term.title_only, doc)


def _near_found(node: Near, doc: PreparedDoc) -> bool:
    left = list(_term_spans(node.left, doc))
    if not left:
        return False
    right = list(_term_spans(node.right, doc))
    if not right:
        return False
    starts = sorted(s for s, _ in right)
    ends = sorted(e for _, e in right)
    n = node.distance
    for start, end in left:
        i = bisect_right(starts, end)
        if i < len(starts) and starts[i] <= end + n:
            return True
        j = bisect_left(ends, start - n)
        if j < len(ends) and ends[j] < start:
            return True
    return False


def _evaluate(node: Node, doc: PreparedDoc, found: list[str] | None) -> bool:
    match node:
        case Term() | Near():
            if isinstance(node, Term):
                ok = next(_term_spans(node, doc), None) is not None
            else:
                ok = _near_found(node, doc)
            if ok and found is not None:
                found.append(node.label)
            return ok
        case And(children):
            local: list[str] | None = None if found is None else []
            for child in children:
                if not _evaluate(child, doc, local):
                    return False
            if found is not None and local:
                found.extend(local)
            return True
        case Or(children):
            # Every branch is tried so that the result names all the reasons an item matched.
            results = [_evaluate(child, doc, found) for child in children]
            return any(results)
        case Not(child):
            return not _evaluate(child, doc, None)
        case Site(host):
            return doc.site == host or doc.site.endswith("." + host)
        case Lang(code):
            lang = doc.language
            return lang is not None and (lang == code or lang.startswith(code + "-"))


def match(query: Query, doc: MatchDoc | PreparedDoc) -> MatchResult | None:
    """The words that matched, or None when the item does not satisfy the query."""
    prepared = doc if isinstance(doc, PreparedDoc) else prepare(doc)
    found: list[str] = []
    if not _evaluate(query.ast, prepared, found):
        return None
    return MatchResult(terms=tuple(dict.fromkeys(found)))
