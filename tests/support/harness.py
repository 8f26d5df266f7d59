"""A whole bot against local servers: feeds on 127.0.0.1 and a fake Bot API for the real PTB."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from bot.app import Runtime
from bot.config import Settings
from bot.storage.models import Source
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer


@dataclass
class Entry:
    title: str
    link: str
    description: str = ""
    guid: str | None = None
    published: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=5))


def rss(
    entries: Iterable[Entry], *, title: str = "Test outlet", link: str = "https://example.com/"
) -> str:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>news</description>",
    ]
    for entry in entries:
        parts.append(
            "<item>"
            f"<title>{escape(entry.title)}</title>"
            f"<link>{escape(entry.link)}</link>"
            f"<guid>{escape(entry.guid or entry.link)}</guid>"
            f"<pubDate>{format_datetime(entry.published)}</pubDate>"
            f"<description>{escape(entry.description)}</description>"
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts)


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, step: float = 0.05
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


def write_sources(path: Path, urls: dict[str, str]) -> Path:
    lines = []
    for name, url in urls.items():
        lines += ["[[sources]]", f'url = "{url}"', f'name = "{name}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def make_settings(
    *, fake: FakeTelegram, database_url: str, sources_file: Path, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": fake.token,
        "telegram_api_url": fake.base_url,
        "database_url": database_url,
        "poll_interval": 1.0,
        "sources_file": sources_file,
        "allow_private_networks": True,
        "telegram_poll_timeout": 1.0,
        # Tests reach nothing but 127.0.0.1: no news-search feeds, no article fetches
        # unless a test turns them on with local addresses.
        "news_search": False,
        "full_text": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class BotUnderTest:
    """Starts and restarts a Runtime on one database, and reads its state."""

    def __init__(self, settings: Settings, fake: FakeTelegram, feeds: FeedServer) -> None:
        self.settings = settings
        self.fake = fake
        self.feeds = feeds
        self.runtime: Runtime | None = None

    async def start(self) -> Runtime:
        self.runtime = Runtime(self.settings)
        await self.runtime.start()
        return self.runtime

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self) -> Runtime:
        await self.stop()
        return await self.start()

    @property
    def store(self):  # type: ignore[no-untyped-def]
        assert self.runtime is not None
        return self.runtime.store

    def sources(self) -> list[Source]:
        with self.store.session() as session:
            from sqlmodel import select

            return list(session.exec(select(Source)).all())

    def polls(self) -> int:
        return sum(source.polls for source in self.sources())

    async def wait_polls(
        self, more: int = 2, timeout: float = 20.0, *, names: set[str] | None = None
    ) -> None:
        """Wait until every source (or those named) was polled `more` more times."""
        start = {source.id: source.polls for source in self.sources()}

        def watched() -> list[Source]:
            return [
                s for s in self.sources() if not s.retired and (names is None or s.name in names)
            ]

        ok = await wait_until(
            lambda: all(s.polls >= start.get(s.id, 0) + more for s in watched()), timeout
        )
        assert ok, "sources were not polled in time"

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every update sent so far was fetched and handled."""
        assert self.runtime is not None
        # Telegram drops an update once a later getUpdates confirms it, which PTB sends only
        # after queueing the fetched ones; the queue's join then waits for their handling.
        assert await wait_until(lambda: self.fake.pending_updates == 0, timeout)
        await asyncio.wait_for(self.runtime.application.update_queue.join(), timeout)

    async def command(self, chat_id: int, text: str, **kwargs: object) -> str:
        """Send a command and return the bot's reply text."""
        before = len(self.fake.sent_to(chat_id))
        self.fake.send_message(chat_id, text, **kwargs)  # type: ignore[arg-type]
        ok = await wait_until(lambda: len(self.fake.sent_to(chat_id)) > before, 10)
        assert ok, f"no reply to {text!r}"
        return self.fake.sent_to(chat_id)[before].text
