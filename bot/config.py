"""Settings from the environment or `.env`, the shipped `sources.toml`, and which data files
(alias sets, starter topics) are in use."""

from __future__ import annotations

import json
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot import defaults
from bot.match import Aliases, load_aliases
from bot.sources.search import BING_NEWS, GOOGLE_NEWS

log = logging.getLogger(__name__)

USER_AGENT = "SummitWatch/0.1 (+https://github.com/summit-watch/summit-watch; news alert bot)"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite:///data/summit-watch.db"
    poll_interval: float = Field(default=300.0, ge=1.0)
    sources_file: Path = Path("config/sources.toml")
    # Unset: config/<name> in the working directory if it is there, else the shipped file.
    aliases_file: Path | None = None
    starter_topics_file: Path | None = None
    allow_private_networks: bool = False
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    health_port: int = Field(default=0, ge=0, le=65535)
    # Where HEALTH_PORT is reachable from outside: calendar links, WebSub callbacks (push).
    public_url: str = ""
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    retention_days: int = Field(default=30, ge=1)
    fetch_timeout: float = Field(default=20.0, gt=0)
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    fetch_concurrency: int = Field(default=50, ge=1)
    fetch_per_host: int = Field(default=2, ge=1)
    max_topics_per_chat: int = Field(default=50, ge=1)
    max_sources_per_chat: int = Field(default=50, ge=1)
    poll_min_interval: float = Field(default=120.0, ge=1.0)
    poll_max_interval: float = Field(default=6 * 3600.0, ge=1.0)
    news_search: bool = True
    news_search_google_url: str = GOOGLE_NEWS
    news_search_bing_url: str = BING_NEWS
    full_text: bool = True
    full_text_per_poll: int = Field(default=5, ge=0)
    story_window_days: float = Field(default=7.0, gt=0)
    # Read and store fetched feeds in a helper process, so they have a core of their own.
    ingest_process: bool = True
    story_edit_interval: float = Field(default=180.0, ge=0)
    telegram_poll_timeout: float = Field(default=30.0, ge=0)
    # Scaled mode (`summit-watch run --role worker`): refresh jobs one worker runs at once,
    # and how often it proves it is alive; a worker silent for `worker_stalled_after` seconds
    # is taken for dead and its jobs are run again by the others.
    worker_concurrency: int = Field(default=20, ge=1)
    worker_heartbeat: float = Field(default=10.0, gt=0)
    worker_stalled_after: float = Field(default=30.0, gt=0)
    # Alerts in other languages, translated by a LibreTranslate-compatible service (off when
    # empty): how long an alert may wait for its translation, and calls per second at most.
    translate_url: str = ""
    translate_api_key: str = ""
    translate_wait: float = Field(default=4.0, gt=0, le=60)
    translate_rate: float = Field(default=2.0, gt=0)
    push_safety_interval: float = Field(default=3600.0, ge=1.0)
    websub_verify_timeout: float = Field(default=600.0, gt=0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """`1,2`, `1, 2`, `1;2` and `[1,2]` all give [1, 2]; empty gives []."""
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    return text
            return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("aliases_file", "starter_topics_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def telegram_base_url(self) -> str:
        return self.telegram_api_url.rstrip("/") + "/bot"

    @property
    def telegram_file_url(self) -> str:
        return self.telegram_api_url.rstrip("/") + "/file/bot"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    url: str
    name: str | None = None
    interval: float | None = None


class ConfigError(ValueError):
    pass


def data_file(packaged: Path, configured: Path | None, setting: str) -> Path:
    """The file named by a setting, else config/<name> in the working directory, else the one
    shipped with the bot. A named file that is missing is logged once and the shipped one used."""
    if configured is not None:
        if configured.is_file():
            return configured
        log.warning("%s=%s: no such file; using the one shipped with the bot", setting, configured)
        return packaged
    local = Path("config") / packaged.name
    return local if local.is_file() else packaged


def aliases_path(settings: Settings) -> Path:
    return data_file(defaults.ALIASES, settings.aliases_file, "ALIASES_FILE")


def starter_topics_path(settings: Settings) -> Path:
    """STARTER_TOPICS_FILE, else `starter_topics.toml` beside SOURCES_FILE or in config/,
    else the shipped file."""
    if settings.starter_topics_file is None:
        beside = settings.sources_file.parent / defaults.STARTER_TOPICS.name
        if beside.is_file():
            return beside
    return data_file(defaults.STARTER_TOPICS, settings.starter_topics_file, "STARTER_TOPICS_FILE")


def load_sources(path: Path) -> list[SourceSpec]:
    """Read `[[sources]]` tables; a missing file means no global sources."""
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    specs: list[SourceSpec] = []
    for index, table in enumerate(data.get("sources", [])):
        url = table.get("url") if isinstance(table, dict) else None
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{path}: sources[{index}] needs a url")
        name = table.get("name")
        interval = table.get("interval")
        if interval is not None and (not isinstance(interval, int | float) or interval < 1):
            raise ConfigError(f"{path}: sources[{index}].interval must be a number of seconds >= 1")
        specs.append(
            SourceSpec(
                url=url.strip(),
                name=str(name) if name else None,
                interval=float(interval) if interval is not None else None,
            )
        )
    return specs


def load_configured_aliases(settings: Settings) -> tuple[Path, Aliases]:
    """The alias sets in use and the file they came from; a file that does not parse is a
    ConfigError naming it."""
    path = aliases_path(settings)
    try:
        return path, load_aliases(path)
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"aliases file {path}: {exc}") from exc
