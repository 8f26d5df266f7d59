"""Running it in production: health and metrics, webhook mode, logs, the container files."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from bot.logs import setup_logging
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import BotUnderTest, Entry, make_settings, rss, wait_until, write_sources

ROOT = Path(__file__).resolve().parent.parent
NEWS = Entry("Putin and Modi hold summit in New Delhi", "https://a.test/summit", "Leaders met.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def feeds(feeds: FeedServer) -> FeedServer:
    feeds.set("/a.xml", rss([], title="Outlet A"))
    return feeds


async def start_bot(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path, **overrides: object
) -> BotUnderTest:
    sources = write_sources(tmp_path / "sources.toml", {"Outlet A": feeds.url("/a.xml")})
    settings = make_settings(
        fake=fake, database_url=database_url, sources_file=sources, **overrides
    )
    under_test = BotUnderTest(settings, fake, feeds)
    await under_test.start()
    return under_test


@pytest.fixture
async def bot_with_health(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[BotUnderTest, int]]:
    port = free_port()
    under_test = await start_bot(fake, feeds, database_url, tmp_path, health_port=port)
    yield under_test, port
    await under_test.stop()


async def test_healthz_and_metrics_answer(
    bot_with_health: tuple[BotUnderTest, int], fake: FakeTelegram, feeds: FeedServer
) -> None:
    bot, port = bot_with_health
    await bot.wait_polls(1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        health = await client.get("/healthz")
        assert health.status_code == 200
        report = health.json()
        assert report["ok"] is True and report["database"] == "ok" and report["scheduler"] == "ok"
        assert isinstance(report["last_poll_age_seconds"], float)

        await bot.command(1, "/watch Putin Modi summit")
        feeds.set("/a.xml", rss([NEWS], title="Outlet A"))
        assert await wait_until(lambda: len(fake.sent_to(1)) == 2)
        await bot.wait_polls(1)
        metrics = (await client.get("/metrics")).text
        assert (await client.get("/nope")).status_code == 404

    def value(name: str) -> float:
        found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
        assert found, name
        return float(found.group(1))

    assert value('summit_polls_total{result="ok"}') >= 1
    assert value('summit_polls_total{result="not_modified"}') >= 1
    assert value("summit_items_seen_total") == 1
    assert value("summit_matches_total") == 1
    assert value("summit_alerts_sent_total") == 1
    assert value("summit_outbox_backlog") == 0
    assert 0 < value("summit_not_modified_ratio") < 1
    assert "summit_poll_lag_seconds" in metrics and "summit_telegram_429_total" in metrics


async def test_healthz_reports_a_stopped_scheduler(
    bot_with_health: tuple[BotUnderTest, int],
) -> None:
    bot, port = bot_with_health
    assert bot.runtime is not None and bot.runtime.application.job_queue is not None
    bot.runtime.application.job_queue.scheduler.shutdown(wait=False)
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
    assert health.status_code == 503 and health.json()["scheduler"] == "stopped"


async def test_webhook_mode_takes_updates_with_the_secret_only(
    fake: FakeTelegram, feeds: FeedServer, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    bot = await start_bot(
        fake,
        feeds,
        database_url,
        tmp_path,
        webhook_url="https://bot.example.test/telegram-hook",
        webhook_secret="s3cret-token",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    try:
        registered = fake.calls_for("setWebhook")
        assert registered[-1].params["url"] == "https://bot.example.test/telegram-hook"
        assert registered[-1].params["secret_token"] == "s3cret-token"
        assert fake.calls_for("getUpdates") == []

        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1764900000,
                "chat": {"id": 77, "type": "private", "first_name": "Ann"},
                "from": {"id": 77, "is_bot": False, "first_name": "Ann"},
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        # TLS ends at a proxy in front of the bot; the listener itself speaks plain HTTP.
        url = f"http://127.0.0.1:{port}/telegram-hook"
        async with httpx.AsyncClient() as client:
            forged = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            )
            assert forged.status_code == 403
            accepted = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            )
            assert accepted.status_code == 200
        assert await wait_until(lambda: len(fake.sent_to(77)) == 1)
        assert "/watch" in fake.sent_to(77)[0].text
    finally:
        await bot.stop()


def test_logs_never_show_the_token_and_can_be_json() -> None:
    token = "987654321:AAHsecretsecretsecretsecretsecret12"
    stream = io.StringIO()
    setup_logging("INFO", json_lines=True, secrets=[token])
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("summit.test")
    log.info("calling https://api.telegram.org/bot%s/getMe", token)
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        log.exception("request failed")
    log.warning("another token shape 123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345")
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert records[0]["level"] == "info" and "getMe" in records[0]["message"]
    assert "RuntimeError" in records[1]["error"]
    assert (
        token not in stream.getvalue()
        and "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345" not in stream.getvalue()
    )
    setup_logging("WARNING")


def test_dockerfile_is_multi_stage_slim_non_root_with_volume_and_healthcheck() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    instructions = [line.split()[0].upper() for line in lines]
    known = {
        "FROM",
        "RUN",
        "COPY",
        "ENV",
        "WORKDIR",
        "USER",
        "VOLUME",
        "EXPOSE",
        "HEALTHCHECK",
        "ENTRYPOINT",
        "CMD",
        "ARG",
        "LABEL",
    }
    assert set(instructions) <= known
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) >= 2 and all("slim" in stage for stage in stages)
    final = lines[len(lines) - 1 - instructions[::-1].index("FROM") :]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.upper().startswith("VOLUME") for line in final)
    assert any(line.upper().startswith("HEALTHCHECK") and "/healthz" in line for line in final)
    for line in lines:
        if line.upper().startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_compose_runs_the_bot_with_postgres_and_env_example_lists_every_setting() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["bot"]["build"] == "."
    assert services["bot"]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "postgres" in services["db"]["image"]

    from bot.config import Settings

    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z_]+)=", example, re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= documented
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{name.upper()}`" in readme for name in Settings.model_fields)
