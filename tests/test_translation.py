"""The translator against a fake LibreTranslate on 127.0.0.1 and a real database, and what
it does with hostile output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from bot.delivery.render import render_alert
from bot.delivery.translate import AlertTranslation, AlertTranslator
from bot.language.clean import clean_translation
from bot.language.service import LibreTranslate
from bot.render.format import AlertView
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Delivery
from bot.storage.store import Store
from bot.storage.translations import TranslationStore
from tests.support.fake_translate import FakeTranslate

TITLE = "Путин и Моди провели саммит в Нью-Дели"
SUMMARY = "Стороны подписали соглашения о торговле и энергетике."


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    upgrade_database(engine)
    store = Store(engine)
    for chat_id in (1, 2):
        store.ensure_chat(chat_id, language="en")
        store.update_chat(chat_id, translate=True)
    yield store
    engine.dispose()


@pytest.fixture
def server() -> Iterator[FakeTranslate]:
    with FakeTranslate() as fake:
        yield fake


@pytest.fixture
async def translators(server: FakeTranslate, store: Store) -> AsyncIterator[list[AlertTranslator]]:
    made: list[AlertTranslator] = []
    yield made
    for translator in made:
        await translator.close()


def make(server: FakeTranslate, store: Store, made: list[AlertTranslator]) -> AlertTranslator:
    translator = AlertTranslator(
        LibreTranslate(server.url, timeout=2.0), TranslationStore(store), wait=2.0
    )
    made.append(translator)
    return translator


def row(row_id: int, chat_id: int, *, source: str = "ru", title: str = TITLE) -> Delivery:
    view = AlertView(
        title, "https://tass.test/1", SUMMARY, "ТАСС", datetime(2026, 12, 4, tzinfo=UTC),
        "Putin Modi", lang="en", source_lang=source,
    )  # fmt: skip
    return Delivery(id=row_id, chat_id=chat_id, item_id=7, text="", view=view.to_json())


async def settle(translator: AlertTranslator, rows: list[Delivery]) -> dict[int, AlertTranslation]:
    """Ask as the sender does, pass after pass, until nothing is held back."""
    for _ in range(100):
        ready, held = await translator.prepare(rows)
        if not held:
            return ready
        await asyncio.sleep(0.05)
    raise AssertionError("rows still held")


async def test_a_stored_translation_serves_another_chat_without_a_call(
    server: FakeTranslate, store: Store, translators: list[AlertTranslator]
) -> None:
    first = await settle(make(server, store, translators), [row(1, 1)])
    assert first[1].title == f"[en] {TITLE}"
    assert len(server.calls) == 1
    # Another chat, later, in a process that has nothing in memory.
    second = await settle(make(server, store, translators), [row(2, 2)])
    assert second[2] == first[1]
    assert len(server.calls) == 1


async def test_hostile_output_is_cut_escaped_or_replaced(
    server: FakeTranslate, store: Store, translators: list[AlertTranslator]
) -> None:
    server.state.mode = "hostile"
    server.state.hostile = '<a href="https://evil.test">click</a> <b>' + "x " * 400
    ready = await settle(make(server, store, translators), [row(1, 1)])
    translation = ready[1]
    assert len(translation.title) <= 3 * len(TITLE)
    html = render_alert(row(1, 1), None, translation)
    assert '<a href="https://evil.test">' not in html
    assert "&lt;a href=&quot;https://evil.test&quot;&gt;click&lt;/a&gt;" in html

    assert clean_translation(TITLE, "") == TITLE
    assert clean_translation(TITLE, "   \u200b\x00 ") == TITLE  # invisible only: nothing
    assert clean_translation(TITLE, None) == TITLE
    assert clean_translation("", "made up from nothing") == ""
    assert clean_translation(TITLE, ["not", "text"]) == TITLE
    assert clean_translation("Hi", "a\x00b\u202ec") == "abc"


async def test_an_item_in_a_language_the_service_lacks_goes_out_as_it_is(
    server: FakeTranslate, store: Store, translators: list[AlertTranslator]
) -> None:
    translator = make(server, store, translators)
    ready = await settle(translator, [row(1, 1, source="de", title="Gipfel in Neu-Delhi")])
    assert ready == {}
    assert server.calls == []  # /languages said so: /translate was not asked
    assert translator.stats.failed == 0


async def test_same_language_and_unwilling_chats_are_left_alone(
    server: FakeTranslate, store: Store, translators: list[AlertTranslator]
) -> None:
    store.update_chat(2, translate=False)
    ready, held = await make(server, store, translators).prepare(
        [row(1, 1, source="en", title="Summit in New Delhi"), row(2, 2)]
    )
    assert ready == {} and held == set()
    assert server.calls == []
