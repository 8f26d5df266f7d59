"""Near-duplicate stories: MinHash signatures of a title and the lead of its text. Pure functions.

Copies of one story (wire reprints, syndicated columns, light rewrites) keep most of the word
pairs of the headline and the first paragraph, while they differ in outlet suffixes, datelines,
quotes, boilerplate after the lead and a word here and there. A story is therefore the set of
word pairs ("shingles") of its normalized title followed by the first `LEAD_WORDS` words of its
text, and two items are the same story when the Jaccard similarity of those sets, estimated from
`NUM_PERM` MinHash values, reaches `THRESHOLD`.

For the database, `StorySignature.bands` cuts the MinHash values into `BANDS` bands of `ROWS`
values each. Items sharing any band key are candidates, and `same_story` then decides. Band keys
and MinHash values depend only on the text, `SEED` and `SCHEME`: never on the process, the
machine or Python's `hash()`.

The parameters were chosen with `python -m bench.near_duplicates --sweep`, which prints
precision and recall on STS-B, MSRP and syndicated copies of real feed items.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from bot.dedup.fingerprint import normalize_title
from bot.match.words import tokenize

SHINGLE_WORDS = 2  # word pairs keep word order: "Iran strikes Israel" is not "Israel strikes Iran"
LEAD_WORDS = 40  # words of the text, after any dateline, that count with the title
MIN_SHINGLES = 3  # about four words; with fewer an item is too weak to decide on
NUM_PERM = 144
BANDS = 48
ROWS = 3  # P(candidate) = 0.96 at Jaccard 0.4, 0.99 at 0.45, 0.05 at 0.1: `candidate_probability`
THRESHOLD = 0.45
# Changing SEED, SCHEME, the shingles or the hash function invalidates stored signatures.
SEED = 20240708
SCHEME = "affine32"  # datasketch 2.x: 32-bit affine permutations over sha1_hash32

assert BANDS * ROWS == NUM_PERM

_VALUE_DTYPE = np.dtype("<u4")
_BAND_DIGEST_BYTES = 8

# "Putin's" and "Putin’s" are one word, as in the title fingerprint.
_APOSTROPHE = re.compile(r"(?<=[^\W_])['\u2019\u02bc\u2018`\u00b4](?=[^\W_])")

# A dateline opening the text: "NEW DELHI (Reuters) -", "MOSCOW, July 8 (AP) —",
# "KYIV, Ukraine (AP) —", "WASHINGTON —", "NEW DELHI:", "(Reuters) -", "MOSCOW, July 8. /TASS/.".
_DATELINE = re.compile(
    r"""^\s*
    (?:
        (?P<place>[^\W\d_][^\W_]*\.?(?:[ '\u2019-][^\W\d_][^\W_]*\.?){0,3})
        (?:\s*,\s*(?P<date>[^()/\n\-\u2013\u2014:]{1,30}?)\.?)?
        \s*
    )?
    (?:\((?P<agency>[^()\n]{1,30})\)\s*|/(?P<slashed>[^/\n]{1,30})/\s*)?
    (?P<sep>[-\u2013\u2014:]|\.)\s+
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class StorySignature:
    minhash: bytes  # NUM_PERM little-endian uint32 MinHash values
    bands: tuple[str, ...]  # BANDS keys "index:hex", equal keys make two items candidates
    tokens: int  # distinct shingles it was built from; below MIN_SHINGLES nothing is decided


def strip_dateline(text: str) -> str:
    """The text without a leading wire dateline such as "NEW DELHI (Reuters) -"."""
    found = _DATELINE.match(text)
    if found is None:
        return text
    place, date = found.group("place"), found.group("date")
    agency = found.group("agency") or found.group("slashed")
    sep = found.group("sep")
    if place is not None and not (place.isupper() and len(place) > 1):
        return text
    if date is not None and agency is None and not any(ch.isdigit() for ch in date):
        return text  # "KYIV, Ukraine (AP) —" is a dateline, "US, which has long -" is not
    if agency is None and (place is None or sep == "."):
        return text
    return text[found.end() :]


def _words(text: str) -> list[str]:
    return tokenize(_APOSTROPHE.sub("", text))


def story_words(title: str, text: str, *, lead: int = LEAD_WORDS) -> list[str]:
    """Normalized words of the title (no outlet suffix) and of the text's lead (no dateline)."""
    head = _words(normalize_title(title or ""))
    body = _words(strip_dateline(text or ""))
    if head and body[: len(head)] == head:
        body = body[len(head) :]  # a description that opens by repeating the headline
    return head + body[:lead]


def shingles(title: str, text: str, *, n: int = SHINGLE_WORDS, lead: int = LEAD_WORDS) -> set[str]:
    """The distinct word n-grams of a story."""
    words = story_words(title, text, lead=lead)
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


# MinHash is local because importing datasketch pulls in scipy; its values equal datasketch 2.x's.
# Scheme "affine32": h -> a * fmix32(sha1_hash32(feature)) + b mod 2^32, `a` odd, min per column.


def _permutations(seed: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's "affine32" parameters `a` and `b`, drawn from the seed in this order."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    return a, gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)


_A, _B = _permutations(SEED, NUM_PERM)
_EMPTY = np.uint32(0xFFFFFFFF)  # the value of every permutation for an empty set


def _fmix32(h: np.ndarray) -> np.ndarray:
    """The MurmurHash3 32-bit finalizer; uint32 arithmetic wraps modulo 2^32."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash_values(features: set[str]) -> np.ndarray:
    """MinHash values of a set of strings, as NUM_PERM uint32."""
    if not features:
        return np.full(NUM_PERM, _EMPTY, dtype=_VALUE_DTYPE)
    # datasketch's sha1_hash32: the first 4 bytes of SHA-1 as a little-endian uint32.
    digests = b"".join(hashlib.sha1(f.encode("utf-8")).digest()[:4] for f in features)
    hashes = _fmix32(np.frombuffer(digests, dtype="<u4").astype(np.uint32))
    return (hashes[:, None] * _A + _B).min(axis=0).astype(_VALUE_DTYPE)


def band_keys(values: np.ndarray) -> tuple[str, ...]:
    """One key per band of ROWS values: "band index:blake2b of the band's bytes"."""
    packed = np.asarray(values, dtype=_VALUE_DTYPE)
    keys: list[str] = []
    for band in range(BANDS):
        rows = packed[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(rows, digest_size=_BAND_DIGEST_BYTES).hexdigest()
        keys.append(f"{band}:{digest}")
    return tuple(keys)


def signature(title: str, text: str) -> StorySignature | None:
    """The signature of a story, or None when it has too few words to compare."""
    features = shingles(title, text)
    if len(features) < MIN_SHINGLES:
        return None
    values = minhash_values(features)
    return StorySignature(minhash=values.tobytes(), bands=band_keys(values), tokens=len(features))


def _values(sig: StorySignature) -> np.ndarray:
    values = np.frombuffer(sig.minhash, dtype=_VALUE_DTYPE)
    if len(values) != NUM_PERM:
        raise ValueError(f"a signature holds {NUM_PERM} values, this one {len(values)}")
    return values


def similarity(a: StorySignature, b: StorySignature) -> float:
    """Estimated Jaccard similarity of the two stories' shingle sets, from 0.0 to 1.0."""
    return float(np.count_nonzero(_values(a) == _values(b))) / NUM_PERM


def same_story(a: StorySignature, b: StorySignature) -> bool:
    """Whether two items tell the same story closely enough to send only one alert."""
    if min(a.tokens, b.tokens) < MIN_SHINGLES:
        return False
    return similarity(a, b) >= THRESHOLD


def candidate_probability(jaccard: float) -> float:
    """Chance that two items with this Jaccard similarity share at least one band key."""
    return float(1.0 - (1.0 - jaccard**ROWS) ** BANDS)
