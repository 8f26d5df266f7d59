"""Reply texts by language: TOML catalogs in bot/telegram/locales, one per language.

`t(lang, "list.title")` looks a key up in the language's catalog (English when the language
or the key is missing) and fills `{placeholders}` from keyword arguments. Callers escape
anything that came from a user or a feed before passing it in.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "ru")
DEFAULT = "en"
NAMES = {"en": "English", "ru": "Русский"}


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


def plural_form(lang: str, count: int) -> str:
    """ "one", "few" or "many": the plural category of `count` (Russian rules for ru)."""
    count = abs(count)
    if normalize(lang) == "ru":
        if count % 10 == 1 and count % 100 != 11:
            return "one"
        if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
            return "few"
        return "many"
    return "one" if count == 1 else "many"


def tn(lang: str, key: str, count: int, /, **values: Any) -> str:
    """A counted phrase: looks up `key.one`, `key.few` or `key.many`, with {count} filled."""
    return t(lang, f"{key}.{plural_form(lang, count)}", count=count, **values)
