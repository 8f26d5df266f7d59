"""Matching items against parsed queries: a document prepared once, and a query's tree
evaluated over it."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bot.match.lexer import MAX_NEAR
from bot.match.query import And, Lang, Near, Node, Not, Or, Query, Site, Term
from bot.match.words import Tokens, tokenize

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
