from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.sources.schedule import (
    MAX_BACKOFF,
    Clamp,
    error_backoff,
    jittered,
    observed_gap,
    poll_interval,
    server_floor,
)
from bot.sources.search import search_feeds, search_terms, unwrap_search_link

NOW = datetime(2025, 12, 5, 12, 0, tzinfo=UTC)


def test_busy_feeds_are_checked_often_and_quiet_ones_rarely_within_the_clamp() -> None:
    busy = [NOW - timedelta(minutes=3 * i) for i in range(20)]
    quiet = [NOW - timedelta(days=i) for i in range(10)]
    gap_busy, gap_quiet = observed_gap(busy), observed_gap(quiet)
    assert gap_busy == 180 and gap_quiet == 86400
    assert poll_interval(default=300, gap=gap_busy) == 120  # lower clamp
    assert poll_interval(default=300, gap=gap_quiet) == 6 * 3600  # upper clamp
    assert poll_interval(default=300, gap=1200) == 600
    assert poll_interval(default=300, gap=None) == 300
    assert observed_gap([NOW, None, NOW]) is None


def test_server_hints_are_lower_bounds() -> None:
    assert server_floor({"cache-control": "public, max-age=900"}) == 900
    assert server_floor({"cache-control": "no-cache, max-age=900"}) is None
    expires = {"date": "Fri, 05 Dec 2025 12:00:00 GMT", "expires": "Fri, 05 Dec 2025 12:30:00 GMT"}
    assert server_floor(expires) == 1800
    assert server_floor({}, ttl_seconds=3600) == 3600
    assert server_floor({"expires": "garbage"}) is None
    assert poll_interval(default=300, gap=600, floor=3600) == 3600
    assert poll_interval(default=300, explicit=60, floor=900) == 900


def test_a_tiny_poll_interval_applies_as_given_for_local_testing() -> None:
    assert poll_interval(default=2, gap=86400, floor=None) == 2
    assert poll_interval(default=60, clamp=Clamp(30, 600)) == 60


def test_errors_back_off_exponentially_to_a_day_and_honour_retry_after() -> None:
    delays = [error_backoff(300, streak) for streak in range(12)]
    assert delays[:3] == [300, 600, 1200]
    assert delays == sorted(delays) and delays[-1] == MAX_BACKOFF
    assert error_backoff(300, 0, retry_after=7200) == 7200
    assert error_backoff(300, 0, retry_after=10**9) == MAX_BACKOFF


def test_jitter_spreads_long_intervals_only() -> None:
    rng = random.Random(7)
    values = {round(jittered(600, rng)) for _ in range(50)}
    assert len(values) > 10 and all(540 <= v <= 660 for v in values)
    assert jittered(2, rng) == 2


def test_search_feeds_are_built_from_the_query_and_the_chat_language() -> None:
    feeds = search_feeds('Putin Modi "state visit" -cricket', language="ru")
    google, bing = feeds
    assert google.url.startswith(
        "https://news.google.com/rss/search?q=Putin+Modi+%22state+visit%22+-cricket"
    )
    assert "hl=ru&gl=RU&ceid=RU:ru" in google.url
    assert (
        bing.url.startswith("https://www.bing.com/news/search?q=Putin+Modi")
        and "format=rss" in bing.url
    )
    assert search_terms("title:summit Putin NEAR/5 Modi lang:en", engine="google") == (
        "intitle:summit Putin AROUND(5) Modi"
    )
    assert (
        search_terms("title:summit Putin NEAR/5 Modi lang:en", engine="bing") == "summit Putin Modi"
    )
    assert len(search_feeds("x", bing_template="")) == 1


def test_search_redirect_wrappers_are_resolved() -> None:
    bing = (
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=1&url="
        "https%3a%2f%2fwww.thehindu.com%2fnews%2fputin-modi-summit%2farticle1.ece&c=1"
    )
    assert (
        unwrap_search_link(bing) == "https://www.thehindu.com/news/putin-modi-summit/article1.ece"
    )
    import base64

    token = base64.urlsafe_b64encode(
        b"\x08\x13\x22\x2bhttps://example.com/a/story\xd2\x01\x00"
    ).decode()
    assert unwrap_search_link(f"https://news.google.com/rss/articles/{token.rstrip('=')}?oc=5") == (
        "https://example.com/a/story"
    )
    opaque = "https://news.google.com/rss/articles/CBMiAUFVX3lxTE5vcGFxdWU?oc=5"
    assert unwrap_search_link(opaque) == opaque
    assert unwrap_search_link("https://example.com/x?url=https://evil.test") == (
        "https://example.com/x?url=https://evil.test"
    )
