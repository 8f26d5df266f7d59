from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dedup.fingerprint import guid_key, normalize_title, title_fingerprint, url_key

SAME_STORY = [
    "Putin’s visit: Modi, Putin hold summit - Reuters",
    "PUTIN'S VISIT: MODI, PUTIN HOLD SUMMIT",
    "Putin's visit: Modi, Putin hold summit | The Hindu",
    "Putin‘s visit — Modi, Putin hold summit — The Times of India",
    "  putin's   visit:  modi,  putin hold summit!  ",
    "Putin’s visit: Modi, Putin hold summit – Hindustan Times",
]


def test_one_story_one_fingerprint() -> None:
    fingerprints = {title_fingerprint(t) for t in SAME_STORY}
    assert len(fingerprints) == 1
    [fingerprint] = fingerprints
    assert len(fingerprint) == 32 and int(fingerprint, 16) >= 0


def test_different_stories_differ() -> None:
    a = title_fingerprint("Modi arrives in Moscow for summit")
    b = title_fingerprint("Modi leaves Moscow after summit")
    assert a and b and a != b


@pytest.mark.parametrize(
    ("title", "normalized"),
    [
        ("Putin - Modi", "putin modi"),
        ("Modi arrives in Moscow - Putin - Reuters", "modi arrives in moscow putin"),
        ("Modi, Putin talk - Reuters", "modi putin talk"),
        ("Two words - Reuters", "two words reuters"),
        (
            "India-Russia ties: a long story - and a new chapter no outlet suffix would ever be",
            "india russia ties a long story and a new chapter no outlet suffix would ever be",
        ),
        ("Путин и Моди провели переговоры — РИА Новости", "путин и моди провели переговоры"),
        ("मोदी और पुतिन की मुलाकात - News18 हिंदी", "मोदी और पुतिन की मुलाकात"),
        ("ＦＵＬＬＷＩＤＴＨ　Ｔｉｔｌｅ ｈｅｒｅ", "fullwidth title here"),
        ("Straße in Köln gesperrt", "strasse in köln gesperrt"),
    ],
)
def test_normalize_title(title: str, normalized: str) -> None:
    assert normalize_title(title) == normalized


@pytest.mark.parametrize(
    "title", ["", "   ", "Breaking", "Putin - Modi", "Live: updates", "!!! ???"]
)
def test_weak_titles_have_no_fingerprint(title: str) -> None:
    assert title_fingerprint(title) == ""


def test_only_the_last_suffix_is_stripped() -> None:
    assert normalize_title("Summit opens - day one - Reuters") == "summit opens day one"


WORD = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=("Lu", "Ll", "Lt", "Lo", "Nd", "Mn", "Mc"),
        max_codepoint=0x2FFF,
    ),
    min_size=1,
    max_size=8,
)
QUOTE_STYLES = [
    {"'": "'", '"': '"', "-": "-"},
    {"'": "’", '"': "“", "-": "—"},
    {"'": "‘", '"': "”", "-": "–"},
    {"'": "`", '"': "«", "-": "−"},
]


def _render(words: list[str], marks: list[str], style: dict[str, str]) -> str:
    out = []
    for word, mark in zip(words, marks, strict=False):
        out.append(word + style.get(mark, mark))
    return " ".join(out)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(WORD, min_size=1, max_size=10),
    st.lists(st.sampled_from(["", "'", '"', "-", ":", ",", "!"]), min_size=10, max_size=10),
    st.sampled_from(range(len(QUOTE_STYLES))),
    st.sampled_from(["upper", "lower", "title", "swapcase", "casefold"]),
)
def test_case_and_quote_style_never_change_the_fingerprint(
    words: list[str], marks: list[str], style: int, case: str
) -> None:
    original = _render(words, marks, QUOTE_STYLES[0])
    variant = getattr(_render(words, marks, QUOTE_STYLES[style]), case)()
    assert title_fingerprint(variant) == title_fingerprint(original)
    assert normalize_title(variant) == normalize_title(original)


def test_url_key() -> None:
    a = url_key("https://News.Example.com/a?utm_source=x#top")
    assert a == url_key("https://news.example.com/a") and len(a) == 32
    assert a != url_key("https://news.example.com/b")
    assert url_key("") == ""


def test_guid_key() -> None:
    a = guid_key("https://x.example/rss", "urn:1")
    assert a == guid_key("https://x.example/rss?utm_medium=feed", " urn:1 ")
    assert a != guid_key("https://y.example/rss", "urn:1")
    assert a != guid_key("https://x.example/rss", "urn:2")
    assert guid_key("https://x.example/rss", None) == ""
    assert guid_key("https://x.example/rss", "  ") == ""
