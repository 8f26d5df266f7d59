"""Plain psycopg connections beside SQLAlchemy's pool, for LISTEN and advisory locks."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from bot.storage.db import normalize_database_url


def conninfo(database_url: str) -> str:
    """A libpq URI for psycopg from the SQLAlchemy URL of DATABASE_URL."""
    url = make_url(normalize_database_url(database_url))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
