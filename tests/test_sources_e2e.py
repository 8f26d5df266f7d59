"""Sources as a user meets them: news searches, /addsource, page mode, full text, and sources
that move, vanish or ask to slow down. Everything is served from 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.storage.models import utcnow
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer, Response, redirect, retry_after
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ANN = 2001
BEN = 2002
OLD = Entry("Putin and Modi plan a summit next year", "https://old.test/1")
ARTICLE_TEXT = (
    "Russian President Vladimir Putin and Indian Prime Minister Narendra Modi held their annual "
    "summit in New Delhi on Friday, signing agreements on energy, trade and defence. "
    "The two leaders also discussed payments in national currencies. "
    "Officials said the next summit would take place in Moscow."
)


def article_page(title: str, text: str = ARTICLE_TEXT) -> str:
    paragraphs = "".join(f"<p>{sentence.strip()}.</p>" for sentence in text.split(". ") if sentence)
    return (
        f"<html lang='en'><head><title>{title}</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        "<div class='cookie'>We use cookies. Accept all cookies</div>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>© 2025 Example News</footer></body></html>"
    )


class Launcher:
    def __init__(self, fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp: Path) -> None:
        self.fake, self.feeds, self.database_url, self.tmp = fake, feeds, database_url, tmp
        self.bots: list[BotUnderTest] = []

    async def __call__(
        self, sources: dict[str, str] | None = None, **overrides: object
    ) -> BotUnderTest:
        sources_file = write_sources(self.tmp / "sources.toml", sources or {})
        settings = make_settings(
            fake=self.fake, database_url=self.database_url, sources_file=sources_file, **overrides
        )
        bot = BotUnderTest(settings, self.fake, self.feeds)
        await bot.start()
        self.bots.append(bot)
        return bot


@pytest.fixture
async def launch(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[Launcher]:
    launcher = Launcher(fake, feeds, database_url, tmp_path)
    yield launcher
    for bot in launcher.bots:
        await bot.stop()


def alerts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text for m in fake.sent_to(chat_id) if "🔎" in m.text]


async def test_a_topic_with_no_sources_at_all_is_backed_by_news_search(
    launch: Launcher, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/news-search", rss([OLD], title="Search results"))
    bot = await launch(
        news_search=True,
        news_search_google_url=feeds.url("/news-search?q={query}&hl={hl}&gl={gl}"),
        news_search_bing_url="",
    )
    await bot.command(ANN, "/start")
    assert "Watching topic" in await bot.command(ANN, "/watch Putin Modi summit")
    listing = await bot.command(ANN, "/sources")
    assert "Google News: Putin Modi summit" in listing and "news search" in listing
    assert await wait_until(
        lambda: any(
            "q=Putin+Modi+summit" in r.path and "hl=en-US" in r.path for r in feeds.requests
        )
    )

    await bot.wait_polls(1)
    wrapped = (
        "https://www.bing.com/news/apiclick.aspx?ref=FexRss&url="
        "https%3a%2f%2fnews.example.test%2fputin-modi-summit"
    )
    feeds.set("/news-search", rss([Entry("Putin, Modi open summit in New Delhi", wrapped), OLD]))
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 1)
    assert 'href="https://news.example.test/putin-modi-summit"' in alerts(fake, ANN)[0]

    topic_id = bot.store.list_topics(ANN)[0].id
    assert "own and the global sources" in await bot.command(ANN, f"/search {topic_id} off")
    assert "Google News" not in await bot.command(ANN, "/sources")
    assert "news search again" in await bot.command(ANN, f"/search {topic_id} on")
    assert "Google News: Putin Modi summit" in await bot.command(ANN, "/sources")
    assert "/search NUMBER on|off" in await bot.command(ANN, "/search maybe")

    assert "Stopped watching" in await bot.command(ANN, f"/unwatch {topic_id}")
    assert "Google News" not in await bot.command(ANN, "/sources")


async def test_addsource_refuses_private_addresses_without_a_request(
    launch: Launcher, feeds: FeedServer
) -> None:
    feeds.set("/feed.xml", rss([OLD]))
    bot = await launch(allow_private_networks=False)
    port = feeds.port
    for address in (
        feeds.url("/feed.xml"),
        f"http://localhost:{port}/feed.xml",
        f"http://2130706433:{port}/feed.xml",
        f"http://[::1]:{port}/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://example.com/feed.xml",
    ):
        reply = await bot.command(ANN, f"/addsource {address}")
        assert "can't use that source" in reply and "Nothing was added" in reply, reply
    assert feeds.requests == []
    assert "Send a feed" in await bot.command(ANN, "/addsource")
    assert "Which one?" in await bot.command(ANN, "/removesource")


async def test_addsource_finds_a_pages_feed_and_serves_only_that_chat(
    launch: Launcher, fake: FakeTelegram, feeds: FeedServer
) -> None:
    items = [
        Entry(f"Story number {n} about the economy", f"https://site.test/{n}") for n in range(5)
    ]
    feeds.set("/site/feed.xml", rss(items, title="Site News"))
    feeds.set(
        "/site",
        "<html><head><title>Site</title>"
        "<link rel='alternate' type='application/rss+xml' href='/site/feed.xml'></head>"
        "<body>Welcome</body></html>",
        content_type="text/html; charset=utf-8",
    )
    bot = await launch()
    reply = await bot.command(ANN, f"/addsource {feeds.url('/site')}")
    assert "Added <b>Site News</b>" in reply and "a feed" in reply
    assert all(f"Story number {n}" in reply for n in range(3)) and "Story number 3" not in reply
    assert "This chat already has" in await bot.command(ANN, f"/addsource {feeds.url('/site')}")
    assert "Site News" in await bot.command(ANN, "/sources")
    assert "Site News" not in await bot.command(BEN, "/sources")

    await bot.command(ANN, "/watch Putin Modi summit")
    await bot.command(BEN, "/watch Putin Modi summit")
    await bot.wait_polls(1)
    news = Entry("Putin and Modi hold summit", "https://site.test/summit", "The leaders met.")
    feeds.set("/site/feed.xml", rss([news, *items], title="Site News"))
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 1)
    await bot.wait_polls(1)
    assert alerts(fake, BEN) == []

    status = await bot.command(ANN, "/status")
    assert "304 share" in status and "next check" in status
    source_id = next(s.id for s in bot.sources() if s.url.endswith("/site/feed.xml"))
    assert "Removed" in await bot.command(ANN, f"/removesource {source_id}")
    assert "Site News" not in await bot.command(ANN, "/sources")


async def test_a_page_without_a_feed_is_watched_for_new_articles(
    launch: Launcher, fake: FakeTelegram, feeds: FeedServer
) -> None:
    def listing(slugs: list[str]) -> str:
        links = "".join(f"<li><a href='/news/2025/12/{slug}'>{slug}</a></li>" for slug in slugs)
        return f"<html><body><nav><a href='/about'>About</a></nav><ul>{links}</ul></body></html>"

    html = "text/html; charset=utf-8"
    feeds.set("/news", listing(["old-story-one", "old-story-two"]), content_type=html)
    for slug in ("old-story-one", "old-story-two"):
        feeds.set(f"/news/2025/12/{slug}", article_page(slug.replace("-", " ")), content_type=html)
    bot = await launch()
    await bot.command(ANN, "/watch Putin Modi summit")
    reply = await bot.command(ANN, f"/addsource {feeds.url('/news')}")
    assert "web page" in reply and "old story one" in reply

    await bot.wait_polls(1)
    slug = "putin-modi-summit-new-delhi"
    feeds.set(
        f"/news/2025/12/{slug}", article_page("Putin and Modi meet in New Delhi"), content_type=html
    )
    feeds.set("/news", listing([slug, "old-story-one", "old-story-two"]), content_type=html)
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 1)
    alert = alerts(fake, ANN)[0]
    assert "Putin and Modi meet in New Delhi" in alert
    assert "held their annual summit" in alert and "cookies" not in alert.lower()


async def test_thin_feed_items_get_their_text_from_the_article(
    launch: Launcher, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/thin.xml", rss([OLD], title="Thin Feed"))
    bot = await launch({"Thin": feeds.url("/thin.xml")}, full_text=True)
    await bot.command(ANN, "/watch Putin Modi summit")
    await bot.wait_polls(1)
    feeds.set("/articles/1", article_page("Leaders meet"), content_type="text/html; charset=utf-8")
    thin = Entry("Leaders meet in New Delhi", feeds.url("/articles/1"), "Read more")
    feeds.set("/thin.xml", rss([thin, OLD], title="Thin Feed"))
    # The title alone does not match; the article's text does.
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 1)
    assert "held their annual summit in New Delhi" in alerts(fake, ANN)[0]
    assert feeds.hits("/articles/1") == 1


async def test_sources_that_move_vanish_or_ask_to_slow_down(
    launch: Launcher, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/new.xml", rss([OLD], title="Moved"))
    feeds.set_handler("/old.xml", lambda _request: redirect(feeds.url("/new.xml"), 301))
    feeds.set_handler("/busy.xml", lambda _request: retry_after("3600"))
    feeds.set("/gone.xml", rss([OLD], title="Gone Soon"))
    bot = await launch({"Moved": feeds.url("/old.xml"), "Busy": feeds.url("/busy.xml")})
    await bot.command(ANN, f"/addsource {feeds.url('/gone.xml')}")
    await bot.wait_polls(1, names={"Moved", "Gone Soon"})

    by_name = {source.name: source for source in bot.sources()}
    assert by_name["Moved"].url == feeds.url("/new.xml")
    busy = by_name["Busy"]
    assert busy.error_streak >= 1 and "429" in (busy.last_error or "")
    assert busy.next_check_at >= utcnow() + timedelta(seconds=3500)

    feeds.set_handler("/gone.xml", lambda _request: Response(410, b"gone"))
    assert await wait_until(lambda: any("gone for good" in m.text for m in fake.sent_to(ANN)))
    gone = next(s for s in bot.sources() if s.url.endswith("/gone.xml"))
    assert gone.retired
    hits = feeds.hits("/gone.xml")
    await bot.wait_polls(2, names={"Moved"})
    assert feeds.hits("/gone.xml") == hits
    assert "gone" in await bot.command(ANN, "/sources")


async def test_a_failing_source_backs_off_and_is_picked_up_again_when_it_recovers(
    launch: Launcher, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/flaky.xml", rss([OLD], title="Flaky"))
    bot = await launch({"Flaky": feeds.url("/flaky.xml")})
    await bot.command(ANN, "/watch Putin Modi summit")
    await bot.wait_polls(1)
    feeds.set("/flaky.xml", b"oops", status=503, content_type="text/plain")
    flaky = lambda: next(s for s in bot.sources() if s.name == "Flaky")  # noqa: E731
    assert await wait_until(lambda: flaky().error_streak >= 3, 30)
    assert feeds.hits("/flaky.xml") >= 4
    assert flaky().next_check_at > flaky().last_error_at  # the next try waits longer each time
    news = Entry("Putin and Modi sign a deal", "https://old.test/deal", "Putin Modi summit deal.")
    feeds.set("/flaky.xml", rss([news, OLD], title="Flaky"))
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 1, 40)
    assert flaky().error_streak == 0 and not flaky().retired


async def test_a_busy_feed_alerts_only_for_what_it_adds_also_after_a_restart(
    launch: Launcher, fake: FakeTelegram, feeds: FeedServer
) -> None:
    stories = [
        Entry(f"Putin and Modi summit, report {n} from the desk", f"https://busy.test/{n}",
              f"Putin Modi summit coverage, part {n}.")
        for n in range(25)
    ]  # fmt: skip
    feeds.set("/busy.xml", rss(stories, title="Busy"))
    bot = await launch({"Busy": feeds.url("/busy.xml")})
    await bot.command(ANN, "/watch Putin Modi summit")
    await bot.wait_polls(1)
    busy = next(s for s in bot.sources() if s.name == "Busy")
    assert busy.id is not None
    assert len(bot.store.listing(busy.id)) == 8 * 25  # what the next poll need not read again

    fresh = Entry("Putin and Modi set a date for their summit", "https://busy.test/date",
                  "The Putin Modi summit will be held in December.")  # fmt: skip
    edited = replace(stories[3], description="Putin Modi summit coverage, corrected.")
    feeds.set("/busy.xml", rss([fresh, *stories[:3], edited, *stories[4:]], title="Busy"))
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 1, 20)
    await bot.wait_polls(2)
    assert len(alerts(fake, ANN)) == 1 and "set a date" in alerts(fake, ANN)[0]

    await bot.restart()
    later = Entry("Putin and Modi summit agenda is published", "https://busy.test/agenda",
                  "The agenda of the Putin Modi summit lists energy and trade.")  # fmt: skip
    feeds.set("/busy.xml", rss([later, fresh, *stories[:3], edited, *stories[4:]], title="Busy"))
    assert await wait_until(lambda: len(alerts(fake, ANN)) == 2, 20)
    await bot.wait_polls(2)
    assert len(alerts(fake, ANN)) == 2 and "agenda" in alerts(fake, ANN)[1]
    assert len(bot.store.listing(busy.id)) == 8 * 27
