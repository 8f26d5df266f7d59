"""The feed-description summary as it was before the block classifier: a list of
hand-written patterns. Kept only so that bench.summaries can print old and new side by side;
the bot does not import it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

ELLIPSIS = "…"

_COOKIE_BANNER = re.compile(
    r"\b(we|this (site|website)|our (site|website|partners)|(site|website)s?)\s+"
    r"(use|uses|using)\s+cookies\b|\baccept( all)? cookies\b|\bcookie (settings|preferences|policy"
    r"|consent|notice)\b|\b(use|using) of cookies\b|\bby (continuing|using) (to (use|browse) )?"
    r"(this|our) (site|website)|\b(we|this (site|website)) (value|respect)s? your privacy\b|"
    r"\b(мы )?использу\w* (файлы )?(cookie|куки)",
    re.IGNORECASE,
)
# Whole lines that carry no news: site chrome, share prompts, credits, bylines.
_SHARE_TARGETS = (
    r"(share|tweet|email|e-mail|print|copy link|whatsapp|facebook|twitter|x|linkedin|telegram"
    r"|reddit|pinterest|vk|вконтакте|одноклассники)"
)
_BOILERPLATE_LINES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(main )?menu|navigation|search|close|skip to (main )?(content|navigation)",
        r"more information|more info|read more\W*|continue reading\W*|see more|show more",
        r"advertisement|advertising|advert|sponsored( content)?|ad|реклама|विज्ञापन",
        r"share|share (this|the) (article|story|page|post)\W*|share (on|via) .{1,30}",
        rf"{_SHARE_TARGETS}(\s*[|/,·•]?\s*{_SHARE_TARGETS})*",
        r"follow us( on .{1,60})?\W*|(подписывайтесь|подпишитесь) на .{1,80}",
        r"(subscribe|sign up)( now)?( to| for)? (our|the) .{0,40}newsletter.{0,120}",
        r"subscribe( now)?\W*|sign (in|up)|log ?in|register",
        r"click here.{0,150}|tap here.{0,150}",
        r"©.{0,200}|\(c\)\s*\d{4}.{0,200}|copyright\s*(©|\(c\))?\s*\d{4}.{0,200}",
        r"copyright\s*(©|\(c\)).{0,200}|.{0,150}all rights reserved\W*",
        r"(file )?(photo|photograph|image|picture|video|pic|credit|illustration)s?( credit)?"
        r"(\s*:|\s+[/|–—-]\s).{0,120}|\((file )?photo:?\s.{0,80}\)|file (photo|image|picture)\W*",
        r"(фото|видео|иллюстрация|источник фото)\s*:.{0,120}|(फोटो|तस्वीर|फ़ोटो)\s*:.{0,120}",
        r"(updated|published|posted|last updated|first published)( on| at)?\s*:?.{0,60}\d.{0,40}",
        r"(date|дата|обновлено|опубликовано)\s*:.{0,60}",
        r"(also read|read also|читайте также|यह भी पढ़ें|ये भी पढ़ें)(\s*[:|-].{0,150})?",
        r"(related|recommended)( stories| articles| news| content)?(\s*:.{0,150})?",
        r"the post .{1,300} appeared first on .{1,100}",
        r"(listen to|watch) (this|the) (article|story|video).{0,60}",
        r"\d{1,2}\s*(min|minute)s? read",
    )
]
# Bylines are matched with case: "By John Smith" is a byline, "By 2030, India..." is not.
_BYLINE = re.compile(
    r"(By|BY|Written by|Reported by|Edited by)\s+[A-Z][\w.'’-]*( [A-Z][\w.'’-]*){0,3}"
    r"((,| and| &) [A-Z][\w.'’-]*( [A-Z][\w.'’-]*){0,3}){0,3}(,? [A-Z][\w ]{0,30})?"
    r"(\s*[|,-]\s*.{0,40}\d.{0,30})?"
)
_INLINE_CREDIT = re.compile(
    r"\s*\((?:file )?(?:photo|image|picture|pic)s?(?: credit)?:?\s*[^()]{1,60}\)", re.IGNORECASE
)
_TRAILING_MORE = re.compile(
    r"\s*(?:\[(?:…|\.\.\.)\]|(?:read more|continue reading|read full (?:story|article))\W*)\s*$",
    re.IGNORECASE,
)

_AGENCY = (
    r"(?:Reuters|AP|AFP|PTI|IANS|ANI|UNI|Bloomberg|TASS|RIA Novosti|Xinhua|dpa|Sputnik|"
    r"Interfax|[A-Z]{2,6})"
)
_MONTH = (
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(?:,?\s+\d{4})?"
    r"|\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?(?:\s+\d{4})?"
)
_CITY = r"[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}"
_CAPS_CITY = r"[A-Z][A-Z.'’-]{2,}(?:\s+[A-Z][A-Z.'’-]+){0,3}"
_DATELINES = [
    # (Reuters) - / (AP) —
    re.compile(rf"^\({_AGENCY}\)\s*[-—–:]+\s*"),
    # NEW DELHI (Reuters) - / MOSCOW, Dec 5 (Reuters) — / New Delhi, Dec 4 (PTI):
    re.compile(rf"^{_CITY}(?:,\s*(?:{_MONTH}))?\s*\({_AGENCY}\)\s*[-—–:]*\s*"),
    # NEW DELHI: / MOSCOW — / WASHINGTON, Dec 5 -
    re.compile(rf"^{_CAPS_CITY}(?:,\s*(?:{_MONTH}))?\s*[-—–:]+\s+"),
    # New Delhi, Dec 4: / London, 5 December -
    re.compile(rf"^{_CITY},\s*(?:{_MONTH})\s*[-—–:]+\s+"),
    # МОСКВА, 5 дек — РИА Новости.
    re.compile(
        r"^[А-ЯЁ][А-ЯЁ-]+(?:\s+[А-ЯЁ-]+){0,2},\s*\d{1,2}\s+[а-яё]+\.?(?:\s+\d{4})?"
        r"(?:\s*[-—–]\s*(?:РИА Новости|ТАСС|Интерфакс|Прайм|РБК|RT)[.,]?)?\s*[-—–:]?\s*"
    ),
    # नई दिल्ली, 4 दिसंबर (भाषा): / मास्को:
    re.compile(
        r"^[\u0900-\u097F]+(?:\s+[\u0900-\u097F]+){0,2}(?:,\s*\d{1,2}\s+[\u0900-\u097F]+)?"
        r"(?:\s*\([^()]{2,20}\))?\s*[:।]\s+"
    ),
]

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
_TERMINAL = ".!?…।॥"
_CLOSERS = "\"'”’»)]›"
_JOINABLE = frozenset(_TERMINAL + _CLOSERS + ":;,-–—")
_BOUNDARY = re.compile(rf"[{_TERMINAL}]+[{re.escape(_CLOSERS)}]*(?=\s+)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


def _key(text: str) -> str:
    """Loose comparison form: folded case, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def is_boilerplate(line: str) -> bool:
    """True for a line that is site chrome rather than news text."""
    stripped = line.strip(" \t•·|>-–—*#")
    if not stripped:
        return True
    if len(stripped) < 600 and _COOKIE_BANNER.search(stripped):
        return True
    if len(stripped) > 300:
        return False
    if _BYLINE.fullmatch(stripped):
        return True
    return any(pattern.fullmatch(stripped) for pattern in _BOILERPLATE_LINES)


