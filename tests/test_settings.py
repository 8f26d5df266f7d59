"""Settings as an operator gives them: `.env.example` copied as shipped (locally, as Docker's
`--env-file` reads it, under compose), list values in every documented spelling, and one
clear line for each setting that is wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:AAE-settings-test-token-xyz"


def settings_env() -> dict[str, str]:
    """The process environment without any variable that names a setting."""
    names = {name.upper() for name in Settings.model_fields}
    return {k: v for k, v in os.environ.items() if k.upper() not in names}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def env_file_lines(path: Path) -> dict[str, str]:
    """`docker run --env-file` and compose's `env_file`: NAME=value lines taken as written,
    comments and blank lines skipped."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def image_env() -> dict[str, str]:
    """The ENV lines of the Dockerfile's runtime stage."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    runtime = text.rsplit("\nFROM ", 1)[1]
    values = {}
    for block in re.findall(r"^ENV (.+?)(?<!\\)$", runtime, re.M | re.S):
        for name, value in re.findall(r'(\w+)=("[^"]*"|\S+)', block):
            values[name] = value.strip('"')
    return values


def with_token(tmp_path: Path) -> Path:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert "\nTELEGRAM_BOT_TOKEN=\n" in text
    env = tmp_path / ".env"
    env.write_text(text.replace("\nTELEGRAM_BOT_TOKEN=\n", f"\nTELEGRAM_BOT_TOKEN={TOKEN}\n"))
    return env


def test_env_example_as_a_local_env_file(clean_env: Path) -> None:
    with_token(clean_env)
    settings = Settings()
    assert settings.telegram_bot_token == TOKEN
    assert settings.admin_ids == []
    assert settings.database_url == Settings.model_fields["database_url"].default
    assert settings.health_port == 0 and settings.webhook_port == 8443
    assert settings.telegram_api_url == "https://api.telegram.org"


def test_env_example_under_docker_run_env_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image's own values (its /data database, its health port) survive the example."""
    image = image_env()
    assert image["DATABASE_URL"].startswith("sqlite:////data/") and image["HEALTH_PORT"]
    for name, value in {**image, **env_file_lines(with_token(clean_env))}.items():
        monkeypatch.setenv(name, value)
    (clean_env / ".env").unlink()  # the container has no .env file, only its environment
    settings = Settings()
    assert settings.database_url == image["DATABASE_URL"]
    assert settings.health_port == int(image["HEALTH_PORT"]) != 0
    assert settings.admin_ids == [] and settings.telegram_bot_token == TOKEN


def test_env_example_under_compose(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    for service in ("bot", "worker"):
        spec = compose["services"][service]
        assert spec["env_file"] in (".env", [".env"])
        values = {**image_env(), **env_file_lines(with_token(clean_env))}
        values.update({k: str(v) for k, v in spec.get("environment", {}).items()})
        with monkeypatch.context() as patch:
            for name, value in values.items():
                patch.setenv(name, value)
            patch.chdir(clean_env / "..")
            settings = Settings()
        assert settings.database_url.startswith("postgresql+psycopg://")
        assert settings.health_port == 8080 and settings.admin_ids == []


@pytest.mark.parametrize(
    ("given", "ids"),
    [("", []), ("  ", []), ("1,2", [1, 2]), ("1, 2", [1, 2]), ("[1,2]", [1, 2]), ("7", [7])],
)
def test_admin_ids_spellings(clean_env: Path, monkeypatch: pytest.MonkeyPatch, given, ids) -> None:
    monkeypatch.setenv("ADMIN_IDS", given)
    assert Settings().admin_ids == ids
    monkeypatch.delenv("ADMIN_IDS")
    (clean_env / ".env").write_text(f"ADMIN_IDS={given}\n")
    assert Settings().admin_ids == ids


def summit_watch(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**settings_env(), "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ADMIN_IDS", "alice,bob", "comma-separated Telegram user ids, e.g. 1,2 (empty for none)"),
        ("POLL_INTERVAL", "0", "a number >= 1"),
        ("FETCH_CONCURRENCY", "many", "a whole number >= 1"),
        ("LOG_LEVEL", "verbose", "DEBUG, INFO, WARNING or ERROR"),
        ("LOG_JSON", "maybe", "true or false"),
        ("HEALTH_PORT", "99999", "a whole number >= 0 and <= 65535"),
    ],
)
def test_an_invalid_setting_is_one_line(tmp_path: Path, name: str, value: str, expected: str):
    result = summit_watch("db", "upgrade", cwd=tmp_path, env={name: value})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"summit-watch: {name}={value}: expected {expected}"]


def test_an_invalid_setting_in_env_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ADMIN_IDS=1,2\nSTORY_WINDOW_DAYS=-1\n")
    result = summit_watch("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "summit-watch: STORY_WINDOW_DAYS=-1: expected a number > 0"
    ]


def test_a_malformed_env_line_is_named_and_the_rest_applies(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    (tmp_path / ".env").write_text(
        f"LOG_LEVEL=INFO\nthis line is not a setting\nDATABASE_URL=sqlite:///{database}\n"
    )
    result = summit_watch("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "summit-watch: .env line 2 is not NAME=value; it was ignored"
    ]
    assert database.exists()
