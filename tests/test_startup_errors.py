"""`summit-watch run` that cannot start: one line saying what to check, a non-zero exit, no
traceback, and never the token, in plain or JSON logs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.test_settings import settings_env

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "987654:AAHrejected-token-of-the-test-xyz"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_bot(
    tmp_path: Path, prefix: tuple[str, ...] = (), **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **settings_env(),
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'summit-watch.db'}",
        "TELEGRAM_API_URL": f"http://127.0.0.1:{closed_port()}",
        **{key.upper(): value for key, value in settings.items()},
    }
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )


def problem_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    output = result.stdout + result.stderr
    assert "Traceback" not in output and TOKEN not in output and TOKEN.split(":")[1] not in output
    return [line for line in result.stderr.splitlines() if line.startswith("summit-watch:")]


def test_unreachable_telegram(tmp_path: Path) -> None:
    result = run_bot(tmp_path)
    assert result.returncode == 1
    [line] = problem_lines(result)
    assert line.startswith("summit-watch: cannot reach the Telegram Bot API at http://127.0.0.1:")
    assert line.endswith("check the network and TELEGRAM_API_URL")


@pytest.mark.parametrize("log_json", ["false", "true"])
def test_rejected_token(fake: FakeTelegram, tmp_path: Path, log_json: str) -> None:
    result = run_bot(tmp_path, telegram_api_url=fake.base_url, log_json=log_json)
    assert result.returncode == 1
    assert problem_lines(result) == [
        "summit-watch: Telegram rejected TELEGRAM_BOT_TOKEN; check the token @BotFather gave you"
    ]


def test_database_server_down(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://summit:secret@127.0.0.1:{closed_port()}/summit"
    result = run_bot(tmp_path, database_url=url)
    assert result.returncode == 1
    [line] = problem_lines(result)
    assert line.startswith("summit-watch: cannot open the database (OperationalError: ")
    assert line.endswith(
        "check DATABASE_URL, that the server is up, and that its folder is writable by this user"
    )


def test_read_only_data_folder() -> None:
    """The container's case: a bind-mounted folder the bot's user (10001) may not write."""
    with tempfile.TemporaryDirectory(prefix="summit-watch-ro-") as folder:
        base = Path(folder)
        base.chmod(0o755)  # pytest's own temp folders are private to their user
        data = base / "data"
        data.mkdir()
        prefix: tuple[str, ...] = ()
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot drop to a user")
            prefix = (setpriv, "--reuid=10001", "--regid=10001", "--clear-groups")
        else:
            data.chmod(0o555)
        result = run_bot(base, prefix)
    assert result.returncode == 1
    [line] = problem_lines(result)
    assert line.startswith("summit-watch: cannot open the database (")
    assert "unable to open database file" in line