def strip_dateline(text: str) -> str:
    for pattern in _DATELINES:
        match = pattern.match(text)
        if match and match.end() < len(text):
            return text[match.end() :].lstrip()
    return text


def _sentences(line: str, budget: int) -> list[str]:
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


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    if space > limit // 3:
        head = head[:space]
    return head.rstrip(" ,;:-–—([{\"'“‘«") + ELLIPSIS


def _clean_lines(text: str, title_key: str) -> Iterator[str]:
    first = True
    for raw in text.replace("\r", "\n").split("\n"):
        line = " ".join(raw.split())
        if not line or is_boilerplate(line):
            continue
        line = _INLINE_CREDIT.sub("", line).strip()
        if first:
            if title_key and _key(line) == title_key:
                continue
            line = strip_dateline(line)
        if line:
            first = False
            yield line


def summarize(text: str, *, title: str = "", limit: int = 300) -> str:
    """The lead of `text` in whole sentences, at most `limit` characters (+1 for "…")."""
    if not text or limit <= 0:
        return ""
    title_key = _key(title)
    sentences: list[str] = []
    size = 0
    for line in _clean_lines(text, title_key):
        sentences.extend(_sentences(line, 2 * limit + len(title) + 100))
        size += len(line)
        if size > 2 * limit + 1000:
            break  # the rest cannot make it into the summary
    if sentences and title_key and _key(sentences[0]) == title_key:
        sentences.pop(0)
    if sentences:
        sentences[0] = strip_dateline(sentences[0])
    if sentences:
        sentences[-1] = _TRAILING_MORE.sub("", sentences[-1])
    sentences = [s for s in sentences if s and not is_boilerplate(s)]
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
