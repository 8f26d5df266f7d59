"""Day ranges announced in a sentence, resolved against the report's publication date.

`dateparser` finds and reads the date phrases in every language it knows ("December 4",
"4 декабря", "शुक्रवार को", "next week", "послезавтра"). This module only decides what a phrase
means for a meeting: how precise it is, which year a year-less date falls in, whether it
continues as a range ("December 4–5", "4–5 декабря"), and whether it is plausible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateparser.date import DateDataParser
from dateparser.search import search_dates

from bot.events.model import DateSpan

LANGUAGES = ("en", "ru", "hi")
MAX_AHEAD = timedelta(days=2 * 366)  # farther than this from publication is a misreading
YEARLESS_AHEAD = timedelta(days=180)
_YEAR_RE = re.compile(r"\b(19|20)\d\d\b")
_DIGIT_RE = re.compile(r"\d")
_RANGE_AFTER_RE = re.compile(r"^\s*(?:[–—-]|to|по|до|से)\s*(\d{1,2})(?!\d|[:.,]\d)")
_RANGE_INSIDE_RE = re.compile(r"(?<![\d-])(\d{1,2})\s*[–—-]\s*(\d{1,2})(?![\d-])")
_NOW = frozenset(("now", "right now", "сейчас", "теперь", "अब"))  # a moment, not a day
# Week and weekend phrases: `search_dates` does not pick them out of a sentence, and dateparser
# reads neither weekends nor Hindi weeks, so they are resolved here.
_WEEK_RE = re.compile(
    r"(?:(?P<weekend>this weekend|(?:на|в) (?:эти|этих|ближайшие) выходн\w*|на выходных|"
    r"इस सप्ताहांत)|на (?:этой|следующей|будущей) неделе|this week|next week|"
    r"(?:अगले|इस) (?:सप्ताह|हफ्ते))(?![\w\u0900-\u097F])",
    re.IGNORECASE,
)
# Days dateparser does not pick out of a sentence: the day a noun is owned by ("Friday's summit",
# "ahead of tomorrow's talks": the date is the meeting's whatever precedes it) and the rest of
# the publication day ("tonight", "hours before the leaders meet").
_POSSESSIVE_RE = re.compile(
    r"\b(today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday)['’]s(?!\w)",
    re.IGNORECASE,
)
_TODAY_RE = re.compile(
    r"\b(?:tonight|this evening|later today|(?:hours|moments) (?:before|ahead of))\b|"
    r"сегодня вечером|через несколько часов|"
    # "ministers will meet later": a meeting verb's bare "later" is later today
    r"(?:(?<=\bmeet )|(?<=\bmeets )|(?<=\bgather )|(?<=\bconvene )|(?<=\btalks ))later\b"
    r"(?!\s+(?:this|next|in|that|on|than|date|stage|years?|months?|weeks?))",
    re.IGNORECASE,
)
_DAY_HYPHEN_RE = re.compile(r"(?<=\b\d)-(?=\d{1,2}\b)|(?<=\b\d\d)-(?=\d{1,2}\b)")
# Two Latin letters are a weekday only in a table ("We", "Th"); in prose they are words ("we").
_TABULAR_RE = re.compile(r"[A-Za-z]{1,2}\.?")
_NEXT_RE = re.compile(r"next|следующ|будущ|अगले", re.IGNORECASE)
_TRAILING_RE = re.compile(
    r"(\s+(at|a|an|the|and|in|of|for|on|to|by|в|во|и|на|к|с|по))+$", re.IGNORECASE
)
# Dates that bound something else ("until 8 July", "after 22 June", "ahead of 8 March").
_BOUND_BEFORE_RE = re.compile(
    r"\b(until|till|by|before|after|since|ahead of|до|после|к|с|накануне|в преддверии)\s*$",
    re.IGNORECASE,
)
# "From Monday, there will be no limit on visits": the start of a state, unless a range follows
# ("from December 4 to 5").
_FROM_BEFORE_RE = re.compile(r"\bfrom\s*$", re.IGNORECASE)
# A date said of the report itself ("officials said on Thursday") is not the meeting's date.
_SPEECH_BEFORE_RE = re.compile(
    r"(said|says|saying|announced|told|confirmed|confirmation|reported|added|statement|suggested|"
    r"warned|stated|заявил\w*|сообщил\w*|"
    r"объявил\w*|कहा)[\s,]*(on\s+)?$|"
    # the one told comes between: "told reporters on Monday", "told CNN Monday"
    r"\b(told|tells|telling|briefed)\s+(?:[\w'’.-]+\s+){1,3}(on\s+)?$",
    re.IGNORECASE,
)
# A window or a count of days ("within two weeks", "в ближайшие две недели", "for the third
# week") bounds when something may happen; it names no day.
_WINDOW_BEFORE_RE = re.compile(
    r"\b(within|(?:in|over|during|for) the (?:next|coming|following|past|last)|"
    r"for the (?:first|second|third|fourth|fifth))\s*$|"
    r"(?:в|на) (?:ближайшие|следующие|течение|протяжении)\s*$|\bза\s*$",
    re.IGNORECASE,
)
_COUNT_RE = re.compile(
    r"^(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|several|"
    r"\w+(?:е|и|ь|ти|ух|ех|ёх))\s+(?:weeks?|months?|years?|недел\w*|месяц\w*|лет|год\w*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FoundDate:
    span: DateSpan
    position: int  # character offset of the phrase in the sentence
    explicit: bool  # a calendar date (has digits), not a relative phrase


def _settings(base: datetime) -> dict[str, object]:
    return {
        "RELATIVE_BASE": base.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "RETURN_TIME_AS_PERIOD": True,
    }


def _nearest_year(day: date, published: date) -> date | None:
    """The reading of a year-less date closest to publication (so "9 May" in December is May)."""
    best: date | None = None
    for year in (published.year - 1, published.year, published.year + 1):
        try:
            candidate = day.replace(year=year)
        except ValueError:
            continue
        if best is None or abs(candidate - published) < abs(best - published):
            best = candidate
    return best


def _read(phrase: str, base: datetime, languages: tuple[str, ...]) -> tuple[date, str] | None:
    parser = DateDataParser(languages=list(languages), settings=_settings(base))
    data = parser.get_date_data(phrase)
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


def _day_in_month(start: date, day: int) -> date | None:
    try:
        return start.replace(day=day)
    except ValueError:
        return None


def _week(resolved: date, published: date, phrase: str) -> DateSpan:
    monday = resolved - timedelta(days=resolved.weekday())
    return DateSpan(max(monday, published), monday + timedelta(days=6), "week", phrase)


def _explicit(
    phrase: str, sentence: str, at: int, base: datetime, languages: tuple[str, ...]
) -> DateSpan | None:
    published = base.date()
    inside = _RANGE_INSIDE_RE.search(phrase)
    first = phrase
    if inside:
        first = f"{phrase[: inside.start()]}{inside.group(1)}{phrase[inside.end() :]}"
    read = _read(first.strip(" ,.;:"), base, languages)
    if read is None or read[1] != "day":
        return None
    start = read[0] if _YEAR_RE.search(phrase) else _nearest_year(read[0], published)
    if start is None or (not _YEAR_RE.search(phrase) and start - published > YEARLESS_AHEAD):
        return None  # "January 6 committee" in July: without a year, only half a year is clear
    after = _RANGE_AFTER_RE.match(sentence[at + len(phrase) :])
    last_day = inside.group(2) if inside else (after.group(1) if after else None)
    end = start if last_day is None else _day_in_month(start, int(last_day))
    if end is None or end < start or (end - start).days > 31:
        return None
    return DateSpan(start, end, "day", phrase)


def _relative(phrase: str, base: datetime, languages: tuple[str, ...]) -> DateSpan | None:
    published = base.date()
    read = _read(phrase, base, languages)
    if read is None:
        return None
    resolved, period = read
    if period == "week":
        return _week(resolved, published, phrase)
    if period == "part_of_day":
        period = "day"  # "on Thursday night"; a bare time ("at 10am", "in an hour") names no day
    if period != "day":
        return None
    if resolved - published == timedelta(days=7):
        resolved = published  # "on Tuesday" written on a Tuesday means today
    return DateSpan(resolved, resolved, "day", phrase)


def _week_phrase(found: re.Match[str], published: date) -> DateSpan:
    """ "this week" runs from publication to Sunday, "next week" is Monday to Sunday after it,
    a weekend is the coming Saturday and Sunday (the rest of it, when published in it)."""
    phrase = found.group(0)
    monday = published - timedelta(days=published.weekday())
    if found.group("weekend"):
        saturday = monday + timedelta(days=5)
        return DateSpan(max(saturday, published), saturday + timedelta(days=1), "day", phrase)
    if _NEXT_RE.search(phrase):
        monday += timedelta(days=7)
    return DateSpan(max(monday, published), monday + timedelta(days=6), "week", phrase)


def find_dates(
    sentence: str, published: datetime, languages: tuple[str, ...] = LANGUAGES
) -> list[FoundDate]:
    """Plausible day ranges in `sentence`, in order; none before publication or far after it."""
    # a hyphen between days hides the date from the search ("December 4-5"); a dash of the same
    # length keeps every offset
    sentence = _DAY_HYPHEN_RE.sub("–", sentence)
    try:
        found = search_dates(sentence, languages=list(languages), settings=_settings(published))
    except (ValueError, OverflowError):
        return []
    phrases = [(sentence.find(raw), raw) for raw, _ in found or []]
    own = _own_phrases(sentence, published, languages)
    phrases += [(sentence.find(phrase), phrase) for phrase in own]
    results: list[FoundDate] = []
    cursor = 0
    for _, raw in sorted(p for p in phrases if p[0] >= 0):
        phrase = _TRAILING_RE.sub("", raw.strip(" ,.;:")).strip(" ,.;:")
        # "ahead of 8 March" is read as "of 8 March", "from Monday" with its preposition
        phrase = re.sub(r"^(?:of|from)\s+", "", phrase, flags=re.IGNORECASE)
        at = sentence.find(phrase, cursor)
        if at < 0 or not phrase or phrase.casefold() in _NOW:
            continue
        cursor = at + len(phrase)
        before = sentence[:at]
        bounds: tuple[re.Pattern[str], ...] = (_SPEECH_BEFORE_RE, _WINDOW_BEFORE_RE)
        if not _POSSESSIVE_RE.fullmatch(phrase):
            bounds += (_BOUND_BEFORE_RE,)
        if any(r.search(before) for r in bounds):
            continue
        if _COUNT_RE.match(phrase):
            continue
        if _FROM_BEFORE_RE.search(before) and not (
            _RANGE_INSIDE_RE.search(phrase) or _RANGE_AFTER_RE.match(sentence[cursor:])
        ):
            continue
        explicit = bool(_DIGIT_RE.search(phrase))
        if not explicit and _TABULAR_RE.fullmatch(phrase):
            continue
        if phrase in own:
            span: DateSpan | None = own[phrase]
        elif explicit:
            span = _explicit(phrase, sentence, at, published, languages)
        else:
            span = _relative(phrase, published, languages)
        if span is None or not plausible(span, published.date()):
            continue
        results.append(FoundDate(span, at, explicit))
    return results


def _own_phrases(
    sentence: str, published: datetime, languages: tuple[str, ...]
) -> dict[str, DateSpan | None]:
    day = published.date()
    own: dict[str, DateSpan | None] = {
        m.group(0): _week_phrase(m, day) for m in _WEEK_RE.finditer(sentence)
    }
    for m in _POSSESSIVE_RE.finditer(sentence):
        span = _relative(m.group(1), published, languages)
        own[m.group(0)] = span and DateSpan(span.start, span.end, span.precision, m.group(0))
    for m in _TODAY_RE.finditer(sentence):
        own[m.group(0)] = DateSpan(day, day, "day", m.group(0))
    return own


def plausible(span: DateSpan, published: date) -> bool:
    """Not in the past at announcement, not a backwards range, not years away."""
    return published <= span.start <= span.end and span.start - published <= MAX_AHEAD
