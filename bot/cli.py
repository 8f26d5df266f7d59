"""`summit-watch`: run the bot, check sources, extract articles, upgrade the database."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, load_configured_aliases
from bot.core import make_fetcher, run_until_signal
from bot.domain import Item
from bot.match import MatchDoc, Query, QueryError, match, parse_query
from bot.sources.extract import extract_article
from bot.sources.fetch import Fetcher, FetchError
from bot.sources.netguard import with_scheme
from bot.sources.normalize import normalize_entry
from bot.sources.probe import fetch_feed
from bot.startup import (
    SETTINGS_EXIT,
    START_EXIT,
    StartupError,
    check_database,
    load_settings,
    one_line,
)

log = logging.getLogger(__name__)

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


def iso(item: Item) -> str | None:
    return item.published.isoformat() if item.published else None


PRIVATE_HINT = " (ALLOW_PRIVATE_NETWORKS=true allows local and private addresses)"


async def check_source(fetcher: Fetcher, url: str) -> list[Item]:
    """Fetch one source and return its items, following a page's feed link if it has one."""
    _, parsed = await fetch_feed(fetcher, url)
    if not parsed.entries and (parsed.error or not parsed.is_feed):
        raise ValueError(parsed.error or "not a feed")
    name = parsed.title or ""
    return [normalize_entry(entry, source_url=url, source_name=name) for entry in parsed.entries]


async def run_check(urls: Sequence[str], query: Query | None, settings: Settings) -> int:
    failed = 0
    async with make_fetcher(settings) as fetcher:
        urls = [with_scheme(url) for url in urls]
        tasks = [asyncio.create_task(check_source(fetcher, url)) for url in urls]
        for url, task in zip(urls, tasks, strict=True):
            try:
                items = await task
            except (FetchError, ValueError) as exc:
                failed += 1
                hint = PRIVATE_HINT if isinstance(exc, FetchError) and exc.kind == "blocked" else ""
                print(f"{url}: {exc}{hint}", file=sys.stderr, flush=True)
                continue
            except Exception as exc:  # a hostile source must not end the whole run
                failed += 1
                print(f"{url}: unexpected error: {type(exc).__name__}", file=sys.stderr, flush=True)
                continue
            if not items:
                # A valid feed with nothing in it: say so, but it is not a failure.
                print(f"{url}: no items", file=sys.stderr, flush=True)
                continue
            for item in items:
                record: dict[str, Any] = {
                    "source": url,
                    "title": item.title,
                    "url": item.url,
                    "published": iso(item),
                    "summary": item.summary,
                }
                if query is not None:
                    doc = MatchDoc(item.title, item.text, item.site, item.language)
                    record["matched"] = match(query, doc) is not None
                print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def article_record(html: bytes, url: str | None) -> dict[str, Any]:
    article = extract_article(html, url=url)
    return {
        "url": url,
        "title": article.title,
        "text": article.text,
        "summary": article.summary,
        "published": article.published.isoformat() if article.published else None,
    }


async def run_extract(urls: Sequence[str], settings: Settings) -> int:
    failed = 0
    async with make_fetcher(settings) as fetcher:
        for url in urls:
            try:
                result = await fetcher.fetch(url, accept=HTML_ACCEPT)
            except FetchError as exc:
                failed += 1
                print(f"{url}: {exc}", file=sys.stderr, flush=True)
                continue
            record = await asyncio.to_thread(article_record, result.body, result.final_url)
            print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def extract_files(paths: Sequence[Path], url: str | None) -> int:
    failed = 0
    for path in paths:
        try:
            html = path.read_bytes()
        except OSError as exc:
            failed += 1
            print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
            continue
        print(json.dumps(article_record(html, url), ensure_ascii=False), flush=True)
    return 1 if failed else 0


ROLES = ("all", "bot", "worker")


