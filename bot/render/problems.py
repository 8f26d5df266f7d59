"""A `UserError` as a sentence in the reader's language, and friendly names for fetch failures."""

from __future__ import annotations

import re

from bot.domain import UserError
from bot.match import Wording
from bot.render.format import escape, shorten
from bot.render.i18n import t
from bot.sources.fetch import FetchError

MAX_VALUE = 200


def problem(lang: str, error: UserError) -> str:
    """The catalog text of `error.key`, with its values escaped for Telegram HTML."""
    values = {
        name: escape(shorten(value, MAX_VALUE)) if isinstance(value, str) else value
        for name, value in error.values.items()
    }
    return t(lang, error.key, **values)


def fetch_problem(error: FetchError) -> UserError:
    """Why a fetch failed, as the user hears it: the kind of failure, not the library's text."""
    if error.kind == "http":
        return UserError("fetch.http", status=error.status or 0)
    if error.kind == "connect" and "cannot resolve" in error.message:
        return UserError("fetch.dns")
    return UserError(f"fetch.{error.kind}")


# Stored poll errors are English lines from the fetcher and the pipeline; the kind is in them.
_STORED = [
    (re.compile(r"\bHTTP (\d{3})\b"), "fetch.http"),
    (re.compile(r"cannot resolve"), "fetch.dns"),
    (re.compile(r"timed out|timeout", re.IGNORECASE), "fetch.timeout"),
    (re.compile(r"\bTLS\b|SSL|certificate", re.IGNORECASE), "fetch.tls"),
    (re.compile(r"non-public|not a public|local name"), "fetch.blocked"),
    (re.compile(r"too (?:large|big)|exceeds", re.IGNORECASE), "fetch.too_large"),
    (re.compile(r"redirect", re.IGNORECASE), "fetch.redirects"),
    (re.compile(r"cannot connect|connection|stream failed", re.IGNORECASE), "fetch.connect"),
    (re.compile(r"feed|parse|XML|not well-formed", re.IGNORECASE), "fetch.unreadable"),
]


def stored_problem(text: str) -> UserError:
    """A source's last recorded error as a friendly reason (never the raw exception text)."""
    for pattern, key in _STORED:
        found = pattern.search(text)
        if found is None:
            continue
        if key == "fetch.http":
            return UserError(key, status=int(found[1]))
        return UserError(key)
    return UserError("fetch.other")


def wording(lang: str) -> Wording:
    """The connecting words of a query's echo ("I read it as: all of: …") in `lang`."""
    return Wording(
        all_of=t(lang, "echo.all_of"),
        any_of=t(lang, "echo.any_of"),
        none_of=t(lang, "echo.none_of"),
        and_=t(lang, "echo.and"),
        or_=t(lang, "echo.or"),
        not_=t(lang, "echo.not"),
        within=t(lang, "echo.within"),
        within_one=t(lang, "echo.within_one"),
    )
