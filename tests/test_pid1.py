"""The bot as a container's only process: PID 1 of its own PID namespace, as the image's user,
with the image's command and environment, against the fake Bot API and a local feed.

Docker itself is not needed: `unshare --pid --fork --mount-proc` gives the same PID 1, and
`setpriv` the image's user. It needs root; elsewhere the tests skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.poll_health import HELPER_DEATHS
from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.harness import Entry, rss, wait_until, write_sources
from tests.support.process import BotProcess
from tests.test_operations import free_port
from tests.test_settings import image_env, settings_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
CHAT = 4242
OLD = Entry("Putin and Modi plan a summit next year", "https://outlet.test/old")
NEWS = Entry("Modi and Putin hold summit in New Delhi", "https://outlet.test/summit")


def dockerfile_runtime() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8").rsplit("\nFROM ", 1)[1]


def image_command() -> tuple[list[str], list[str]]:
    """The image's ENTRYPOINT without the init in front of the bot, and its CMD."""
    runtime = dockerfile_runtime()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", runtime, re.M).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"^CMD (\[.*\])$", runtime, re.M).group(1))  # type: ignore[union-attr]
    if "--" in entrypoint:  # `tini -- summit-watch`: the bot alone is PID 1 here, the harder case
        entrypoint = entrypoint[entrypoint.index("--") + 1 :]
    return entrypoint, command


def image_uid() -> int:
    found = re.search(r"useradd [^\n]*--uid (\d+)", dockerfile_runtime())
    assert found, "the image creates no user with a fixed uid"
    return int(found.group(1))


