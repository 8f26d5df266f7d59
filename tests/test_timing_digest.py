from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.timing import (
    TimingError,
    digest_due,
    in_quiet,
    last_occurrence,
    parse_clock,
    parse_quiet,
    parse_timezone,
    quiet_ends,
)
from bot.render.digest import DigestEntry, compose_digest
from bot.render.format import MAX_MESSAGE, visible_length

NOON_UTC = datetime(2025, 12, 5, 12, 0, tzinfo=UTC)


def test_time_zones_by_name_or_offset() -> None:
    assert parse_timezone("Asia/Kolkata") == "Asia/Kolkata"
    assert parse_timezone("+5:30") == "+05:30"
    assert parse_timezone("UTC-4") == "-04:00"
    assert parse_timezone("utc") == "UTC"
    for bad in ("Mars/Olympus", "+15:00", "../../etc/passwd", "x" * 100, ""):
        with pytest.raises(TimingError):
            parse_timezone(bad)


def test_quiet_hours_cross_midnight_in_local_time() -> None:
    assert parse_quiet("23:00-07:00") == ("23:00", "07:00")
    assert parse_quiet("off") is None
    with pytest.raises(TimingError):
        parse_quiet("23:00")
    with pytest.raises(TimingError):
        parse_clock("25:00")
    # 12:00 UTC is 17:30 in Kolkata and 15:00 in Moscow.
    assert in_quiet(NOON_UTC, "Asia/Kolkata", "17:00", "08:00")
    assert not in_quiet(NOON_UTC, "Europe/Moscow", "17:00", "08:00")
    assert in_quiet(NOON_UTC, "+03:00", "14:00", "16:00")
    assert not in_quiet(NOON_UTC, "UTC", None, None)
    end = quiet_ends(NOON_UTC, "Asia/Kolkata", "08:00")
    assert end == datetime(2025, 12, 6, 2, 30, tzinfo=UTC)


def test_daily_digests_go_out_at_the_local_digest_time() -> None:
    assert last_occurrence(NOON_UTC, "Asia/Kolkata", "08:00") == datetime(
        2025, 12, 5, 2, 30, tzinfo=UTC
    )
    arrived = NOON_UTC - timedelta(hours=1)  # 16:30 in Kolkata
    assert not digest_due("daily", arrived, NOON_UTC, "Asia/Kolkata", "08:00")
    next_morning = datetime(2025, 12, 6, 2, 31, tzinfo=UTC)  # 08:01 in Kolkata
    assert digest_due("daily", arrived, next_morning, "Asia/Kolkata", "08:00")
    assert not digest_due(
        "daily", arrived, next_morning - timedelta(minutes=2), "Asia/Kolkata", "08:00"
    )


def test_hourly_digests_go_out_each_full_hour() -> None:
    arrived = NOON_UTC + timedelta(minutes=10)
    assert not digest_due("hourly", arrived, NOON_UTC + timedelta(minutes=50), "UTC", "08:00")
    assert digest_due("hourly", arrived, NOON_UTC + timedelta(minutes=61), "UTC", "08:00")
    # Half-hour zones have their hours at :30 UTC.
    assert digest_due("hourly", arrived, NOON_UTC + timedelta(minutes=31), "Asia/Kolkata", "08:00")


def entry(n: int, outlets: int = 1) -> DigestEntry:
    return DigestEntry(
        title=f"Story {n} <about> Putin & Modi",
        url=f"https://example.com/{n}",
        source_name="Outlet",
        outlets=outlets,
        published=NOON_UTC - timedelta(minutes=n),
        topic="Putin Modi",
    )


def test_digest_puts_the_most_covered_story_first_and_escapes() -> None:
    [message] = compose_digest("Digest: 3 stories", [entry(1), entry(2, outlets=5), entry(3)])
    lines = message.splitlines()
    assert lines[0] == "<b>Digest: 3 stories</b>"
    assert "Story 2" in lines[1] and "5 outlets" in lines[2]
    assert "&lt;about&gt; Putin &amp; Modi" in message


def test_a_long_digest_is_split_without_cutting_a_story() -> None:
    entries = [entry(n) for n in range(120)]
    messages = compose_digest("Digest", entries)
    assert len(messages) > 1
    assert all(visible_length(m) <= MAX_MESSAGE for m in messages)
    joined = "\n".join(messages)
    assert all(f"Story {n} " in joined for n in range(120))
    assert all(m.startswith("<b>Digest</b>") for m in messages)
