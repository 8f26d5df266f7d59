"""Blocks of a feed description: the units the boilerplate classifier labels. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph, list item or line of plain text, with how much of it is link text."""

    text: str
    link_chars: int = 0
    heading: bool = False


def blocks_from_text(text: str) -> list[Block]:
    """Plain text: one block per non-blank line, whitespace collapsed."""
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return [Block(line) for line in lines if line]
