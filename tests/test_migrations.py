from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401  (the tables' metadata)
from bot.storage.db import make_engine
from bot.storage.migrate import current_revision, upgrade_database
from bot.storage.store import Store


def test_a_database_of_the_previous_revision_upgrades_and_keeps_its_data(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_database(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO chat (id, type, title, language, active, created_at) "
                "VALUES (42, 'private', 'Ann', 'en', true, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO topic (chat_id, query, active, created_at) "
                "VALUES (42, 'Putin Modi summit', true, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO source (url, name, kind, is_global, initialized, error_streak, polls, "
                "not_modified_count, next_check_at, retired, created_at) VALUES "
                "('https://a.test/rss', 'A', 'feed', true, true, 0, 3, 1, CURRENT_TIMESTAMP, "
                "false, CURRENT_TIMESTAMP)"
            )
        )

    upgrade_database(engine)
    assert current_revision(engine) == "0011"
    story_columns = {column["name"] for column in inspect(engine).get_columns("story")}
    assert {"terms", "terms_at", "updates"} <= story_columns
    columns = {column["name"] for column in inspect(engine).get_columns("source")}
    assert {"current_interval", "topic_id"} <= columns
    store = Store(engine)
    [topic] = store.list_topics(42)
    assert topic.query == "Putin Modi summit" and topic.search is True
    assert topic.number == 1  # numbered per chat by the upgrade
    [source] = store.sources_for_chat(42)
    assert source.polls == 3 and source.current_interval is None
    upgrade_database(engine)  # idempotent
    engine.dispose()


def test_the_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_database(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []
