"""A short lead for an alert: article blocks only, whole sentences, a hard length cap. Pure.

Which blocks of a description are article text is the classifier's call
(bot.summarize.classify); this module turns those blocks into a lead.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.summarize.blocks import Block, blocks_from_text
from bot.summarize.classify import article_blocks
from bot.summarize.rules import (
    INLINE_CREDIT,
    TRAILING_MORE,
    is_prompt,
    loose_key,
    strip_dateline,
)
from bot.summarize.sentences import CLOSERS, TERMINAL, split_sentences

__all__ = ["ELLIPSIS", "strip_dateline", "summarize", "summarize_blocks"]

ELLIPSIS = "…"
_JOINABLE = frozenset(TERMINAL + CLOSERS + ":;,-–—")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    if space > limit // 3:
        head = head[:space]
    return head.rstrip(" ,;:-–—([{\"'“‘«") + ELLIPSIS


def _lead_sentences(blocks: Sequence[Block], title_key: str, budget: int) -> list[str]:
    sentences: list[str] = []
    size = 0
    for block in blocks:
        text = INLINE_CREDIT.sub("", block.text).strip()
        if not sentences:
            text = strip_dateline(text)
        sentences.extend(split_sentences(text, budget))
        size += len(text)
        if size > budget + 1000:
            break  # the rest cannot make it into the summary
    if sentences and title_key and loose_key(sentences[0]) == title_key:
        sentences.pop(0)
    if sentences:
        sentences[0] = strip_dateline(sentences[0])
        sentences[-1] = TRAILING_MORE.sub("", sentences[-1])
    return [s for s in sentences if s and not is_prompt(s)]


def summarize_blocks(blocks: Sequence[Block], *, title: str = "", limit: int = 300) -> str:
    """The lead of a description in whole sentences, at most `limit` characters (+1 for "…")."""
    if limit <= 0:
        return ""
    lead = article_blocks(blocks, title=title)
    sentences = _lead_sentences(lead, loose_key(title), 2 * limit + len(title) + 100)
    if not sentences:
        return ""
    summary = ""
    for sentence in sentences:
        # A line without final punctuation (standfirst, list item) still ends a thought.
        joint = " " if not summary or summary[-1] in _JOINABLE else ". "
        candidate = f"{summary}{joint}{sentence}" if summary else sentence
        if len(candidate) > limit:
            break
        summary = candidate
    if not summary:
        return _cut(sentences[0], limit)
    return summary


def summarize(text: str, *, title: str = "", limit: int = 300) -> str:
    """The lead of plain text (one block per line); see `summarize_blocks`."""
    if not text or limit <= 0:
        return ""
    return summarize_blocks(blocks_from_text(text), title=title, limit=limit)
