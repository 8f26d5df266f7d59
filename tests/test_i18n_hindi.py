"""The Hindi catalog and how each language writes counts and dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.render import i18n
from bot.render.format import AlertView, format_alert


def test_every_catalog_file_is_a_language_the_bot_offers() -> None:
    files = {path.stem for path in i18n.LOCALES.glob("*.toml")}
    assert files == set(i18n.LANGUAGES)
    english = i18n.catalog("en")
    for lang in i18n.LANGUAGES:
        assert set(i18n.catalog(lang)) == set(english), lang


def _words(text: str) -> str:
    """The letters of a catalog text outside its {placeholders}, <tags> and strftime fields."""
    return re.sub(r"\{[^}]*\}|<[^>]*>|%[a-zA-Z]|\bUTC\b", "", text)


def test_hindi_is_hindi_not_a_copy() -> None:
    worded = 0
    for key, text in i18n.catalog("hi").items():
        words = _words(text)
        if any(char.isalpha() for char in words):  # not placeholders and markup alone
            assert any("\u0900" <= char <= "\u097f" for char in words), key
            worded += 1
    assert worded >= 0.9 * len(i18n.catalog("en"))
    assert i18n.normalize("hi-IN") == "hi"


def test_counts_follow_each_languages_rules() -> None:
    assert i18n.tn("hi", "digest.title", 1) == "🗞 सार: 1 ख़बर"
    assert i18n.tn("hi", "digest.title", 0) == "🗞 सार: 0 ख़बर"
    assert i18n.tn("hi", "digest.title", 2) == "🗞 सार: 2 ख़बरें"
    assert i18n.tn("ru", "digest.title", 22) == "🗞 Сводка: 22 сюжета"
    assert i18n.number("hi", 1234567) == "12,34,567"
    assert i18n.number("en", 1234567) == "1,234,567"
    assert i18n.tn("hi", "recent.outlets", 150000) == "1,50,000 प्रकाशक"


def test_alert_dates_use_the_chats_language() -> None:
    when = datetime(2026, 12, 4, 16, 5, tzinfo=UTC)
    view = AlertView("T", "https://a.test/1", "S", "Outlet", when, "modi", lang="hi")
    assert "4 दिस॰ 2026, 16:05 UTC" in format_alert(view)
    english = format_alert(AlertView("T", "https://a.test/1", "S", "Outlet", when, "modi"))
    assert "4 Dec 2026, 16:05 UTC" in english
