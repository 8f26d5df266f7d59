"""Story terms: the who, where, what and numbers of a report, as a weighted term vector. Pure.

Reporters reword a headline but keep its names, places and figures. A report is therefore the
lemmas of its title and lead (simplemma), each weighted by how rare the word is in its language
(wordfreq's Zipf frequency; no corpus, so the first item is weighed as well as the millionth),
with extra weight for names, acronyms and numbers, and for words of the title. Names written in
another script are brought to one term by the alias file ("Путина", "पुतिन" and "Putin" are
`putin`) and, when no alias knows them, by transliteration to Latin letters.

Both libraries ship their data: nothing is downloaded when the bot runs.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import simplemma
import wordfreq

from bot.dedup.near import strip_dateline
from bot.match.words import WORD_CHAR, Aliases, normalize

MAX_CHARS = 2000  # of title plus text: a 10,000-word lead costs what a 300-word one does
LEAD_WORDS = 20  # words of the text, after any dateline, that count with the title
MAX_TERMS = 24  # heaviest terms kept per report
MAX_WEIGHT = 6.0  # a word wordfreq does not know (a new name) weighs this much
ZIPF_CEILING = 6.8  # a word this common or commoner ("the", "says") weighs nothing
MIN_WEIGHT = 0.6  # lighter terms are left out
TITLE_BOOST = 2.2
NAME_BOOST = 1.4  # a capitalised word inside a sentence, an acronym
NUMBER_WEIGHT = 3.0  # "51 migrants", "£1.3bn", "1500m"
YEAR_WEIGHT = 1.0
TERM_CHARS = 40  # longer "words" (URLs, hashes) are cut

# Outlet furniture: words that tell the format of a piece, not its story.
FORMAT_WORDS = frozenset(
    [
        "live",
        "podcast",
        "video",
        "videos",
        "watch",
        "picture",
        "pictures",
        "photo",
        "photos",
        "gallery",
        "analysis",
        "opinion",
        "explainer",
        "review",
        "letters",
        "letter",
        "editorial",
        "cartoon",
        "quiz",
        "update",
        "updates",
        "news",
        "latest",
        "breaking",
        "exclusive",
        "interview",
        "obituary",
        "recap",
        "highlights",
    ]
)

_WORD = re.compile(f"{WORD_CHAR}+(?:['’.]{WORD_CHAR}+)*")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;\"“”‘’«»]\s*$")
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
# Languages whose reports are compared by their terms: those the bot speaks and ships aliases
# for. A lemma dictionary and a word list cost up to 280 MB each language (Russian) and seconds
# to load; a report in another language folds only as a copy (MinHash), never by a guess.
TERM_LANGUAGES = frozenset({"en", "ru", "hi"})
_LEMMA_LANGUAGES = TERM_LANGUAGES & frozenset(
    simplemma.strategies.dictionaries.dictionary_factory.SUPPORTED_LANGUAGES
)
_FREQ_LANGUAGES = TERM_LANGUAGES & frozenset(wordfreq.available_languages())
# The same lemmas from the packed dictionaries, read where they lie: Russian takes 20 MB of
# memory instead of 140 MB, and lookups are cached.
_LEMMATIZER = simplemma.Lemmatizer(
    lemmatization_strategy=simplemma.strategies.DefaultStrategy(low_memory=True)
)


@dataclass(frozen=True, slots=True)
class TermAliases:
    """Single-word names from the alias file, each mapped to its set's first name."""

    canonical: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_aliases(cls, aliases: Aliases | None) -> TermAliases:
        canonical: dict[str, str] = {}
        for group in aliases.sets if aliases is not None else ():
            head = next((names[0] for names in group if len(names) == 1), None)
            if head is None:
                continue
            for names in group:
                if len(names) == 1:
                    canonical.setdefault(names[0], head)
        return cls(canonical)


NO_ALIASES = TermAliases()


def _base_language(tag: str | None) -> str | None:
    return (tag or "").split("-")[0].split("_")[0].lower() or None


