"""What a classifier cannot learn from shape alone: datelines, bylines, credits, reader prompts.

Each rule carries knowledge of how news is written or syndicated, not a list of one site's
chrome. Pure.
"""

from __future__ import annotations

import re
import unicodedata

# Bylines are matched with case: "By John Smith" is a byline, "By 2030, India..." is not.
_BYLINE = re.compile(
    r"(By|BY|Written by|Reported by|Edited by)\s+[A-Z][\w.'’-]*( [A-Z][\w.'’-]*){0,3}"
    r"((,| and| &) [A-Z][\w.'’-]*( [A-Z][\w.'’-]*){0,3}){0,3}(,? [A-Z][\w ]{0,30})?"
    r"(\s*[|,-]\s*.{0,40}\d.{0,30})?"
)
INLINE_CREDIT = re.compile(
    r"\s*\((?:file )?(?:photo|image|picture|pic)s?(?: credit)?:?\s*[^()]{1,60}\)", re.IGNORECASE
)
# An excerpt's closing mark: "[…]", "Read more", "Continue reading".
TRAILING_MORE = re.compile(
    r"\s*(?:\[(?:…|\.\.\.)\]|(?:read more|continue reading|read full (?:story|article))\W*)\s*$",
    re.IGNORECASE,
)
# Sentences that speak to the reader about the page rather than tell the news: calls to share,
# follow, subscribe or click; cross-links; consent and copyright notices; syndication notes.
_PROMPT = re.compile(
    r"^\W*(?:(?:sign up|subscribe|follow us|click here|share (?:this|on|via)|read more"
    r"|continue reading|read full (?:story|article)|also read|read also"
    r"|related (?:stories|articles)|advertisement|sponsored content"
    r"|читайте также|подписывайтесь|подпишитесь|реклама)\b"
    r"|यह भी पढ़ें|ये भी पढ़ें|विज्ञापन)"
    r"|\b(?:sign up|subscribe|click|tap)\b[^.!?]{0,40}?\b(?:you|your|here|free)\b"
    r"|\byou can (?:sign up|subscribe)\b|\bfollow us (?:on|at)\b|^\W*follow us\W*$"
    r"|\bshare (?:this|on|via)\b"
    r"|\b(?:we|site|website|partners)\s+(?:use|uses|using)\s+cookies\b"
    r"|\b(?:accept|use of|agree to)\b[^.!?]{0,30}\bcookies\b|\bcookie (?:settings|policy|consent)\b"
    r"|\bby continuing to (?:use|browse)\b|\ball rights reserved\b|\bappeared first on\b"
    r"|\b(?:this|the) (?:article|story|post|piece) (?:was )?(?:first |originally )?"
    r"(?:appeared|published) (?:in|on)\b"
    r"|использу\w* (?:файлы )?(?:cookie|куки)",
    re.IGNORECASE,
)

# Every alternative above holds one of these; most text holds none, and looking for them is
# far cheaper than running the pattern.
_PROMPT_WORDS = (
    "sign up", "subscri", "follow", "click", "tap", "share", "read", "continu", "related",
    "advert", "sponsor", "cookie", "rights reserved", "appeared", "published", "читайте",
    "подпис", "реклам", "куки", "पढ़ें", "विज्ञापन",
)  # fmt: skip

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
    # MOSUL, Iraq/BAGHDAD (Reuters) - : any short place line before an agency and a dash
    re.compile(rf"^[A-Z][^()\n]{{0,60}}?\({_AGENCY}\)\s*[-—–:]+\s*"),
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


_NOT_ALNUM = re.compile(r"[\W_]+")


def loose_key(text: str) -> str:
    """Loose comparison form: folded case, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_ALNUM.sub(" ", folded).strip()


def is_byline(text: str) -> bool:
    return len(text) <= 300 and bool(_BYLINE.fullmatch(text.strip(" \t•·|>-–—*#")))


def is_prompt(text: str) -> bool:
    """True for a sentence addressed to the reader about the page: share, follow, consent."""
    if len(text) >= 600:
        return False
    folded = text.casefold()
    return any(word in folded for word in _PROMPT_WORDS) and bool(_PROMPT.search(text))


def strip_dateline(text: str) -> str:
    for pattern in _DATELINES:
        match = pattern.match(text)
        if match and match.end() < len(text):
            return text[match.end() :].lstrip()
    return text
