"""Alerts show the article's lead, not the chrome around it, through the real bot."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

CHAT = 3101
LABELS = Path(__file__).parent / "fixtures" / "summaries" / "descriptions.jsonl"
STANDFIRST = (
    "Putin and Modi agreed to expand trade in national currencies and to build new nuclear "
    "reactors at their summit in New Delhi"
)
BODY = (
    "The two leaders signed 29 documents on Friday, from fertiliser supplies to labour "
    "mobility. Officials said the deals would lift trade to $100bn by 2030."
)
# The shape of a Guardian item: standfirst, related link, body, a share prompt, a link out.
GUARDIAN_SHAPED = Entry(
    "Putin and Modi summit ends with deals on trade and nuclear power",
    "https://news.test/world/putin-modi-summit-deals",
    f"<p>{STANDFIRST}</p>"
    '<ul><li><a href="https://news.test/world/live">Putin in India – live updates</a></li></ul>'
    f"<p>{BODY}</p><p>Share this article on Facebook</p>"
    '<a href="https://news.test/world/putin-modi-summit-deals">Continue reading...</a>',
)


def seed() -> dict[str, object]:
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["id"] == "qoshe-seed":
            return record
    raise AssertionError("the labelled set lost its seed")


@pytest.fixture
async def bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[BotUnderTest]:
    feeds.set("/news.xml", rss([], title="Newsroom"))
    sources = write_sources(tmp_path / "sources.toml", {"Newsroom": feeds.url("/news.xml")})
    settings = make_settings(fake=fake, database_url=database_url, sources_file=sources)
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    await under_test.wait_polls(1)
    await under_test.command(CHAT, "/watch Putin Modi summit")
    yield under_test
    await under_test.stop()


def alerts(fake: FakeTelegram) -> list[str]:
    return [m.text for m in fake.sent_to(CHAT) if "🔎" in m.text]


async def test_syndicated_copy_with_site_chrome_shows_the_article_lead(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    record = seed()
    entry = Entry(
        str(record["title"]), "https://qoshe.test/blitz/putin-india", str(record["description"])
    )
    feeds.set("/news.xml", rss([entry], title="QOSHE"))
    assert await wait_until(lambda: len(alerts(fake)) == 1)
    alert = alerts(fake)[0]
    assert "When the Kremlin officially confirmed that President Vladimir Putin" in alert
    for chrome in ("menu_open", "Columnists", "cookies", "More information", "38 1", "30.11.2025"):
        assert chrome not in alert
    assert "........" not in alert and "© Blitz" not in alert
    assert alert.count("defies Washington") == 1  # the title line, not the summary again


async def test_alert_shows_the_lead_without_links_or_prompts(
    bot: BotUnderTest, fake: FakeTelegram, feeds: FeedServer
) -> None:
    feeds.set("/news.xml", rss([GUARDIAN_SHAPED], title="Newsroom"))
    assert await wait_until(lambda: len(alerts(fake)) == 1)
    alert = alerts(fake)[0]
    first_body_sentence = BODY.split(". ")[0] + "."
    assert f"{STANDFIRST}. {first_body_sentence}" in alert
    for chrome in ("live updates", "Share this article", "Facebook", "Continue reading"):
        assert chrome not in alert
