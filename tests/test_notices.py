"""A source gone for good is told to each chat in its own language, whichever role notices."""

from __future__ import annotations

from bot.delivery.notices import tell_source_gone
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Source
from bot.storage.store import Store
from tests.support.fake_telegram import FakeTelegram


async def test_each_chat_hears_of_a_gone_source_in_its_language(
    fake: FakeTelegram, database_url: str
) -> None:
    engine = make_engine(database_url)
    upgrade_database(engine)
    store = Store(engine)
    store.ensure_chat(41, language="ru")
    store.ensure_chat(42, language="hi")
    source = Source(url="https://gone.test/rss", name="Gone <Daily>")
    fake.fail_next(43, kind="blocked")  # a chat that blocked the bot does not stop the others

    async with fake.make_bot() as bot:
        told = await tell_source_gone(bot, store, source, {41, 42, 43})

    assert told == 2
    russian = fake.sent_to(41)[-1].plain_text or ""
    hindi = fake.sent_to(42)[-1].plain_text or ""
    assert any("\u0400" <= ch <= "\u04ff" for ch in russian) and "Gone <Daily>" in russian
    assert any("\u0900" <= ch <= "\u097f" for ch in hindi)
    engine.dispose()
