from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot import domain
from bot.config import SourceSpec
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade_database
from bot.storage.models import Delivery, Source, Story, utcnow
from bot.storage.store import OutboxRow, PollRecord, QuotaExceeded, Store
from tests.support.outbox import alert_of, alerts_for


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    upgrade_database(engine)
    yield Store(engine)
    engine.dispose()


def item(title: str, url: str) -> domain.Item:
    return domain.Item(
        source_url="https://feed.test/rss",
        source_name="Feed",
        title=title,
        url=url,
        guid=url,
        published=datetime(2025, 12, 5, tzinfo=UTC),
        text="text",
        summary="summary",
    )


def test_an_item_is_claimed_once_and_its_alerts_queued_with_it(store: Store) -> None:
    store.sync_global_sources([SourceSpec("https://feed.test/rss", "Feed")])
    source = store.due_sources(utcnow())[0]
    assert source.id is not None
    store.ensure_chat(1)
    first = item("Putin and Modi meet", "https://a.test/1")

    result = store.claim_new_items(source.id, [(first, ["u:1", "t:x"])], alerts_for([first]))
    assert len(result.claimed) == 1 and result.alerts == 1
    again = store.claim_new_items(source.id, [(first, ["u:1", "t:x"])], alerts_for([first]))
    assert again.claimed == [] and again.alerts == 0
    # A copy sharing only its title key is the same story; its new URL is remembered.
    second = item("copy", "https://b.test/1")
    copy = store.claim_new_items(source.id, [(second, ["u:2", "t:x"])], alerts_for([second]))
    assert copy.claimed == []
    assert (
        store.claim_new_items(source.id, [(item("x", "https://b.test/1"), ["u:2"])]).claimed == []
    )
    assert store.outbox_backlog() == 1
    assert store.enqueue([OutboxRow(1, result.claimed[0].id, None, None, "dup", "")]) == 0


def test_topic_quota_and_removal_by_number_or_text(store: Store) -> None:
    store.ensure_chat(5)
    first = store.add_topic(5, "Putin Modi", limit=2)
    store.add_topic(5, "BRICS summit", limit=2)
    with pytest.raises(QuotaExceeded):
        store.add_topic(5, "one more", limit=2)
    assert store.remove_topic(5, f"{first.id}") is not None
    assert store.remove_topic(5, "brics SUMMIT") is not None
    assert store.remove_topic(5, "nothing") is None
    assert store.remove_topic(6, "1") is None


def test_migration_moves_topics_and_queued_alerts(store: Store) -> None:
    store.ensure_chat(-42, type="group", title="Team")
    store.add_topic(-42, "Putin")
    store.sync_global_sources([SourceSpec("https://feed.test/rss")])
    source_id = store.due_sources(utcnow())[0].id
    assert source_id is not None
    queued = item("a", "https://a.test/1")
    store.claim_new_items(source_id, [(queued, ["k1"])], {0: [alert_of(-42, queued)]})
    store.migrate_chat(-42, -100042)
    assert store.get_chat(-42).active is False
    assert store.get_chat(-100042).active is True
    assert [t.query for t in store.list_topics(-100042)] == ["Putin"]
    assert [d.chat_id for d in store.due_deliveries(utcnow())] == [-100042]


def test_pruned_items_never_come_back(store: Store) -> None:
    store.sync_global_sources([SourceSpec("https://feed.test/rss")])
    source_id = store.due_sources(utcnow())[0].id
    assert source_id is not None
    old = item("old story", "https://a.test/old")
    assert store.claim_new_items(source_id, [(old, ["u:old"])]).claimed
    assert store.prune_items(utcnow() + timedelta(seconds=1), batch=1) == 1
    assert store.claim_new_items(source_id, [(old, ["u:old"])]).claimed == []


def test_deactivated_chat_drops_its_queue_and_comes_back(store: Store) -> None:
    store.ensure_chat(9)
    store.deactivate_chat(9)
    assert store.get_chat(9).active is False
    store.ensure_chat(9)
    assert store.get_chat(9).active is True


def test_one_story_for_thousands_of_chats_is_queued_whole(store: Store) -> None:
    store.sync_global_sources([SourceSpec("https://feed.test/rss")])
    source_id = store.due_sources(utcnow())[0].id
    assert source_id is not None
    big = item("big story", "https://a.test/big")
    result = store.claim_new_items(source_id, [(big, ["k"])], alerts_for([big], range(1, 6001)))
    assert result.alerts == 6000
    assert store.outbox_backlog() == 6000


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(store: Store) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_story_bands_outside_the_window_are_pruned(store: Store) -> None:
    from bot.dedup.near import signature
    from bot.storage.store import Candidate

    store.sync_global_sources([SourceSpec("https://feed.test/rss")])
    source_id = store.due_sources(utcnow())[0].id
    assert source_id is not None
    story = item("Putin and Modi sign energy deal in New Delhi", "https://a.test/deal")
    text = "Russia will supply crude to Indian refiners for ten years under the agreement."
    sig = signature(story.title, text)
    store.claim_new_items(source_id, [Candidate(story, ["u:deal"], sig)])
    assert store.prune_story_bands(utcnow() - timedelta(days=7)) == 0
    assert sig is not None and store.prune_story_bands(utcnow() + timedelta(seconds=1)) == len(
        sig.bands
    )


