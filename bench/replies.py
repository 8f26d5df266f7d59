"""Replies under flood limits: bursts of commands against a fake Bot API that keeps Telegram's
limits (30 messages a second overall, one a second per private chat, 20 a minute per group),
answers 429 with retry_after above them, and counts every send made during such a penalty.

The whole bot (`bot.app.Runtime`) runs against it twice in the same run: once as it is, and
once as a baseline with the previous way out (PTB's `AIORateLimiter(max_retries=0)` and one
update at a time). For each scenario it prints the replies expected and received, the sends
made during a penalty, the 429s, and the seconds from the first command to the last reply.

Run from the repository root::

    python -m bench.replies                 # all scenarios, ~2 minutes
    python -m bench.replies --only crowd    # one scenario
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.ext import AIORateLimiter, ApplicationBuilder

import bot.app
from bot.app import Runtime
from tests.support.fake_telegram import FakeTelegram
from tests.support.harness import make_settings, write_sources

QUIET_SECONDS = 6.0  # no new reply for this long: the rest was lost
MAX_SECONDS = 120.0


@dataclass(frozen=True)
class Scenario:
    name: str
    about: str
    expected: int  # replies a user should see
    send: Callable[[FakeTelegram], Awaitable[list[int]]]  # sends commands, returns the chats


async def spaced(fake: FakeTelegram, chat_id: int, commands: list[str], gap: float) -> list[int]:
    for command in commands:
        fake.send_message(chat_id, command)
        await asyncio.sleep(gap)
    return [chat_id]


async def crowd(fake: FakeTelegram) -> list[int]:
    chats = list(range(7001, 7051))
    for command in ("/watch Putin Modi summit", "/help", "/list", "/sources"):
        for chat_id in chats:
            fake.send_message(chat_id, command)
    return chats


BURST = ["/watch Putin Modi summit", "/watch India Russia oil", "/list", "/help", "/sources"]
BURST += ["/status", "/recent", "/preview Putin", "/unwatch India Russia oil", "/start"]
SCENARIOS = [
    Scenario("seven", "7 commands 0.5 s apart", 7, lambda f: spaced(f, 6001, BURST[:7], 0.5)),
    Scenario("burst", "10 commands in 2 s, one chat", 10, lambda f: spaced(f, 6002, BURST, 0.2)),
    Scenario("crowd", "4 commands each from 50 chats at once", 200, crowd),
    Scenario(
        "flood",
        "25 commands 0.05 s apart (20 replies + 1 notice)",
        21,
        lambda f: spaced(f, 6003, ["/help"] * 25, 0.05),
    ),
]


def previous_application(settings: Any, limiter: Any = None) -> Any:
    """The way out before the flood control: replies dropped on the first 429."""
    return (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_file_url)
        .rate_limiter(AIORateLimiter(max_retries=0))
        .connection_pool_size(64)
        .build()
    )


@contextlib.contextmanager
def baseline_application(enabled: bool) -> Iterator[None]:
    current = bot.app.build_application
    if enabled:
        bot.app.build_application = previous_application  # type: ignore[assignment]
    try:
        yield
    finally:
        bot.app.build_application = current


@dataclass
class Outcome:
    replies: int
    during_penalty: int
    refused_429: int
    seconds: float


async def run(scenario: Scenario, *, baseline: bool) -> Outcome:
    with (
        FakeTelegram(rate_limit=(30, 1.0), enforce_chat_limits=True) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        settings = make_settings(
            fake=fake,
            database_url=f"sqlite:///{tmp}/bench.db",
            sources_file=write_sources(Path(tmp) / "sources.toml", {}),
        )
        with baseline_application(baseline):
            runtime = Runtime(settings)
        await runtime.start()
        try:
            started = time.monotonic()
            chats = await scenario.send(fake)

            def replies() -> list[float]:
                return [m.time for chat in chats for m in fake.sent_to(chat)]

            seen, last_change = -1, time.monotonic()
            while time.monotonic() - started < MAX_SECONDS:
                count = len(replies())
                if count != seen:
                    seen, last_change = count, time.monotonic()
                if count >= scenario.expected and time.monotonic() - last_change > 1.0:
                    break
                if time.monotonic() - last_change > QUIET_SECONDS:
                    break
                await asyncio.sleep(0.1)
            times = replies()
            return Outcome(
                replies=len(times),
                during_penalty=fake.sends_during_penalty,
                refused_429=fake.count_429,
                seconds=(max(times) - started) if times else float("nan"),
            )
        finally:
            await runtime.stop()


async def main_async(names: set[str] | None) -> None:
    rows = []
    for scenario in SCENARIOS:
        if names and scenario.name not in names:
            continue
        before = await run(scenario, baseline=True)
        after = await run(scenario, baseline=False)
        rows.append((scenario, before, after))
    print(
        f"{'scenario':<44} {'replies before':>15} {'replies after':>14} {'ratio':>6} "
        f"{'in penalty b/a':>15} {'429s b/a':>9} {'last reply s b/a':>17}"
    )
    for scenario, before, after in rows:
        ratio = after.replies / before.replies if before.replies else float("inf")
        print(
            f"{scenario.about:<44} {before.replies:>9}/{scenario.expected:<5} "
            f"{after.replies:>8}/{scenario.expected:<5} {ratio:>6.2f} "
            f"{before.during_penalty:>7}/{after.during_penalty:<7} "
            f"{before.refused_429:>4}/{after.refused_429:<4} "
            f"{before.seconds:>8.1f}/{after.seconds:<8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=[s.name for s in SCENARIOS])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main_async(set(args.only) if args.only else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
