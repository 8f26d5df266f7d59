"""Reply texts by language: TOML catalogs in bot/render/locales, one per language.

`t(lang, "list.title")` looks a key up in the language's catalog (English when the language
or the key is missing) and fills `{placeholders}` from keyword arguments. Callers escape
anything that came from a user or a feed before passing it in.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "ru", "hi")
DEFAULT = "en"
NAMES = {"en": "English", "ru": "Русский", "hi": "हिन्दी"}


def normalize(code: str | None) -> str:
    """A supported language for a Telegram language_code ("ru", "ru-RU", "en-GB", None)."""
    base = (code or "").strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else DEFAULT


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise ValueError(f"{name}: catalog values are strings or tables")
    return flat


@cache
def catalog(lang: str) -> dict[str, str]:
    """Every key of one language's catalog, with dotted names ("errors.not_admin")."""
    path = LOCALES / f"{lang}.toml"
    with path.open("rb") as handle:
        return _flatten(tomllib.load(handle))


def has(key: str) -> bool:
    return key in catalog(DEFAULT)


def t(lang: str, key: str, /, **values: Any) -> str:
    text = catalog(normalize(lang)).get(key)
    if text is None:
        text = catalog(DEFAULT)[key]  # a missing key is a bug: KeyError names it
    return text.format(**values) if values else text


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(normalize(lang))


def plural_form(lang: str, count: int) -> str:
    """ "one", "few" or "many": the catalog's plural category of `count`, by the language's
    CLDR rules (Russian one/few/many; English one for 1; Hindi one for 0 and 1)."""
    category = _locale(lang).plural_form(abs(count))
    return category if category in ("one", "few") else "many"


def number(lang: str, value: int) -> str:
    """A count as the language writes it: 1,234,567 / 1 234 567 / 12,34,567 (hi)."""
    return format_decimal(value, locale=_locale(lang))


def moment(lang: str, when: datetime) -> str:
    """A point in time in UTC, with the month as the language abbreviates it."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return format_datetime(when, "d MMM y, HH:mm", tzinfo=UTC, locale=_locale(lang)) + " UTC"


def language_name(lang: str, code: str) -> str:
    """The name of the language `code` in `lang` ("ru" in hi: "रूसी"); the code if unknown."""
    name = _locale(lang).languages.get(code)
    return str(name) if name else code


def tn(lang: str, key: str, count: int, /, **values: Any) -> str:
    """A counted phrase: looks up `key.one`, `key.few` or `key.many`, with {count} filled."""
    return t(lang, f"{key}.{plural_form(lang, count)}", count=number(lang, count), **values)