@pytest.fixture(scope="module")
def namespaces() -> list[str]:
    """The command prefix that makes the next program PID 1 of a new PID namespace, as the
    image's user."""
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if os.geteuid() != 0 or unshare is None or setpriv is None:
        pytest.skip("needs root with unshare and setpriv")
    prefix = [unshare, "--pid", "--fork", "--mount-proc", "--kill-child"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"unshare is not permitted here: {probe.stderr.decode().strip()}")
    uid = image_uid()
    return [*prefix, setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def runs_as(user: list[str], python: str) -> bool:
    """Whether the image's user can run this interpreter, and it start itself again (as
    multiprocessing does)."""
    again = "import subprocess, sys; subprocess.run([sys.executable, '-c', '0'], check=True)"
    try:
        return subprocess.run([*user, python, "-c", again], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.fixture(scope="module")
def installed(namespaces: list[str]) -> Iterator[Path]:
    """This run's installed `summit-watch`, started by an interpreter the image's user may run.

    The image's interpreter is world-readable; a test machine's may live in a private home.
    Then a virtualenv of a readable interpreter of the same version gets this environment's
    packages, and the installed script is copied into it."""
    user = namespaces[namespaces.index(shutil.which("setpriv") or "") :]
    script = Path(sys.executable).parent / image_command()[0][0]
    assert script.exists(), f"{script.name} is not installed beside {sys.executable}"
    if runs_as(user, sys.executable):
        yield script
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    readable = [
        path
        for path in (f"/usr/local/bin/{version}", f"/usr/bin/{version}")
        if Path(path).exists() and runs_as(user, path)
    ]
    if not readable:
        pytest.skip(f"no {version} that uid {image_uid()} may run")
    venv = Path(tempfile.mkdtemp(prefix="summit-watch-venv-"))
    venv.chmod(0o755)
    subprocess.run([readable[0], "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    ours = sysconfig.get_paths()["purelib"]
    (site / "installed.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    copy = venv / "bin" / script.name
    body = script.read_text().split("\n", 1)[1]
    copy.write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
    copy.chmod(0o755)
    yield copy
    shutil.rmtree(venv, ignore_errors=True)


@pytest.fixture
def app_dir() -> Iterator[Path]:
    """Like the image's /app and /data: a folder anyone may enter, /data the bot's own."""
    with tempfile.TemporaryDirectory(prefix="summit-watch-pid1-") as folder:
        base = Path(folder)
        base.chmod(0o755)
        (base / "data").mkdir()
        os.chown(base / "data", image_uid(), image_uid())
        yield base


@pytest.fixture
def bot(
    namespaces: list[str],
    installed: Path,
    app_dir: Path,
    fake: FakeTelegram,
    feeds: FeedServer,
) -> Iterator[tuple[BotProcess, int]]:
    feeds.set("/world.xml", rss([OLD], title="Outlet"))
    sources = write_sources(app_dir / "sources.toml", {"Outlet": feeds.url("/world.xml")})
    entrypoint, command = image_command()
    port = free_port()
    image = image_env()
    env = {
        **settings_env(),
        **{k: v for k, v in image.items() if k != "PATH"},
        "DATABASE_URL": image["DATABASE_URL"].replace("/data/", f"{app_dir}/data/"),
        "HEALTH_PORT": str(port),
        "SOURCES_FILE": str(sources),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.base_url,
        "TELEGRAM_POLL_TIMEOUT": "1",
        "POLL_INTERVAL": "1",
        "ALLOW_PRIVATE_NETWORKS": "true",
        "NEWS_SEARCH": "false",
        "FULL_TEXT": "false",
    }
    launcher = [*namespaces, str(installed), *entrypoint[1:]]
    with BotProcess(
        env, cwd=app_dir, log_path=app_dir / "bot.log", args=command, launcher=launcher
    ) as process:
        yield process, port


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def the_bot(process: BotProcess) -> int:
    """The bot's process id as this test sees it: unshare's one child."""
    [bot] = children(process.pid)
    return bot


def namespace_pid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^NSpid:\s.*?(\d+)$", status, re.M).group(1))  # type: ignore[union-attr]


def helpers(bot_pid: int) -> list[int]:
    """The bot's ingest helper processes (not multiprocessing's resource tracker)."""
    found = []
    for child in children(bot_pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(child)
    return found


async def health(port: int) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{port}/healthz")
    return response.status_code, response.json()


async def watching(process: BotProcess, fake: FakeTelegram, feeds: FeedServer) -> int:
    """Start the bot, watch a topic from a chat, and wait for the source's first poll."""
    process.start()
    await process.wait_running(60)
    bot_pid = the_bot(process)
    assert namespace_pid(bot_pid) == 1, "the bot is not PID 1 of its namespace"
    fake.send_message(CHAT, "/watch Putin Modi summit")
    assert await fake.await_for(lambda f: len(f.sent_to(CHAT)) >= 1, 30), "no reply to /watch"
    assert await wait_until(lambda: feeds.hits("/world.xml") >= 2, 30), "the feed is not polled"
    return bot_pid


async def stop(process: BotProcess, bot_pid: int) -> None:
    """`docker stop`: SIGTERM to PID 1, which stops the bot and so the whole namespace."""
    os.kill(bot_pid, signal.SIGTERM)
    assert await process.wait_exit(30) == 0, process.current_log()


async def test_the_bot_as_pid_1_alerts_and_is_healthy(
    bot: tuple[BotProcess, int], fake: FakeTelegram, feeds: FeedServer
) -> None:
    process, port = bot
    bot_pid = await watching(process, fake, feeds)
    feeds.set("/world.xml", rss([NEWS, OLD], title="Outlet"))
    alerted = await fake.await_for(
        lambda f: any("New Delhi" in (m.text or "") for m in f.sent_to(CHAT)), 60
    )
    assert alerted, "no alert arrived\n" + process.current_log()
    helper = helpers(bot_pid)
    assert len(helper) == 1, "the ingest helper is not running beside the bot"
    status, report = await health(port)
    assert status == 200 and report["polling"] == "ok", report
    assert "ingest helper process died" not in process.current_log()
    await stop(process, bot_pid)


async def test_helper_that_keeps_dying_makes_healthz_fail(
    bot: tuple[BotProcess, int], fake: FakeTelegram, feeds: FeedServer
) -> None:
    process, port = bot
    bot_pid = await watching(process, fake, feeds)
    killed: set[int] = set()

    async def kill_helpers() -> None:
        serial = 0
        while True:
            serial += 1  # a changed feed each time, so that every poll needs the helper
            entry = Entry(f"Story number {serial}", f"https://outlet.test/{serial}")
            feeds.set("/world.xml", rss([entry, OLD], title="Outlet"))
            for helper in helpers(bot_pid):
                os.kill(helper, signal.SIGKILL)
                killed.add(helper)
            await asyncio.sleep(0.1)

    killer = asyncio.create_task(kill_helpers())
    try:
        deadline = asyncio.get_running_loop().time() + 120
        status, report = await health(port)
        while status != 503:
            assert asyncio.get_running_loop().time() < deadline, process.current_log()
            await asyncio.sleep(0.5)
            status, report = await health(port)
    finally:
        killer.cancel()
    assert re.fullmatch(
        r"the ingest helper process died \d+ times in a row", str(report["polling"])
    )
    assert len(killed) >= HELPER_DEATHS
    assert "the ingest helper process died; starting a new one" in process.current_log()
    await stop(process, bot_pid)
