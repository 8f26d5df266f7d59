from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer

SHARED_EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.fixture(scope="session")
def shared_eval() -> Path:
    """The evaluation data beside the checkout; tests that need it skip on a plain clone."""
    if not SHARED_EVAL.is_dir():
        pytest.skip("../shared/eval is not present")
    return SHARED_EVAL


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in a temp dir, or a new PostgreSQL database
    when TEST_DATABASE_URL points at a server."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'summit-watch.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bot.storage.db import normalize_database_url

    admin_url = make_url(normalize_database_url(TEST_DATABASE_URL))
    name = f"sw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fake Bot API on 127.0.0.1 that the real PTB Application talks to."""
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    """A local feed server; modules that need starting content override this fixture."""
    with FeedServer() as server:
        yield server
