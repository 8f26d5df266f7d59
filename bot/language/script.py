"""The writing system a text is in, from the Unicode names of its letters."""

from __future__ import annotations

import unicodedata
from collections import Counter

# The script a language is written in, for the languages the detector knows.
LANGUAGE_SCRIPT = {
    "ru": "CYRILLIC", "uk": "CYRILLIC", "bg": "CYRILLIC", "be": "CYRILLIC", "kk": "CYRILLIC",
    "mk": "CYRILLIC", "sr": "CYRILLIC", "mn": "CYRILLIC",
    "hi": "DEVANAGARI", "bn": "BENGALI", "gu": "GUJARATI",
    "pa": "GURMUKHI", "ta": "TAMIL", "te": "TELUGU",
    "ar": "ARABIC", "fa": "ARABIC", "ur": "ARABIC", "he": "HEBREW", "el": "GREEK",
    "zh": "CJK", "ja": "CJK", "ko": "HANGUL", "th": "THAI", "ka": "GEORGIAN", "hy": "ARMENIAN",
}  # fmt: skip
# What a text in a script most likely is, when nothing else is known.
LIKELIEST = {
    "LATIN": "en", "CYRILLIC": "ru", "DEVANAGARI": "hi", "BENGALI": "bn", "GUJARATI": "gu",
    "GURMUKHI": "pa", "TAMIL": "ta", "TELUGU": "te", "ARABIC": "ar", "HEBREW": "he",
    "GREEK": "el", "CJK": "zh", "HANGUL": "ko", "THAI": "th", "GEORGIAN": "ka",
    "ARMENIAN": "hy", "HIRAGANA": "ja", "KATAKANA": "ja",
}  # fmt: skip
SAMPLE = 400  # letters looked at: enough to tell, cheap on long texts


def _script(char: str) -> str | None:
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    word = name.split(" ", 1)[0]
    return "CJK" if word == "CJK" else word


def dominant_script(text: str) -> str | None:
    """The script most letters of `text` are in ("LATIN", "CYRILLIC", …), or None."""
    counts: Counter[str] = Counter()
    seen = 0
    for char in text:
        if not char.isalpha():
            continue
        script = _script(char)
        if script:
            counts[script] += 1
        seen += 1
        if seen >= SAMPLE:
            break
    if not counts:
        return None
    if counts["HIRAGANA"] + counts["KATAKANA"]:  # kana among kanji is Japanese
        return "HIRAGANA"
    return counts.most_common(1)[0][0]


def script_guess(text: str) -> str | None:
    """The likeliest language for the script alone: a baseline for the detector."""
    script = dominant_script(text)
    return LIKELIEST.get(script) if script else None


def fits_script(language: str, text: str) -> bool:
    """Whether `text` could be in `language`, judged by its script alone."""
    script = dominant_script(text)
    if script is None:
        return True
    expected = LANGUAGE_SCRIPT.get(language, "LATIN")
    if expected == "CJK" and language == "ja":
        return script in ("CJK", "HIRAGANA", "KATAKANA")
    return script == expected