def run_bot(settings: Settings, role: str = "all") -> int:
    from bot.app import Runtime
    from bot.logs import setup_logging
    from bot.storage.db import is_sqlite

    if role != "all" and is_sqlite(settings.database_url):
        print(
            f"summit-watch: --role {role} needs PostgreSQL (DATABASE_URL=postgresql+psycopg://…); "
            "on SQLite run one process (--role all)",
            file=sys.stderr,
        )
        return 2
    if role == "worker":
        return run_worker(settings)
    if not settings.telegram_bot_token:
        print(
            "summit-watch: set TELEGRAM_BOT_TOKEN (from @BotFather) in the environment or .env",
            file=sys.stderr,
        )
        return 2
    setup_logging(
        settings.log_level, json_lines=settings.log_json, secrets=[settings.telegram_bot_token]
    )

    async def main() -> None:
        await run_until_signal(Runtime(settings, poll_locally=role == "all"))

    return run_reporting_faults(main, settings)


def run_reporting_faults(main: Callable[[], Coroutine[Any, Any, None]], settings: Settings) -> int:
    """Run a role; a fault the operator must fix (settings, database, Telegram) is one line on
    stderr, anything else one logged error with its traceback, the token masked in both."""
    try:
        check_database(settings.database_url)
        asyncio.run(main())
    except Exception as exc:
        line = one_line(exc, settings)
        if line is None:
            log.critical("stopped by an unexpected error", exc_info=exc)
        else:
            print(line, file=sys.stderr, flush=True)
        return START_EXIT
    return 0


def run_worker(settings: Settings) -> int:
    from bot.logs import setup_logging
    from bot.scale.worker import WorkerRuntime

    secrets = [settings.telegram_bot_token] if settings.telegram_bot_token else []
    setup_logging(settings.log_level, json_lines=settings.log_json, secrets=secrets)

    async def main() -> None:
        await run_until_signal(WorkerRuntime(settings))

    return run_reporting_faults(main, settings)


def upgrade_db(settings: Settings) -> int:
    from bot.storage.db import make_engine
    from bot.storage.migrate import current_revision, upgrade_database

    engine = make_engine(settings.database_url)
    upgrade_database(engine)
    print(f"database at revision {current_revision(engine)}")
    if engine.dialect.name == "postgresql":
        from bot.scale.queue import ensure_queue_schema

        if ensure_queue_schema(engine):
            print("job queue tables created (for --role worker)")
    engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="summit-watch", description="News topic alerts for Telegram."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run the bot (long polling, or a webhook when WEBHOOK_URL is set)"
    )
    run.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="all: one process does everything (default); on PostgreSQL, bot: Telegram and "
        "sending only (one of it), worker: source refreshes (any number)",
    )
    check = commands.add_parser(
        "check", help="fetch sources once and print their items as JSON lines"
    )
    check.add_argument("urls", nargs="+", metavar="URL")
    check.add_argument("--query", help="also report whether each item matches this topic query")
    extract = commands.add_parser("extract", help="extract the main text of article pages as JSON")
    extract.add_argument("urls", nargs="*", metavar="URL")
    extract.add_argument("--html", nargs="+", type=Path, metavar="FILE", help="read saved pages")
    extract.add_argument("--url", help="the address the saved page came from")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return SETTINGS_EXIT
    try:
        return run_command(args, settings)
    except (StartupError, ConfigError) as exc:
        print(one_line(exc, settings), file=sys.stderr)
        return SETTINGS_EXIT


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        return run_bot(settings, args.role)
    if args.command in ("check", "extract"):
        # Each failure gets its own "<url>: <reason>" line; log records would only repeat it.
        logging.getLogger().addHandler(logging.NullHandler())
    if args.command == "check":
        query = None
        if args.query is not None:
            _, aliases = load_configured_aliases(settings)
            try:
                query = parse_query(args.query, aliases)
            except QueryError as exc:
                print(f"summit-watch: invalid query: {exc}", file=sys.stderr)
                return 2
        return asyncio.run(run_check(args.urls, query, settings))
    if args.command == "extract":
        if args.html:
            return extract_files(args.html, args.url)
        if not args.urls:
            print("summit-watch: give URLs or --html FILE", file=sys.stderr)
            return 2
        return asyncio.run(run_extract(args.urls, settings))
    if args.command == "db":
        return upgrade_db(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
