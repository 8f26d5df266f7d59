"""`summit-watch` as an operator runs it: run without a token, check, extract, db upgrade."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.feedserver import FeedServer
from tests.support.harness import Entry, rss

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = (
    "<html><head><title>Summit</title><meta property='article:published_time' "
    "content='2025-12-05T10:00:00+00:00'></head><body><nav>Home | World</nav>"
    "<div>We use cookies. Accept all cookies</div><article><h1>Putin and Modi meet</h1>"
    "<p>Russian President Vladimir Putin and Indian Prime Minister Narendra Modi met in New "
    "Delhi on Friday for their annual summit.</p><p>They signed agreements on energy and "
    "trade, officials said after the talks.</p></article><footer>© 2025</footer></body></html>"
)


def summit_watch(
    *args: str, env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_run_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    result = summit_watch("run", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "summit-watch: set TELEGRAM_BOT_TOKEN (from @BotFather) in the environment or .env"
    ]


def test_check_prints_items_reports_failures_and_matches(feeds: FeedServer, tmp_path: Path) -> None:
    feeds.set(
        "/good.xml",
        rss(
            [
                Entry(
                    "Putin and Modi hold summit", "https://a.test/1?utm_source=x", "Leaders met."
                ),
                Entry("Cricket: India win", "https://a.test/2", "A match."),
            ],
            title="Good",
        ),
    )
    feeds.set("/page.html", "<html><body>no feed here</body></html>", content_type="text/html")
    urls = [feeds.url("/good.xml"), feeds.url("/missing.xml"), feeds.url("/page.html")]
    env = {"ALLOW_PRIVATE_NETWORKS": "true"}
    result = summit_watch("check", *urls, "--query", "Putin Modi summit", env=env, cwd=tmp_path)
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["title"] for r in records] == ["Putin and Modi hold summit", "Cricket: India win"]
    assert records[0]["url"] == "https://a.test/1" and records[0]["matched"] is True
    assert records[1]["matched"] is False
    assert set(records[0]) == {"source", "title", "url", "published", "summary", "matched"}
    assert records[0]["published"].endswith("+00:00")
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert errors[0].startswith(feeds.url("/missing.xml") + ": ") and "404" in errors[0]
    assert errors[1].startswith(feeds.url("/page.html") + ": ")


def test_check_obeys_allow_private_networks(feeds: FeedServer, tmp_path: Path) -> None:
    feeds.set("/good.xml", rss([Entry("A story about things", "https://a.test/1")]))
    result = summit_watch("check", feeds.url("/good.xml"), cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert "127.0.0.1" in result.stderr and feeds.requests == []
    bad = summit_watch("check", feeds.url("/good.xml"), "--query", "Putin (", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid query" in bad.stderr


def test_extract_from_a_saved_page_and_from_a_url(feeds: FeedServer, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(ARTICLE, encoding="utf-8")
    saved = summit_watch("extract", "--html", str(page), "--url", "https://a.test/s", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    record = json.loads(saved.stdout)
    assert record["title"] == "Putin and Modi meet"
    assert "annual summit" in record["text"] and "cookies" not in record["text"]
    assert record["summary"].startswith("Russian President Vladimir Putin")
    assert record["published"].startswith("2025-12-05T10:00:00")

    feeds.set("/article", ARTICLE, content_type="text/html; charset=utf-8")
    env = {"ALLOW_PRIVATE_NETWORKS": "true"}
    fetched = summit_watch("extract", feeds.url("/article"), env=env, cwd=tmp_path)
    assert fetched.returncode == 0 and json.loads(fetched.stdout)["text"] == record["text"]
    missing = summit_watch("extract", "--html", str(tmp_path / "nope.html"), cwd=tmp_path)
    assert missing.returncode == 1 and "nope.html" in missing.stderr


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = summit_watch("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("database at revision 00")


def test_check_reads_an_address_without_a_scheme_as_addsource_does(
    feeds: FeedServer, tmp_path: Path
) -> None:
    feeds.set("/good.xml", rss([Entry("Putin and Modi hold summit", "https://a.test/1")]))
    bare = feeds.url("/good.xml").removeprefix("http://")
    result = summit_watch("check", bare, cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"https://{bare}: ")
    assert "not a public address" in line and "ALLOW_PRIVATE_NETWORKS=true" in line
