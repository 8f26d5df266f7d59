"""The README's quick start on a fresh copy: its install command, with the pip that ships with
the interpreter, then the installed `summit-watch` from another folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.feedserver import FeedServer
from tests.support.harness import Entry, rss

ROOT = Path(__file__).resolve().parent.parent
# a fresh virtualenv and every dependency: minutes on a loaded machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "data", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", ".env",
)  # fmt: skip


def quick_start() -> tuple[list[str], list[str]]:
    """The README's quick-start line, as the commands that install and the command that runs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.+?)\n```", section, re.S)
    assert block, "README's quick start has no sh block"
    commands = [part.strip() for part in block.group(1).split("&&")]
    runs = [i for i, command in enumerate(commands) if "summit-watch" in command]
    assert runs, "README's quick start does not run summit-watch"
    return commands[: runs[0]], commands[runs[0] :]


def installed_env() -> dict[str, str]:
    """The shell's environment without this test run's virtualenv or settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not key.startswith("PIP_")
    }
    venv_bin = str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


@pytest.fixture(scope="module")
def readme_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project installed by the README's own commands; returns the copy."""
    if shutil.which("python3", path=installed_env()["PATH"]) is None:
        pytest.skip("no python3 on PATH")
    install, _ = quick_start()
    copy = tmp_path_factory.mktemp("clone") / "summit-watch"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORE)
    result = subprocess.run(
        ["bash", "-c", " && ".join(install)],
        cwd=copy,
        env=installed_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return copy


def test_readme_install_uses_the_bundled_pip(readme_install: Path) -> None:
    install, run = quick_start()
    assert not any("upgrade" in command for command in install)
    assert "pip install" in " ".join(install)
    pip = subprocess.run(
        [str(readme_install / ".venv/bin/python"), "-m", "pip", "--version"],
        capture_output=True,
        text=True,
    )
    bundled = subprocess.run(
        [shutil.which("python3", path=installed_env()["PATH"]) or "python3", "-m", "ensurepip",
         "--version"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert pip.returncode == 0 and bundled.returncode == 0
    assert pip.stdout.split()[1] == bundled.stdout.split()[1]
    assert shlex.split(run[0])[-2:] == [".venv/bin/summit-watch", "run"]


def test_installed_command_runs_from_another_folder(
    readme_install: Path, feeds: FeedServer, tmp_path: Path
) -> None:
    """The installed package alone (no checkout beside it) helps, checks a feed, and expands
    a query through the aliases it ships with."""
    summit_watch = str(readme_install / ".venv/bin/summit-watch")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**installed_env(), "ALLOW_PRIVATE_NETWORKS": "true"}
    env = {k: v for k, v in env.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}

    helped = subprocess.run(
        [summit_watch, "--help"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert helped.returncode == 0, helped.stderr
    assert "run" in helped.stdout and "check" in helped.stdout

    feeds.set(
        "/world.xml",
        rss(
            [
                Entry("Putin and Modi hold annual summit", "https://a.test/1", "Leaders met."),
                Entry("Cricket: India win the series", "https://a.test/2", "A match."),
            ]
        ),
    )
    checked = subprocess.run(
        [summit_watch, "check", feeds.url("/world.xml"), "--query", "Путин"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr
    records = [json.loads(line) for line in checked.stdout.splitlines()]
    assert [(r["title"], r["matched"]) for r in records] == [
        ("Putin and Modi hold annual summit", True),
        ("Cricket: India win the series", False),
    ]
    assert "Traceback" not in checked.stderr