def test_polls_recorded_in_one_batch_each_keep_what_they_do_not_change(store: Store) -> None:
    store.sync_global_sources(
        [
            SourceSpec(url=f"https://feed{n}.test/rss", name=name)
            for n, name in ((1, ""), (2, "Kept"), (3, ""))
        ]
    )
    one, two, three = sorted(
        (s for s in store.due_sources(utcnow() + timedelta(days=1))), key=lambda s: s.url
    )
    assert one.id and two.id and three.id
    with store.session() as session:  # a source added by URL alone, not yet named
        session.exec(update(Source).where(col(Source.id) == one.id).values(name=""))
        session.commit()
    later = utcnow() + timedelta(minutes=10)
    store.record_polls(
        [
            PollRecord(one.id, later, etag='"a"', name="Feed One", current_interval=600.0,
                       listing=b"12345678" * 3),
            PollRecord(two.id, later, etag='"b"', name="Other name", kind="page"),
            PollRecord(three.id, later, last_modified="Tue, 01 Dec 2026 10:00:00 GMT",
                       new_url="https://moved.test/rss"),
        ]
    )  # fmt: skip
    store.record_polls([PollRecord(one.id, later, etag='"a"', not_modified=True)])
    first, second, third = (store.get_source(s) for s in (one.id, two.id, three.id))
    assert first and second and third
    assert (first.name, first.polls, first.not_modified_count, first.etag) == (
        "Feed One",
        2,
        1,
        '"a"',
    )
    assert first.current_interval == 600.0 and first.initialized and first.error_streak == 0
    assert store.listing(one.id) == b"12345678" * 3  # a 304 keeps the entries read before
    assert (second.name, second.kind, second.etag) == ("Kept", "page", '"b"')
    assert third.url == "https://moved.test/rss"
    assert third.last_modified == "Tue, 01 Dec 2026 10:00:00 GMT" and store.listing(three.id) == b""
    assert not store.due_sources(utcnow())  # all checked, none due again before `later`
    store.record_polls([PollRecord(one.id, later, etag='"c"', listing=b"")])
    assert store.listing(one.id) == b""  # read again, with no entry digests this time


def test_reads_go_on_while_a_write_is_open(store: Store) -> None:
    """A poll's lookups and a chat's /sources never queue behind another transaction's write."""
    store.sync_global_sources([SourceSpec(url="https://feed.test/rss", name="Feed")])
    store.remember_keys(["u:one"])
    with store.session() as writing:
        writing.exec(update(Source).values(name="Renamed"))
        writing.flush()  # the write lock is held from here to the commit
        assert store.seen_keys(["u:one", "u:two"]) == {"u:one"}
        assert [s.name for s in store.due_sources(utcnow() + timedelta(days=1))] == ["Feed"]
        writing.commit()
    assert [s.name for s in store.due_sources(utcnow() + timedelta(days=1))] == ["Renamed"]


def test_a_copy_folded_in_while_the_send_is_recorded_keeps_its_edit(store: Store) -> None:
    """Another poller folds a copy into the story while the alert's send is being recorded:
    the alert, rendered without the copy, must stay due for its edit."""
    store.sync_global_sources([SourceSpec("https://feed.test/rss", "Feed")])
    source = store.due_sources(utcnow())[0]
    assert source.id is not None
    store.ensure_chat(1)

    first = item("Putin and Modi meet", "https://a.test/1")
    store.claim_new_items(source.id, [(first, ["u:1"])], alerts_for([first]))
    [delivery] = store.due_deliveries(utcnow() + timedelta(minutes=1))
    assert delivery.id is not None and delivery.story_id is not None
    rendered = store.stories([delivery.story_id])[delivery.story_id].updated_at
    with store.session() as fold:  # as `claim_new_items` does for a copy from another outlet
        fold.exec(
            update(Story).where(col(Story.id) == delivery.story_id).values(updated_at=utcnow())
        )
        fold.exec(update(Delivery).where(col(Delivery.id) == delivery.id).values(edit_due=True))
        fold.flush()
        recording = threading.Thread(target=store.mark_sent, args=(delivery.id, 42, rendered))
        recording.start()
        recording.join(0.5)  # it waits for the fold's row lock (or the write turn on SQLite)
        fold.commit()
    recording.join(30)
    assert not recording.is_alive()
    [sent] = store.deliveries_for_chat(1)
    assert sent.status == "sent" and sent.message_id == 42
    assert sent.edit_due


def test_a_first_poll_records_its_items_so_that_none_alerts_later(store: Store) -> None:
    store.sync_global_sources(
        [SourceSpec("https://feed.test/rss", "Feed"), SourceSpec("https://other.test/rss", "B")]
    )
    first_source, other = (s.id for s in store.due_sources(utcnow()))
    assert first_source is not None and other is not None
    store.ensure_chat(1)

    listed = [
        (item("Putin and Modi meet", "https://a.test/1"), ["u:1", "t:meet"]),
        (item("Summit dates set", "https://a.test/2"), ["u:2", "t:dates"]),
        (item("Summit dates set", "https://a.test/2?utm=x"), ["u:2b", "t:dates"]),  # a repeat
        (item("untitled", ""), []),  # nothing to know it by
    ]
    recorded = store.claim_new_items(first_source, listed, record_only=True)
    assert [new.item.url for new in recorded.claimed] == ["https://a.test/1", "https://a.test/2"]
    assert recorded.alerts == 0
    # Another source's first poll: a copy by title is known, its own URL remembered with it.
    copy = (item("Putin and Modi meet", "https://b.test/9"), ["u:9", "t:meet"])
    assert store.claim_new_items(other, [copy], record_only=True).claimed == []

    # Later polls list them again: nothing alerts, whichever key they come by.
    again = [*listed[:3], (item("x", "https://b.test/9"), ["u:9"])]
    later = store.claim_new_items(first_source, again, alerts_for([new for new, _ in again]))
    assert later.claimed == [] and later.alerts == 0
    fresh = item("New", "https://a.test/3")
    news = store.claim_new_items(first_source, [(fresh, ["u:3"])], alerts_for([fresh]))
    assert len(news.claimed) == 1 and news.alerts == 1
