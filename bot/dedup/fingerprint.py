"""Stable keys that identify a story across outlets and feed refreshes. Pure functions."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from bot.sources.normalize import canonical_url

MIN_WORDS = 3
# An outlet suffix is short: "Reuters", "The Hindu", "Hindustan Times", "The Times of India".
_MAX_SUFFIX_WORDS = 6
_MAX_SUFFIX_CHARS = 60

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u02bc": "'", "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\u2039": '"', "\u203a": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\u2e3a": "-", "\u2e3b": "-", "\ufe58": "-",
        "\ufe63": "-", "\uff0d": "-",
        # dotless i upper-cases to I, which folds to a dotted i.
        "\u0131": "i",
    }
)  # fmt: skip
_OUTLET_SEPARATOR = re.compile(r"\s+[-|]\s+")


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode("utf-8"), digest_size=16).hexdigest()


def _fold(text: str) -> str:
    # NFKD before casefold keeps upper- and lower-case spellings of a word equal.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text)).casefold()
    return unicodedata.normalize("NFKC", folded).translate(_QUOTES)


def _words(text: str) -> list[str]:
    kept: list[str] = []
    for ch in text:
        if ch == "'":
            continue  # "Putin's" and "Putins" are the same word
        category = unicodedata.category(ch)
        kept.append(" " if category[0] in "PSZC" else ch)
    return "".join(kept).split()


def _strip_outlet(text: str) -> str:
    pieces = _OUTLET_SEPARATOR.split(text)
    if len(pieces) < 2:
        return text
    suffix = pieces[-1].strip()
    match = list(_OUTLET_SEPARATOR.finditer(text))[-1]
    rest = text[: match.start()]
    if (
        len(suffix) <= _MAX_SUFFIX_CHARS
        and len(_words(suffix)) <= _MAX_SUFFIX_WORDS
        and len(_words(rest)) >= MIN_WORDS
    ):
        return rest
    return text


def normalize_title(title: str) -> str:
    """The comparable form of a title: folded case and quotes, no outlet suffix or punctuation."""
    return " ".join(_words(_strip_outlet(_fold(title or ""))))


def title_fingerprint(title: str) -> str:
    """A hex digest shared by spellings of one headline; "" when the title is too short."""
    normalized = normalize_title(title)
    if len(normalized.split()) < MIN_WORDS:
        return ""
    return _digest(normalized)


def url_key(url: str) -> str:
    """A hex digest of the canonical URL; "" for an empty URL."""
    canonical = canonical_url(url)
    return _digest(canonical) if canonical else ""


def guid_key(source_url: str, guid: str | None) -> str:
    """A hex digest of a GUID scoped to its feed; "" when there is no GUID."""
    if not guid or not guid.strip():
        return ""
    return _digest(canonical_url(source_url) + "\n" + guid.strip())
