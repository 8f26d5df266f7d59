"""Settings from the environment or `.env`, and the shipped `sources.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.sources.search import BING_NEWS, GOOGLE_NEWS

USER_AGENT = "SummitWatch/0.1 (+https://github.com/summit-watch/summit-watch; news alert bot)"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite:///data/summit-watch.db"
    poll_interval: float = Field(default=300.0, ge=1.0)
    sources_file: Path = Path("config/sources.toml")
    aliases_file: Path = Path("config/aliases.toml")
    allow_private_networks: bool = False
    admin_ids: list[int] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = False
    health_port: int = 0
    public_url: str = ""  # where HEALTH_PORT is reachable from outside: calendar links
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
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

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

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
