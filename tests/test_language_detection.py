"""Item languages: lingua on real feed items, the feed's own statement when it fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.language.detect import detect, item_language
from bot.language.script import script_guess
from bot.match import MatchDoc, match, parse_query
from bot.sources.normalize import normalize_entry
from bot.sources.parse import parse_feed

FIXTURES = Path(__file__).parent / "fixtures"


def _labelled() -> list[dict[str, str]]:
    lines = (FIXTURES / "languages" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row["label"] != "mixed"]


def _accuracy(rows: list[dict[str, str]], guess: object) -> float:
    assert callable(guess)
    hits = sum(guess(f"{row['title']}\n{row['text']}") == row["label"] for row in rows)
    return hits / len(rows)


def test_detection_beats_a_floor_and_the_script_baseline_on_real_items() -> None:
    rows = _labelled()
    assert len(rows) >= 200
    assert len({row["label"] for row in rows}) >= 8
    ours = _accuracy(rows, detect)
    assert ours >= 0.95
    assert ours > _accuracy(rows, script_guess) + 0.25


def _items(name: str) -> list[str | None]:
    parsed = parse_feed((FIXTURES / "feeds" / name).read_bytes(), url="https://example.com/")
    return [
        normalize_entry(entry, source_url="https://example.com/", source_name="x").language
        for entry in parsed.entries
    ]


def test_an_undeclared_russian_feed_is_read_as_russian() -> None:
    # Yandex.News declares no language; its items are Russian.
    languages = _items("yandex_moscow_double_encoded.xml")
    assert len(languages) == 15
    assert set(languages) == {"ru"}


@pytest.mark.parametrize(("name", "code"), [("aif_ru.xml", "ru"), ("news18_hindi.xml", "hi")])
def test_declared_languages_are_kept(name: str, code: str) -> None:
    assert _items(name) == [code]


def test_the_feed_language_is_preferred_when_the_text_fits_it() -> None:
    # Lingua alone might call this Spanish; the feed says Catalan, and the script fits.
    assert item_language("ca", "Els Reis d'Orient", "porten la màgia") == "ca"
    assert item_language("pt-BR", "Reações dos partidos", "ao veto de Marcelo") == "pt"


def test_a_declaration_the_text_cannot_be_in_gives_way_to_detection() -> None:
    # Indian outlets often leave their CMS's default "en-us" on Hindi feeds.
    title = "कैसे फैला कोरोना वायरस, WHO की टीम करेगी चीनी अधिकारियों के साथ बैठक"
    assert item_language("en-us", title, "") == "hi"
    assert item_language("en", "Путин встретился с Моди в Москве", "") == "ru"


def test_too_little_text_gives_no_guess() -> None:
    assert detect("IPL 2025") is None
    assert item_language(None, "", "") is None


def test_lang_queries_use_the_detected_language() -> None:
    # Yandex.News declares nothing, so only detection can make `lang:ru` find its items.
    parsed = parse_feed(
        (FIXTURES / "feeds" / "yandex_moscow_double_encoded.xml").read_bytes(),
        url="https://example.com/",
    )
    items = [
        normalize_entry(entry, source_url="https://example.com/", source_name="Яндекс")
        for entry in parsed.entries
    ]
    docs = [MatchDoc(title=i.title, text=i.text, site=i.site, language=i.language) for i in items]
    moscow = [doc for doc in docs if "Москве" in doc.title + doc.text]
    assert len(moscow) >= 2
    assert all(match(parse_query("Москве lang:ru"), doc) for doc in moscow)
    assert not any(match(parse_query("Москве lang:en"), doc) for doc in moscow)