def script_language(word: str, hint: str | None) -> str | None:
    """The language whose lemmatizer and word list fit this word: its script first, then the
    feed's language for Latin and Cyrillic words. None when nothing fits."""
    first = next((ch for ch in word if ch.isalpha()), "")
    name = unicodedata.name(first, "") if first else ""
    hint = _base_language(hint)
    if name.startswith("DEVANAGARI"):
        return "hi"
    if name.startswith("CYRILLIC"):
        return hint if hint in ("ru", "uk", "bg", "mk", "sr") else "ru"
    if name.startswith("LATIN"):
        return hint if hint in _LEMMA_LANGUAGES or hint in _FREQ_LANGUAGES else "en"
    return hint


@lru_cache(maxsize=65536)
def _lemma(word: str, language: str | None) -> str:
    if language not in _LEMMA_LANGUAGES:
        return word
    try:
        return _LEMMATIZER.lemmatize(word, lang=language).lower()
    except (ValueError, KeyError):
        return word


@lru_cache(maxsize=65536)
def rarity(word: str, language: str | None) -> float:
    """How much a word tells: 0 for the commonest words, MAX_WEIGHT for unknown ones."""
    if language not in _FREQ_LANGUAGES:
        return MAX_WEIGHT / 2  # no word list: every word counts alike, moderately
    zipf = wordfreq.zipf_frequency(word, language)
    return max(0.0, min(MAX_WEIGHT, ZIPF_CEILING - zipf))


_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "-",
            "y",
            "-",
            "e",
            "yu",
            "ya",
            "i",
            "yi",
            "ye",
            "g",
            "u",
        ],
        strict=True,
    )
)
_DEVANAGARI_CONSONANTS = dict(
    zip(
        "कखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह",
        [
            "k",
            "kh",
            "g",
            "gh",
            "n",
            "ch",
            "chh",
            "j",
            "jh",
            "n",
            "t",
            "th",
            "d",
            "dh",
            "n",
            "t",
            "th",
            "d",
            "dh",
            "n",
            "p",
            "ph",
            "b",
            "bh",
            "m",
            "y",
            "r",
            "l",
            "v",
            "sh",
            "sh",
            "s",
            "h",
        ],
        strict=True,
    )
)
_DEVANAGARI_VOWELS = dict(
    zip(
        "अआइईउऊऋएऐओऔ",
        ["a", "aa", "i", "i", "u", "u", "ri", "e", "ai", "o", "au"],
        strict=True,
    )
)
_DEVANAGARI_SIGNS = dict(
    zip(
        "ािीुूृेैोौंःँ्",
        ["aa", "i", "i", "u", "u", "ri", "e", "ai", "o", "au", "n", "h", "n", ""],
        strict=True,
    )
)


def transliterate(word: str) -> str:
    """Latin letters for a Cyrillic or Devanagari word, so that a name written in either script
    meets its English spelling: "моди" -> "modi", "मोदी" -> "modi". Other words are returned as
    they are."""
    if any("\u0400" <= ch <= "\u04ff" for ch in word):
        return "".join(_CYRILLIC.get(ch, ch) for ch in word).replace("-", "")
    if not any("\u0900" <= ch <= "\u097f" for ch in word):
        return word
    out: list[str] = []
    for i, ch in enumerate(word):
        if ch in _DEVANAGARI_CONSONANTS:
            out.append(_DEVANAGARI_CONSONANTS[ch])
            following = word[i + 1] if i + 1 < len(word) else ""
            if following not in _DEVANAGARI_SIGNS and i + 1 < len(word):
                out.append("a")  # the inherent vowel, dropped at the end of a word
        elif ch in _DEVANAGARI_VOWELS:
            out.append(_DEVANAGARI_VOWELS[ch])
        elif ch in _DEVANAGARI_SIGNS:
            out.append(_DEVANAGARI_SIGNS[ch])
        elif ch != "\u093c":
            out.append(ch)
    return "".join(out).replace("aa", "a")


def _strip_outlet(title: str) -> str:
    """The title without a trailing " | CNN", " – podcast" or " | Author" part."""
    for separator in (" | ", " – ", " — ", " - "):
        head, sep, tail = title.rpartition(separator)
        if sep and head.strip() and len(tail.split()) <= 6:
            return head
    return title


def _lead(title: str, text: str) -> str:
    body = strip_dateline(text[:MAX_CHARS])
    words = body.split()
    head = title.split()
    if head and [w.lower() for w in words[: len(head)]] == [w.lower() for w in head]:
        words = words[len(head) :]  # a description that opens by repeating the headline
    return " ".join(words[:LEAD_WORDS])


