"""Announced future meetings in one report: which sentence, when, where and who.

A sentence announces a meeting when it names one (summit, visit, talks, conference and their
Russian and Hindi words), speaks of the future (or gives a calendar date after publication),
and carries a date that `dates.find_dates` accepts. The headline and the first sentence of
the text are read together, as news writes them as one unit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from bot.events.dates import LANGUAGES, FoundDate, find_dates
from bot.events.model import AnnouncedEvent, DateSpan
from bot.events.tense import tense as _tense
from bot.match.words import NO_ALIASES, Aliases, tokenize
from bot.summarize.sentences import split_sentences

MAX_TEXT = 4000  # characters of text read per report
MAX_EVENTS_PER_REPORT = 5

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("summit", r"\bsummits?\b|саммит|शिखर"),
        ("talks", r"\btalks\b|\bnegotiations\b|переговор|वार्ता"),
        (
            "conference",
            # "Congress" with a capital is a legislature or a party, not a gathering
            r"\bconference\b|\bforum\b|(?-i:\bcongress\b)|\bparty congress\b|"
            r"\btrade (show|fair)s?\b|\bexpo\b|"
            r"форум|конференц|съезд|सम्मेलन",
        ),
        (
            "visit",
            r"\bvisit(s|ing)?\b|\b(travel|trip) to\b|визит|посет|दौर|यात्रा|"
            r"\b(is|are|am) (going|heading|flying|travell?ing) to (the )?(?-i:[A-Z])",
        ),
        (
            "meeting",
            r"\bmeetings?\b|\bmeets\b|\bmeet with\b|\bconven(e|es|ing)\b|\bgather\b|\bsession\b|"
            r"\bmeet (the )?(leaders?|(prime )?ministers?|president|chancellor|officials|"
            r"counterparts?|delegation)|\b(will|would|shall|to|'ll) meet\b|\bhustings\b|"
            r"\baddress(es|ing)? (the )?(delegates|participants|lawmakers|MPs|deputies)\b|"
            r"встреч|встрет|заседани|сесси|выступ\w+ перед (участник|делегат|депутат)|बैठक|मुलाकात",
        ),
        # A legislature as the actor of a coming act is a sitting ("the Duma will hear …"), and
        # its hearings are sittings; a court's are not meetings.
        (
            "session",
            r"\b(committee|congressional|house|senate|parliamentary|public|prime-?time|"
            r"confirmation|impeachment|january 6(th)?)\s+hearings?\b|"
            r"\bhearings?\s+(of|before|by)\s+(the\s+)?([\w-]+\s+){0,2}(committee|panel|house|senate)\b|"
            r"(парламентск|публичн|общественн)\w*\s+слушани|"
            r"\b(parliament|assembly|senate|duma|lok sabha|rajya sabha)\s+(will|is to|is due to|"
            r"is set to|meets|sits|convenes|returns|reconvenes|resumes|opens|reopens)\b|"
            r"\b(state )?opening of (the )?(parliament|assembly|senate|congress|duma)\b|"
            r"(?<!\w)(дума|парламент|рада|совет федерации)\s+[а-яё]+(ет|ит|ут|ют|ят)(ся)?(?!\w)",
        ),
    )
)
_CANCELLED_RE = re.compile(
    r"\b(cancel\w*|postpon\w*|call(ed)? off|scrapped|originally)\b|отмен|перенес|перенос|отлож|"
    r"रद्द|स्थगित",
    re.IGNORECASE,
)
# Sports fixtures are not meetings, though teams "meet" and a tournament holds "sessions".
_SPORTS_RE = re.compile(
    r"\b(?:[A-Z][\w'’-]* (?:Cup|League|Games|Open|Grand Prix)|(?i:semi-?finals?|quarter-?finals?|"
    r"tournament|championships?|grand slam|fixtures?|rugby|football|soccer|cricket|hockey|"
    r"basketball|baseball|tennis))\b|(?i:матч|турнир|чемпионат|кубо?к|олимпиад|"
    r"मैच|टूर्नामेंट)"
)
# A meeting that ends on the date ("will conclude a visit on Sunday", "the visit will end on
# Thursday", "завершит визит") began before it: it is under way, not announced.
_ENDING = (
    r"(?:conclud(?:e|es|ing)|wrap(?:s|ping)? up|end(?:s|ing)?|clos(?:e|es|ing)|"
    r"finish(?:es)?|заверш\w*)"
)
_MEETING_NOUN = (
    r"(?:visit|trip|tour|summit|talks|meeting|conference|forum|session|"
    r"визит\w*|саммит\w*|переговор\w*|форум\w*|встреч\w*|сесси\w*)"
)
# With the meeting as its subject the verb has no object: "the visit will end on Thursday", not
# "talks to end the war".
_INTRANSITIVE = r"(?=\s+(?:on|in|at|with|by|today|tomorrow|tonight|this|next|\d)\b|\s*(?:[,.;:]|$))"
_ENDING_RE = re.compile(
    rf"\b{_ENDING}\s+(?:[\w'’-]+\s+){{0,3}}?{_MEETING_NOUN}\b|"
    rf"\b{_MEETING_NOUN}\b(?:[^\w.;:]+[\w'’-]+){{0,8}}?\s+(?:{_ENDING}{_INTRANSITIVE}|заверш\w*ся)",
    re.IGNORECASE,
)
_DETERMINER_END_RE = re.compile(r"(\bthe|['’]s)\s+$", re.IGNORECASE)
_ATTRIBUTE_NOUN_RE = re.compile(r"(?:th|st|nd|rd)?\s+([a-z][a-z-]+)")
_NOT_NOUNS = frozenset(
    (
        *("and", "or", "to", "in", "at", "on", "for", "with", "by", "from", "of", "as", "when"),
        *("is", "are", "was", "were", "will", "while", "if"),
        *("night", "morning", "afternoon", "evening"),
    )
)
_BEFORE_EVENT_RE = re.compile(r"\b(before|ahead of)$|через несколько часов$")
# A sports body's meeting of its members is a meeting all the same.
_MEMBERS_RE = re.compile(
    r"\b(annual )?general meeting\b|\bAGM\b|общ\w+ собрани\w* (член|акционер)",
    re.IGNORECASE,
)
_CALENDAR_WORDS = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "today",
        "tomorrow",
        "president",
        "prime",
    ]
)
_PLACE_PATTERNS = (
    # "in Brussels", "to New Delhi", "visit the White House"
    re.compile(
        r"\b(?:in|to|at|visits?|visiting)\s+((?:the\s+)?[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’-]*){0,2})"
    ),
    # "в Казани", "во Владивостоке", "в Санкт-Петербурге"
    re.compile(r"(?:^|\s)(?:[Вв]о?|[Нн]а)\s+([А-ЯЁ][\w-]+(?:\s+[А-ЯЁ][\w-]+)?)"),
    # "वुहान में"
    re.compile(r"([\u0900-\u097F]+)\s+में(?!\S)"),
)
_GLOSS_RE = re.compile(r"\s*\([^()]{1,40}\)")
_TITLED_NAME_RE = re.compile(
    r"\b(?:President|Prime Minister|Chancellor|Secretary(?: of State)?|Minister|Crown Prince|"
    r"King|Queen|Pope|Premier|Chief Adviser)\s+((?:[A-Z][a-z'’-]+\s?){1,3})"
)


def sentences(title: str, text: str) -> list[tuple[str, str]]:
    """(sentence, context) pairs: the lede is read with the headline as its context."""
    parts = split_sentences(" ".join(text[:MAX_TEXT].split()), MAX_TEXT)
    title = " ".join(title.split())
    pairs = [(title, title)] if title else []
    for index, part in enumerate(parts):
        pairs.append((part, f"{title} {part}" if index == 0 else part))
    return pairs


def meeting_kind(text: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return None


def _place(sentence: str, near: int) -> str | None:
    plain = _GLOSS_RE.sub("", sentence)
    shift = len(sentence) - len(plain)
    best: tuple[int, str] | None = None
    for pattern in _PLACE_PATTERNS:
        for found in pattern.finditer(plain):
            name = re.sub(r"^the\s+", "", found.group(1)).strip(" .,'’")
            words = name.split()
            while words and words[-1].casefold() in _CALENDAR_WORDS:
                words.pop()
            if not words or words[0].casefold() in _CALENDAR_WORDS:
                continue
            distance = abs(found.start(1) - max(0, near - shift))
            if best is None or distance < best[0]:
                best = (distance, " ".join(words))
    return best[1] if best else None


def participants(sentence: str, aliases: Aliases, place: str | None = None) -> tuple[str, ...]:
    """Names from the alias table and titled names ("President Andrzej Duda") in the sentence;
    not the place, and not the alias sets of meeting words ("summit")."""
    tokens = tuple(tokenize(sentence))
    where = tuple(tokenize(place or ""))
    names: list[str] = []
    for group in aliases.sets:
        if any(meeting_kind(" ".join(v)) for v in group) or any(_contains(where, v) for v in group):
            continue
        if any(_contains(tokens, variant) for variant in group):
            names.append(" ".join(w.capitalize() for w in group[0]))
    for found in _TITLED_NAME_RE.finditer(sentence):
        name = found.group(1).strip()
        last = name.split()[-1].casefold()
        if not any(last in n.casefold().split() for n in names):
            names.append(name)
    return tuple(names[:6])


def _contains(tokens: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    size = len(needle)
    return any(tokens[i : i + size] == needle for i in range(len(tokens) - size + 1))


def _announced(found: FoundDate, context: str, lead: int, published: datetime) -> bool:
    """A calendar date after publication, or "next week", is announced whatever the verb;
    a weekday, "today" or "this week" only when its verb is not in the past. The verb is
    looked for in the date's own sentence first: a headline's present ("Giuliani meets
    committee") tells of the day's news, not of the lede's date."""
    before = context[: found.position]
    after = context[found.position + len(found.span.phrase) :]
    later = found.span.start > published.date()
    if later and (found.explicit or found.span.precision == "week"):
        return True
    if _BEFORE_EVENT_RE.search(found.span.phrase):
        # "hours before the leaders meet": the clause it governs has the meeting's tense
        return _tense("", re.split(r"[,;:.]", after, maxsplit=1)[0]) != "past"
    own = _tense(before[lead:], after) if found.position >= lead else None
    tense = own or _tense(before, after)
    # "Сегодня в Казани проходит саммит": the present of the day itself is a meeting under way
    return tense != "past" and not (tense == "present" and found.span.end <= published.date())


def extract_events(
    title: str,
    text: str,
    published: datetime,
    *,
    aliases: Aliases = NO_ALIASES,
    url: str = "",
    outlet: str = "",
    languages: Iterable[str] = LANGUAGES,
) -> list[AnnouncedEvent]:
    """Future meetings that the report announces, each with the sentence that says so."""
    events: list[AnnouncedEvent] = []
    langs = tuple(languages)
    for sentence, context in sentences(title, text):
        kind = meeting_kind(context)
        if kind is None:
            continue
        lead = len(context) - len(sentence)  # the headline in front of a lede
        found = next(
            (
                f
                for f in find_dates(context, published, langs)
                if _announced(f, context, lead, published)
                and not _not_a_meeting(_clause_around(context, f.position))
                and not _names_something_else(context, f)
            ),
            None,
        )
        headline_date = found is not None and found.position < lead
        if found is None or (
            headline_date and not meeting_kind(title) and _meeting_is_past(sentence)
        ):
            continue
        place = _place(context, found.position)
        # A date in the headline and a meeting in the lede: both are the evidence.
        evidence = sentence if found.position >= lead else context
        event = AnnouncedEvent(
            kind=meeting_kind(evidence) or kind,
            dates=found.span,
            place=place,
            participants=participants(context, aliases, place),
            evidence=evidence[:600],
            published=published,
            url=url,
            outlet=outlet,
        )
        if not any(_same_dates(event.dates, e.dates) for e in events):
            events.append(event)
        if len(events) >= MAX_EVENTS_PER_REPORT:
            break
    return events


def _meeting_is_past(lede: str) -> bool:
    """A lede whose meeting is the subject of a past verb ("after talks over pay broke down")
    does not make the headline's date a meeting's."""
    for kind_pattern in (p for _, p in _KINDS):
        for found in kind_pattern.finditer(lede):
            rest = re.split(r"[,;:.]", lede[found.end() :], maxsplit=1)[0]
            if _tense("", rest) != "past":
                return False
    return True


def _names_something_else(context: str, found: FoundDate) -> bool:
    """ "the January 6 committee", "Tuesday's January 6 hearing": a date between a determiner
    and a noun that is not a meeting names that thing; it is not the meeting's day."""
    before = context[: found.position]
    after = context[found.position + len(found.span.phrase) :]
    noun = _ATTRIBUTE_NOUN_RE.match(after)
    return (
        found.explicit
        and (
            _DETERMINER_END_RE.search(before) is not None
            or found.span.phrase.casefold().startswith("the ")
        )
        and noun is not None
        and noun.group(1).casefold() not in _NOT_NOUNS
        and meeting_kind(noun.group(1)) is None
    )


def _not_a_meeting(clause: str) -> bool:
    sports = _SPORTS_RE.search(clause) and not _MEMBERS_RE.search(clause)
    return bool(_CANCELLED_RE.search(clause) or sports or _ENDING_RE.search(clause))


def _clause_around(context: str, at: int) -> str:
    """Everything before the date and the rest of its clause: "planned for May 3 was cancelled"
    speaks of the date, "on Thursday, after trips were cancelled" does not."""
    rest = re.split(r"[,;:]", context[at:], maxsplit=1)[0]
    return context[:at] + rest


def _same_dates(a: DateSpan, b: DateSpan) -> bool:
    return a.start <= b.end and b.start <= a.end
