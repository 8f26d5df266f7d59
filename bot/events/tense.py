"""The tense of the verb that governs a date phrase: is the meeting to come, or already past?

English marks tense with auxiliaries and endings, which a short lexicon reads. Russian marks it
in the verb's morphology, read with pymorphy3's dictionary: "прибыл" is past and "посетит"
future, whatever the suffix. Hindi's future endings are few and regular.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import pymorphy3

# Future cues, and the present of a meeting's verbs ("the summit opens on Monday"), which news
# uses for a scheduled day.
_FUTURE_RE = re.compile(
    r"\b(will|shall|'ll|set to|scheduled|expect(s|ed)?|plans? to|planned|due to|is to|are to|"
    r"upcoming|ahead of|next|later this|to (visit|meet|host|hold|attend|travel|gather|sign|open)|"
    r"(are|is) (meeting|visiting|travell?ing|heading)|prepar\w+ to|proposed|later(?=\s*$)|"
    r"(meets|visits|hosts|opens|begins|starts|convenes|travels|heads|kicks off|gets under ?way)|"
    r"(is|are|am) going to)\b|"
    # words of plan and schedule, and the present of verbs of beginning, which Russian news also
    # uses for a scheduled day (other present verbs tell of a meeting under way)
    r"стартуе?т|стартуют|открыва[ею]тся|начина[ею]тся|"
    r"намечен|запланирован|предстоящ|будущего года|в будущем|завтра|предлож|"
    r"\S+(ेंगे|ेगी|ेगा|ेंगी)(?!\S)",
    re.IGNORECASE,
)
# English past forms. Future cues win a tie, so "scheduled" and "expected" count as future. A
# participle in the future passive is no past ("will be held").
_PAST_RE = re.compile(
    r"(?<!\bwill be )(?<!'ll be )(?<!\bshall be )"
    r"\b(was|were|had|did|made|met|held|took|arrived|went|came|left|spoke|began|said|"
    # irregular forms that are never a participle ("to be sent" is not a past)
    r"gave|flew|saw|became|wrote|broke|fell|rose|drew|threw|withdrew|swore|undertook|shook|knew|"
    r"grew|drove|chose|ran|ate|sang|rang|stole|froze|forgot|"
    r"[a-z]{2,}ed)\b",
    re.IGNORECASE,
)
# The verb of a reporting clause after the date ("…on Sunday, said Trump") is the report's, not
# the meeting's.
_REPORTING_RE = re.compile(
    r"\b(said|says|told|tells|added|wrote|reported|announced)\b|сказал\w*|заявил\w*|сообщил\w*",
    re.IGNORECASE,
)
_PRECEDENCE = ("future", "present", "past")  # of cues that end at the same place
_CYRILLIC_WORD_RE = re.compile(r"[а-яё]+", re.IGNORECASE)
_MORPH_TENSES = {"past": "past", "futr": "future", "pres": "present"}


@cache
def _analyzer() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=50_000)
def _russian_tense(word: str) -> str | None:
    """ "past", "present" or "future" for a finite Russian verb in its likeliest reading."""
    best = _analyzer().parse(word)[0]
    if best.tag.POS != "VERB":
        return None
    return _MORPH_TENSES.get(str(best.tag.tense))


def _cues(text: str) -> list[tuple[int, int, str]]:
    """(start, end, tense) of every tense cue in `text`, in order, future before past on a tie."""
    found = [(m.start(), m.end(), "future") for m in _FUTURE_RE.finditer(text)]
    found += [(m.start(), m.end(), "past") for m in _PAST_RE.finditer(text)]
    for word in _CYRILLIC_WORD_RE.finditer(text):
        tense = _russian_tense(word.group(0).casefold())
        if tense is not None:
            found.append((word.start(), word.end(), tense))
    return sorted(found, key=lambda cue: (cue[0], cue[2] != "future"))


def tense(before: str, after: str) -> str | None:
    """ "future", "present" or "past": the tense of the verb nearest before a date phrase or,
    when none comes before it ("Biden on Saturday called …"), of the first one after it."""
    earlier = _cues(before)
    if earlier:
        last_end = max(end for _, end, _ in earlier)
        ending_there = {t for _, end, t in earlier if end == last_end}
        return min(ending_there, key=_PRECEDENCE.index)
    later = [cue for cue in _cues(after) if not _REPORTING_RE.fullmatch(after[cue[0] : cue[1]])]
    return later[0][2] if later else None
