"""/healthz tells broken polling from a few failing sources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.poll_health import FAILED_CYCLES, HELPER_DEATHS, PollHealth
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources
from tests.test_operations import free_port

BROKEN = "<html><body>502 Bad Gateway</body></html>"


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/good.xml", rss([Entry("A story", "https://a.test/1")], title="Good"))
    feeds.set("/bad.xml", BROKEN, status=502, content_type="text/html")
    return feeds


async def started(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path, paths: list[str]
) -> tuple[BotUnderTest, int]:
    sources = write_sources(tmp_path / "sources.toml", {p: feeds.url(p) for p in paths})
    port = free_port()
    settings = make_settings(
        fake=fake, database_url=database_url, sources_file=sources, health_port=port
    )
    bot = BotUnderTest(settings, fake, feeds)
    await bot.start()
    return bot, port


@pytest.fixture
async def stopper() -> AsyncIterator[list[BotUnderTest]]:
    bots: list[BotUnderTest] = []
    yield bots
    for bot in bots:
        await bot.stop()


async def health(port: int) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/healthz")
    return response.status_code, response.json()


async def test_every_poll_failing_is_unhealthy_until_one_works(
    fake: FakeTelegram,
    feeds: FeedServer,
    database_url: str,
    tmp_path: Path,
    stopper: list[BotUnderTest],
) -> None:
    bot, port = await started(fake, feeds, database_url, tmp_path, ["/bad.xml"])
    stopper.append(bot)
    assert (await health(port))[0] == 200
    await bot.wait_polls(FAILED_CYCLES, timeout=60)
    status, report = await health(port)
    assert status == 503
    assert report["polling"] == f"every poll of the last {FAILED_CYCLES} cycles failed"
    assert report["database"] == "ok" and report["scheduler"] == "ok"

    feeds.set("/bad.xml", rss([Entry("Back", "https://a.test/2")], title="Back"))
    assert await wait_until(lambda: bot.sources()[0].error_streak == 0, 60)
    await bot.wait_polls(1, timeout=30)
    status, report = await health(port)
    assert status == 200 and report["polling"] == "ok" and report["ok"] is True


async def test_some_sources_failing_stays_healthy(
    fake: FakeTelegram,
    feeds: FeedServer,
    database_url: str,
    tmp_path: Path,
    stopper: list[BotUnderTest],
) -> None:
    bot, port = await started(fake, feeds, database_url, tmp_path, ["/good.xml", "/bad.xml"])
    stopper.append(bot)
    await bot.wait_polls(FAILED_CYCLES + 1, timeout=60, names={"/bad.xml"})
    status, report = await health(port)
    assert status == 200 and report["polling"] == "ok"


def test_helper_deaths_and_failed_cycles_in_a_row() -> None:
    health = PollHealth()
    for _ in range(FAILED_CYCLES - 1):
        health.record_cycle(["error", "error"])
    health.record_cycle([])  # nothing was due
    assert health.problem(0) is None
    health.record_cycle(["error"])
    assert health.problem(0) == f"every poll of the last {FAILED_CYCLES} cycles failed"
    health.record_cycle(["error", "not_modified"])
    assert health.problem(0) is None
    assert health.problem(HELPER_DEATHS - 1) is None
    assert health.problem(HELPER_DEATHS) == (
        f"the ingest helper process died {HELPER_DEATHS} times in a row"
    )
