"""What an operator reads when the bot cannot start: one line per problem, naming the setting
or the service to check, with the token masked. No tracebacks for expected faults."""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, get_args

from dotenv import dotenv_values
from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings
from bot.logs import mask_tokens
from bot.storage.db import make_engine

PREFIX = "summit-watch: "
SETTINGS_EXIT = 2
ENV_FILE = ".env"
START_EXIT = 1
SECRET_SETTINGS = {"telegram_bot_token", "webhook_secret"}
FORMS = {
    "admin_ids": "comma-separated Telegram user ids, e.g. 1,2 (empty for none)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "database_url": "sqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db",
}
TYPE_FORMS = {bool: "true or false", int: "a whole number", float: "a number", Path: "a path"}


class StartupError(Exception):
    """A fault the operator fixes outside the bot; its text is the one line to print."""


def expected_form(name: str) -> str:
    if name in FORMS:
        return FORMS[name]
    field = Settings.model_fields.get(name)
    if field is None:
        return "a valid value"
    kinds = [a for a in (get_args(field.annotation) or (field.annotation,)) if a is not type(None)]
    form = TYPE_FORMS.get(kinds[0], "text") if len(kinds) == 1 else "a valid value"
    bounds = []
    for rule in field.metadata:
        for attribute, sign in (("ge", ">="), ("gt", ">"), ("le", "<=")):
            limit = getattr(rule, attribute, None)
            if isinstance(limit, int | float):
                bounds.append(f"{sign} {limit:g}")
    return f"{form} {' and '.join(bounds)}" if bounds else form


def shown_value(name: str, value: Any) -> str:
    if name in SECRET_SETTINGS:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "=" + (text if len(text) <= 60 else text[:57] + "...")


def given_value(name: str, parsed: Any) -> Any:
    """The value as the operator wrote it (a list setting is reported whole, not by item)."""
    written = {key.lower(): value for key, value in os.environ.items()}
    if name not in written and Path(ENV_FILE).is_file():
        written = {k.lower(): v for k, v in dotenv_values(ENV_FILE).items() if v is not None}
    return written.get(name, parsed)


def settings_problems(exc: ValidationError | SettingsError) -> list[str]:
    """One line per invalid setting: its name, the value given and the form expected."""
    if isinstance(exc, SettingsError):
        found = re.search(r'field "(\w+)"', str(exc))
        name = found.group(1) if found else "?"
        return [f"{PREFIX}{name.upper()}: expected {expected_form(name)}"]
    lines: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        given = shown_value(name, given_value(name, error.get("input", "")))
        lines.setdefault(name, f"{PREFIX}{name.upper()}{given}: expected {expected_form(name)}")
    return list(lines.values())


class DotenvLines(logging.Handler):
    """python-dotenv's note about a line it cannot read, as one line that says what to fix."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        self.lines.append(f"{PREFIX}.env line {line} is not NAME=value; it was ignored")


def load_settings() -> Settings:
    """Settings, or StartupError with one line per invalid setting."""
    notes = DotenvLines()
    dotenv_log = logging.getLogger("dotenv.main")
    dotenv_log.addHandler(notes)
    dotenv_log.propagate = False
    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        raise StartupError("\n".join(settings_problems(exc))) from None
    finally:
        dotenv_log.removeHandler(notes)
        dotenv_log.propagate = True
        for line in dict.fromkeys(notes.lines):
            print(line, file=sys.stderr)


def check_database(url: str) -> None:
    """Open the database once, so that a wrong URL, a server that is down or a folder the bot
    may not write to is one StartupError instead of a traceback from deep inside the start."""
    try:
        engine = make_engine(url)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
    except (SQLAlchemyError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        said = " ".join(str(reason).split())
        raise StartupError(
            f"{PREFIX}cannot open the database ({type(reason).__name__}: {said}); check "
            "DATABASE_URL, that the server is up, and that its folder is writable by this user"
        ) from None


def explain(exc: BaseException, settings: Settings) -> str | None:
    """The line for a known start-up fault, or None when it is not one."""
    if isinstance(exc, StartupError):
        return str(exc)
    if isinstance(exc, ConfigError):
        return f"{PREFIX}{exc}"
    from telegram.error import InvalidToken, NetworkError, TimedOut  # the bot role only

    if isinstance(exc, InvalidToken):
        return f"{PREFIX}Telegram rejected TELEGRAM_BOT_TOKEN; check the token @BotFather gave you"
    if isinstance(exc, NetworkError | TimedOut):
        return (
            f"{PREFIX}cannot reach the Telegram Bot API at {settings.telegram_api_url} "
            f"({exc}); check the network and TELEGRAM_API_URL"
        )
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"{PREFIX}a port is already in use ({exc}); check HEALTH_PORT and WEBHOOK_PORT"
    return None


def one_line(exc: BaseException, settings: Settings) -> str | None:
    """`explain`, with the token masked; each problem on one line."""
    text = explain(exc, settings)
    if text is None:
        return None
    masked = mask_tokens(text, [settings.telegram_bot_token])
    return "\n".join(" ".join(line.split()) for line in masked.splitlines())
