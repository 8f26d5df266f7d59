"""The language of an item: the feed's own statement when it fits the text, else lingua's guess.

The detector knows a fixed set of languages (`KNOWN`): the news languages a LibreTranslate
server can translate, and the languages of India's large outlets. Fewer candidates make short
titles less ambiguous, and lingua's models for ~40 languages in low-accuracy mode take about
40 MB and a quarter of a millisecond per item, where all 75 in high-accuracy mode take over a
gigabyte. Low-accuracy mode uses trigrams only, which is what a headline plus a lead allows.
Marathi is left out: in that mode it takes Hindi headlines for Marathi, and Hindi is by far
the more common in the feeds this bot reads, so Devanagari text is taken for Hindi.
"""

from __future__ import annotations

import threading
from functools import cache

from lingua import IsoCode639_1, LanguageDetector, LanguageDetectorBuilder

from bot.language.script import dominant_script, fits_script

KNOWN = (
    "en", "ru", "hi", "uk", "be", "bg", "kk", "de", "fr", "es", "it", "pt", "pl", "nl", "cs",
    "sk", "sv", "da", "nb", "fi", "hu", "ro", "el", "tr", "az", "ar", "fa", "he", "ur", "zh",
    "ja", "ko", "bn", "gu", "pa", "ta", "te", "ca", "id", "ms", "vi", "th",
)  # fmt: skip
# Feeds and people say "no" for written Norwegian; lingua calls it Bokmål.
SAME_AS = {"nb": "no"}
MIN_LETTERS = 12  # below this, a guess is noise
MAX_CHARS = 600  # title and lead: more text adds time, not accuracy
_lock = threading.Lock()


@cache
def _detector() -> LanguageDetector:
    codes = [getattr(IsoCode639_1, code.upper()) for code in KNOWN]
    return (
        LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
        .with_low_accuracy_mode()
        .with_preloaded_language_models()
        .build()
    )


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is in, or None when there is too little."""
    text = text[:MAX_CHARS]
    if sum(char.isalpha() for char in text) < MIN_LETTERS:
        return None
    with _lock:  # the first call builds the detector; later ones only read it
        detector = _detector()
    found = detector.detect_language_of(text)
    if found is None:
        return None
    code = found.iso_code_639_1.name.lower()
    return SAME_AS.get(code, code)


def normalize_code(code: str | None) -> str | None:
    """ "en-US", "EN", "zh_Hant" -> "en", "en", "zh"; None or junk -> None."""
    base = (code or "").strip().lower().replace("_", "-").split("-", 1)[0]
    return base if 2 <= len(base) <= 3 and base.isalpha() else None


def item_language(declared: str | None, title: str, text: str) -> str | None:
    """The feed's language when its script fits the item's text, else the detected one."""
    sample = f"{title}\n{text[:MAX_CHARS]}"
    declared = normalize_code(declared)
    if declared and fits_script(declared, sample):
        return declared
    return detect(sample) or declared


__all__ = ["KNOWN", "detect", "dominant_script", "item_language", "normalize_code"]
