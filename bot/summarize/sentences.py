"""Sentence boundaries in news text, with abbreviations and initials. Pure."""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "col", "lt", "sgt", "capt",
        "cmdr", "gov", "sen", "rep", "rev", "hon", "pres", "no", "nos", "vs", "v", "etc",
        "inc", "ltd", "co", "corp", "bros", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thur",
        "thurs", "fri", "sat", "sun", "approx", "dept", "est", "fig", "vol", "op", "cf",
        "al", "ave", "blvd", "mt", "ft", "rs", "govt", "min", "max", "ph", "ed", "eds",
        # Russian
        "г", "гг", "им", "ул", "пр", "руб", "млн", "млрд", "тыс", "др", "см", "т", "н", "э",
        "ст", "д", "стр", "проф", "акад", "ген", "зам", "тов",
    }
)  # fmt: skip
TERMINAL = ".!?…।॥"
CLOSERS = "\"'”’»)]›"
_BOUNDARY = re.compile(rf"[{TERMINAL}]+[{re.escape(CLOSERS)}]*(?=\s+)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


def split_sentences(line: str, budget: int) -> list[str]:
    """Split a line into sentences; past `budget` characters the rest stays in one piece."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        if match.start() > budget:
            break
        end = match.end()
        rest = line[end:].lstrip()
        if not rest:
            break
        if rest[0].islower():
            continue
        if match.group(0)[0] == ".":
            word = _WORD_BEFORE.search(line[max(start, match.start() - 40) : match.start()])
            token = word.group(1).lower() if word else ""
            last = token.rsplit(".", 1)[-1]
            # "U.S.", "e.g.", initials such as "J." and known abbreviations do not end a sentence.
            if "." in token or (len(last) == 1 and last.isalpha()) or last in _ABBREVIATIONS:
                continue
        out.append(line[start:end].strip())
        start = end
    tail = line[start:].strip()
    if tail:
        out.append(tail)
    return out
