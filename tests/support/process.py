"""The real bot as a child process (`python -m bot run`), for tests that kill and restart it.

Typical use::

    env = bot_env(fake=fake, database_url=url, sources_file=sources)
    with BotProcess(env, cwd=tmp_path, log_path=tmp_path / "bot.log") as bot:
        await bot.wait_running()
        ...
        bot.kill()             # SIGKILL, then reaped
        bot.start()            # a new process on the same database and log file
        code = await bot.terminate(timeout=10)

Leaving the `with` block stops whatever still runs (SIGTERM, then SIGKILL) and, when the
block raised, prints the whole log so pytest shows it with the failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from bot import defaults
from bot.config import Settings
from tests.support.fake_telegram import FakeTelegram

REPO_ROOT = Path(__file__).resolve().parents[2]
ALIASES_FILE = defaults.ALIASES
RUNNING_LINE = "Summit Watch is running"


def bot_env(
    *, fake: FakeTelegram, database_url: str, sources_file: Path, **overrides: str
) -> dict[str, str]:
    """The environment of a bot run against the fake Bot API and local feeds.

    Inherited variables that name a setting are dropped first, so nothing from the shell
    (a WEBHOOK_URL, say) leaks into the run. `overrides` are setting names, any case.
    """
    settings = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in settings}
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.base_url,
            "DATABASE_URL": database_url,
            "POLL_INTERVAL": "1",
            "SOURCES_FILE": str(sources_file),
            "ALIASES_FILE": str(ALIASES_FILE),
            "ALLOW_PRIVATE_NETWORKS": "true",
            "TELEGRAM_POLL_TIMEOUT": "1",
            "LOG_LEVEL": "INFO",
            "HEALTH_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({key.upper(): value for key, value in overrides.items()})
    return env


class BotProcess:
    """Starts, signals and reaps `python -m bot run`; every run appends to one log file."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        cwd: Path,
        log_path: Path,
        args: Sequence[str] = ("run",),
        launcher: Sequence[str] = (sys.executable, "-m", "bot"),
    ) -> None:
        self.env = env
        self.args = list(args)  # after the launcher, e.g. ["run", "--role", "worker"]
        self.launcher = list(launcher)  # what runs `summit-watch`
        self.cwd = cwd
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0  # where the current run's output begins

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self.alive:
            raise RuntimeError("the bot process is already running")
        self.close_log()
        self.starts += 1
        self._log_file = self.log_path.open("ab")
        self._log_file.write(f"===== run {self.starts} =====\n".encode())
        self._log_file.flush()
        self._log_offset = self._log_file.tell()
        self.proc = subprocess.Popen(
            [*self.launcher, *self.args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the bot process was never started")
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def send_signal(self, sig: signal.Signals) -> None:
        if self.alive:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL and reap: nothing of the process runs after this returns."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if the process still runs after `timeout` seconds."""
        if self.proc is None:
            return None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.proc.poll()

    async def terminate(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait up to `timeout`; the exit code, or None if it had to be killed."""
        if not self.alive:
            return self.returncode
        self.send_signal(signal.SIGTERM)
        code = await self.wait_exit(timeout)
        if code is None:
            self.kill()
        return code

    async def wait_running(self, timeout: float = 30.0) -> None:
        """Wait until the current run logged that it is running; fail if it died first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if RUNNING_LINE in self.current_log():
                return
            if not self.alive:
                raise AssertionError(f"the bot exited with {self.returncode} before running")
            await asyncio.sleep(0.05)
        raise AssertionError(f"the bot did not start within {timeout:.0f}s")

    # -- output --------------------------------------------------------------------------

    def log(self) -> str:
        """Everything every run printed so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def current_log(self) -> str:
        """What the current run printed so far."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().decode("utf-8", errors="replace")

    def close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def cleanup(self) -> None:
        """Stop the process if it still runs (SIGTERM, then SIGKILL) and close the log."""
        if self.alive:
            self.send_signal(signal.SIGTERM)
            try:
                assert self.proc is not None
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.close_log()

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
        if exc_type is not None:
            print(f"----- bot log ({self.log_path}) -----\n{self.log()}", flush=True)
