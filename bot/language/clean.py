"""What a translation service returns is untrusted: made safe to show, or the original kept."""

from __future__ import annotations

import re
import unicodedata

MAX_GROWTH = 3  # a translation may be at most this many times longer than its original
_SPACES = re.compile(r"\s+")


def _printable(text: str) -> str:
    return "".join(char for char in text if char.isspace() or unicodedata.category(char)[0] != "C")


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def clean_translation(original: str, output: object) -> str:
    """One line of plain text for `original`'s translation; the original when the output is
    not text or is empty, or there was nothing to translate. Markup is left as text: the
    alert's HTML escapes it like any other outside string."""
    if not isinstance(output, str) or not original.strip():
        return original
    text = _SPACES.sub(" ", _printable(output)).strip()
    if not text:
        return original
    return cut(text, max(MAX_GROWTH * len(original), 1))
