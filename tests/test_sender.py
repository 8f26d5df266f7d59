"""The outbox sender against the fake Bot API: Telegram's refusals as a user would notice them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_application
from bot.delivery.sender import Sender
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.store import Store
from tests.support.fake_telegram import FakeTelegram
from tests.support.harness import make_settings, wait_until
from tests.support.outbox import Outbox


@pytest.fixture
async def outbox(fake: FakeTelegram, database_url: str, tmp_path: Path) -> AsyncIterator[Outbox]:
    settings = make_settings(
        fake=fake, database_url=database_url, sources_file=tmp_path / "none.toml"
    )
    engine = make_engine(database_url)
    upgrade_database(engine)
    store = Store(engine)
    application = build_application(settings)
    await application.initialize()
    sender = Sender(store, application.bot)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    yield Outbox(store, sender)
    stop.set()
    sender.wake()
    await asyncio.wait_for(task, 10)
    await application.shutdown()
    engine.dispose()


async def test_retry_after_is_honoured_and_nothing_is_lost(
    outbox: Outbox, fake: FakeTelegram
) -> None:
    fake.fail_next(501, kind="retry_after", retry_after=2)
    outbox.queue(501)
    outbox.sender.wake()
    assert await wait_until(lambda: outbox.status(501) == ["sent"], 15)
    refused, accepted = [
        call for call in fake.calls_for("sendMessage") if call.params["chat_id"] == 501
    ]
    assert refused.status == 429 and accepted.status == 200
    assert accepted.time - refused.time >= 2  # Telegram's server saw it wait as told
    assert len(fake.sent_to(501)) == 1


async def test_a_migrated_group_gets_its_alert_at_the_new_id(
    outbox: Outbox, fake: FakeTelegram
) -> None:
    fake.migrate(-502, -100502)
    outbox.queue(-502)
    outbox.sender.wake()
    assert await wait_until(lambda: outbox.status(-100502) == ["sent"])
    assert len(fake.sent_to(-100502)) == 1 and fake.sent_to(-502) == []
    assert outbox.store.get_chat(-100502).active
    assert not outbox.store.get_chat(-502).active


async def test_refused_html_still_reaches_the_reader_as_plain_text(
    outbox: Outbox, fake: FakeTelegram
) -> None:
    delivery_id = outbox.queue(503)
    with outbox.store.session() as session:
        from bot.storage.models import Delivery

        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.view = None
        row.text = "<b>Putin & Modi <unknown>tag</b>"  # what a formatting bug would produce
        session.add(row)
        session.commit()
    outbox.sender.wake()
    assert await wait_until(lambda: outbox.status(503) == ["sent"])
    [message] = fake.sent_to(503)
    assert message.parse_mode is None and message.text == "Putin & Modi tag"


async def test_server_errors_are_retried_with_backoff_until_accepted(
    outbox: Outbox, fake: FakeTelegram
) -> None:
    fake.fail_next(504, kind="server", times=1)
    outbox.queue(504)
    outbox.sender.wake()
    assert await wait_until(lambda: outbox.status(504) == ["sent"], 20)
    [row] = outbox.store.deliveries_for_chat(504)
    assert row.attempts == 1 and len(fake.sent_to(504)) == 1


async def test_blocked_and_missing_chats_are_deactivated_others_served(
    outbox: Outbox, fake: FakeTelegram
) -> None:
    fake.block(505)
    fake.fail_next(506, kind="chat_not_found")
    for chat in (505, 506, 507):
        outbox.queue(chat)
    outbox.sender.wake()
    assert await wait_until(lambda: outbox.status(507) == ["sent"])
    assert await wait_until(
        lambda: outbox.status(505) == ["dropped"] and outbox.status(506) == ["dropped"]
    )
    assert not outbox.store.get_chat(505).active and not outbox.store.get_chat(506).active


async def test_one_chat_gets_at_most_one_message_a_second(
    outbox: Outbox, fake: FakeTelegram
) -> None:
    for _ in range(3):
        outbox.queue(508)
    outbox.sender.wake()
    assert await wait_until(lambda: len(fake.sent_to(508)) == 3, 15)
    times = [m.time for m in fake.sent_to(508)]
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(times))
