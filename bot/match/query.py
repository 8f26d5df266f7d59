"""Topic queries: untrusted chat input parsed into a small boolean tree, and the words a query
can be indexed under.

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

import unicodedata
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TypeAlias

from bot.match.lexer import (
    _E_AND,
    _E_BARE_STAR,
    _E_DEPTH,
    _E_DOUBLE_NOT,
    _E_EMPTY,
    _E_EMPTY_GROUP,
    _E_EMPTY_PHRASE,
    _E_LONG,
    _E_MINUS,
    _E_NEAR_ARGS,
    _E_NEAR_CHAIN,
    _E_NO_WORDS,
    _E_NOT,
    _E_ONLY_EXCLUDED,
    _E_ONLY_FILTERS,
    _E_OR,
    _E_OR_SIDE,
    _E_SHORT_PREFIX,
    _E_TERMS,
    _E_TITLE,
    _E_TITLE_FILTER,
    _E_UNCLOSED,
    _E_UNOPENED,
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    MIN_PREFIX,
    QueryError,
    _lex,
    _Lexeme,
)
from bot.match.words import NO_ALIASES, Aliases, Tokens, tokenize

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
