"""Words as the matcher sees them: case- and accent-folded tokens in any script, and the alias
sets that make several names one ("Putin", "Путин", "पुतिन")."""

from __future__ import annotations

import os
import re
import sys
import tomllib
import unicodedata
from array import array
from collections.abc import Iterable
from typing import TypeAlias

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