def _title_case(words: list[str]) -> bool:
    """Headline style that capitalises every word ("Modi Hugs Putin"): case tells no names."""
    long_words = [w for w in words if len(w) > 3]
    capitals = sum(1 for w in long_words if w[:1].isupper())
    return len(long_words) >= 3 and capitals >= 0.7 * len(long_words)


def _term(raw: str, language: str | None, aliases: TermAliases) -> tuple[str, float] | None:
    """A word's term and its rarity, or None for a word that tells nothing."""
    word = _POSSESSIVE.sub("", raw).replace("’", "").replace("'", "")[:TERM_CHARS]
    folded = normalize(word)
    if not folded:
        return None
    if folded.replace(".", "").isdigit():
        digits = folded.replace(".", "")
        if len(digits) < 2:
            return None
        return ("#" + folded, YEAR_WEIGHT if _YEAR.fullmatch(digits) else NUMBER_WEIGHT)
    if folded in FORMAT_WORDS:
        return None
    language = script_language(folded, language)
    lemma = _lemma(word.lower(), language)
    folded_lemma = normalize(lemma)
    alias = aliases.canonical.get(folded) or aliases.canonical.get(folded_lemma)
    weight = rarity(lemma, language)
    if weight < MIN_WEIGHT:
        return None
    return (alias or transliterate(folded_lemma), weight)


def story_terms(
    title: str,
    text: str = "",
    language: str | None = None,
    aliases: TermAliases = NO_ALIASES,
) -> dict[str, float]:
    """The report's heaviest terms with their weights, scaled to unit length; empty when it has
    no word that tells anything."""
    if _base_language(language) not in (None, *TERM_LANGUAGES):
        return {}
    title = _strip_outlet((title or "")[:MAX_CHARS])
    weights: dict[str, float] = {}
    for part, boost in ((title, TITLE_BOOST), (_lead(title, text or ""), 1.0)):
        weights_of(part, language, aliases, boost, weights)
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top))
    return {term: w / norm for term, w in top} if norm else {}


def subject_keys(
    words: Iterable[str], language: str | None, aliases: TermAliases = NO_ALIASES
) -> set[str]:
    """The terms of a topic's matched words and phrases, as `story_terms` keys them."""
    keys: set[str] = set()
    for phrase in words:
        for found in _WORD.finditer(phrase[:MAX_CHARS]):
            term = _term(found.group(), language, aliases)
            if term is not None:
                keys.add(term[0])
    return keys


def weights_of(
    text: str,
    language: str | None,
    aliases: TermAliases,
    boost: float,
    into: dict[str, float],
) -> None:
    """Add each term of `text`, weighted, to `into`: a term seen again counts less each time."""
    matches = list(_WORD.finditer(text))
    words = [m.group() for m in matches]
    title_case = _title_case(words)
    shouting = sum(1 for w in words if w.isupper() and len(w) > 1) > 0.6 * max(1, len(words))
    for index, found in enumerate(matches):
        raw = found.group()
        term = _term(raw, language, aliases)
        if term is None:
            continue
        key, weight = term
        sentence_start = index == 0 or bool(_SENTENCE_END.search(text[: found.start()]))
        acronym = not shouting and raw.isupper() and 2 <= len(raw) <= 5
        name = raw[:1].isupper() and not (sentence_start or title_case or shouting)
        if acronym or name:
            weight *= NAME_BOOST
        seen = into.get(key, 0.0)
        # Repeats add with diminishing returns, so a 10,000-word lead cannot drown the title.
        into[key] = seen + weight * boost / (1.0 + seen / (weight * boost + 1e-9))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two term vectors (not necessarily of unit length)."""
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(term, 0.0) for term, w in a.items())
    if not dot:
        return 0.0
    norm = math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def shared(a: Mapping[str, float], b: Mapping[str, float]) -> list[str]:
    return [term for term in a if term in b]


def top_terms(vector: Mapping[str, float], count: int) -> list[str]:
    return [t for t, _ in sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]


def merge_terms(vectors: Iterable[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for vector in vectors:
        for term, w in vector.items():
            out[term] = out.get(term, 0.0) + w
    return out
