"""Scan an XML document's prolog as a parser would, and keep its DOCTYPE from expanding
entities without bound."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from feedparser.sanitizer import replace_doctype

# Declared entities may expand the document by at most this many characters in total.
MAX_ENTITY_EXPANSION = 1024 * 1024
MAX_ENTITY_DECLARATIONS = 100


class EntityRefused(Exception):
    pass


@dataclass(slots=True)
class Prolog:
    root: bytes | None = None  # lower-cased name of the first element
    doctype: tuple[int, int, int] | None = None  # (start, subset start or -1, end)
    declarations: list[bytes] = field(default_factory=list)
    stray_entity: bool = False  # an <!ENTITY outside a DOCTYPE, or a subset we could not read


_ROOT_TAG = re.compile(rb"<([A-Za-z0-9_][^\s/>]*)")
_ENTITY_DECL = re.compile(
    rb"""<!ENTITY\s+([A-Za-z_][\w.\-]*)\s+(?:"([^"]*)"|'([^']*)')\s*>\Z""", re.IGNORECASE
)
_CHAR_REF = re.compile(rb"&#(?:[0-9]{1,7}|x[0-9a-fA-F]{1,6});\Z")


def _skip_quoted(data: bytes, i: int) -> int:
    end = data.find(data[i : i + 1], i + 1)
    return -1 if end < 0 else end + 1


def scan_prolog(data: bytes) -> Prolog:
    """Walk comments, PIs and the DOCTYPE up to the first element, as an XML parser would."""
    out = Prolog()
    pos, n = 0, len(data)
    while pos < n:
        lt = data.find(b"<", pos)
        if lt < 0:
            break
        if (after := _past_comment_or_pi(data, lt)) is not None:
            pos = after
        elif data[lt : lt + 9].upper() == b"<!DOCTYPE":
            pos = _scan_doctype(data, lt, out)
        elif data.startswith(b"<!", lt):
            if data[lt : lt + 8].upper() == b"<!ENTITY":
                out.stray_entity = True
            end = data.find(b">", lt)
            pos = n if end < 0 else end + 1
        elif match := _ROOT_TAG.match(data, lt):
            out.root = match.group(1).lower()
            break
        else:
            pos = lt + 1
    return out


def _past_comment_or_pi(data: bytes, at: int) -> int | None:
    """Where a comment or processing instruction starting at `at` ends (the end of the data
    when it is never closed); None when none starts there."""
    for opener, closer in ((b"<!--", b"-->"), (b"<?", b"?>")):
        if data.startswith(opener, at):
            end = data.find(closer, at + len(opener))
            return len(data) if end < 0 else end + len(closer)
    return None


def _scan_doctype(data: bytes, start: int, out: Prolog) -> int:
    n = len(data)
    i = start + 9
    while i < n:
        ch = data[i : i + 1]
        if ch in (b'"', b"'"):
            i = _skip_quoted(data, i)
            if i < 0:
                break
        elif ch == b">":
            out.doctype = (start, -1, i + 1)
            return i + 1
        elif ch == b"[":
            return _scan_subset(data, start, i, out)
        else:
            i += 1
    out.stray_entity = out.stray_entity or b"<!ENTITY" in data[start:].upper()
    return n


def _scan_subset(data: bytes, start: int, subset: int, out: Prolog) -> int:
    n = len(data)
    i = subset + 1
    while i < n:
        if data.startswith(b"]", i):
            close = data.find(b">", i)
            if close < 0 or data[i + 1 : close].strip():
                break
            out.doctype = (start, subset, close + 1)
            return close + 1
        if (after := _past_comment_or_pi(data, i)) is not None:
            i = after
        elif data.startswith(b"<!", i):
            j = i + 2
            while j < n and data[j : j + 1] != b">":
                j = _skip_quoted(data, j) if data[j : j + 1] in (b'"', b"'") else j + 1
                if j < 0:
                    j = n
            out.declarations.append(data[i : j + 1])
            i = j + 1
        elif data[i : i + 1] in (b'"', b"'"):
            i = _skip_quoted(data, i)
            if i < 0:
                break
        else:
            i += 1
    # An unterminated internal subset: refuse if it declares anything.
    out.stray_entity = out.stray_entity or b"<!ENTITY" in data[subset:].upper()
    return n


def _expansion(data: bytes, entities: Iterable[tuple[bytes, int]]) -> int:
    return sum(data.count(b"&" + name + b";") * size for name, size in entities)


def guard_entities(converted: bytes, prolog: Prolog) -> bytes | None:
    """Return a rewritten document when the DOCTYPE had to be cleaned, else None.

    Harmless declarations (a character reference, or short plain text used a bounded
    number of times) are kept so feeds relying on them still read right. Parameter,
    external and nested entities are dropped; their references stay unexpanded.
    Anything that would still expand too far is refused.
    """
    if prolog.stray_entity:
        raise EntityRefused
    rewritten: bytes | None = None
    if prolog.doctype and prolog.doctype[1] >= 0:
        start, subset, end = prolog.doctype
        if len(prolog.declarations) > MAX_ENTITY_DECLARATIONS:
            raise EntityRefused
        kept: list[bytes] = []
        sizes: list[tuple[bytes, int]] = []
        for decl in prolog.declarations:
            match = _ENTITY_DECL.match(decl)
            if not match:
                continue
            name = match.group(1)
            value = match.group(2) if match.group(2) is not None else match.group(3)
            if b'"' in value:
                continue
            if _CHAR_REF.match(value):
                size = 1
            elif not re.search(rb"[&%<]", value):
                size = len(value)
            else:
                continue
            kept.append(b"<!ENTITY " + name + b' "' + value + b'">')
            sizes.append((name, size))
        if _expansion(converted[end:], sizes) > MAX_ENTITY_EXPANSION:
            raise EntityRefused
        head = converted[start:subset].rstrip()
        # On a line of its own, so feedparser's own DOCTYPE regex sees the same declaration.
        subset_text = b" [\n" + b"\n".join(kept) + b"\n]" if kept else b""
        rewritten = converted[:start] + b"\n" + head + subset_text + b">" + converted[end:]
    # feedparser's loose parser expands what its own regex finds; check that too.
    final = rewritten if rewritten is not None else converted
    _, _, safe = replace_doctype(final)
    sizes2 = [(k.encode(), len(v)) for k, v in safe.items()]
    if _expansion(final, sizes2) > MAX_ENTITY_EXPANSION:
        raise EntityRefused
    return rewritten
