"""What the image and the compose file promise, read from the files themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_image_builds_offline_runs_under_tini_without_installers() -> None:
    text = dockerfile()
    assert not re.search(r"^#\s*syntax=", text, re.M | re.I), "BuildKit would fetch a frontend"
    runtime = text.rsplit("\nFROM ", 1)[1]
    assert re.search(r"apt-get install [^\n]*\btini\b", runtime)
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", runtime, re.M).group(1))  # type: ignore[union-attr]
    assert entrypoint[:2] == ["tini", "--"] and entrypoint[2] == "summit-watch"
    assert re.search(r"pip uninstall -y pip setuptools", runtime)
    assert re.search(r"/opt/venv/bin/pip uninstall -y pip setuptools", text.rsplit("\nFROM ", 1)[0])
    exposed = {
        int(port) for line in re.findall(r"^EXPOSE (.+)$", runtime, re.M) for port in line.split()
    }
    assert exposed == {8080, 8443}
    assert "HEALTH_PORT=8080" in runtime


def test_compose_builds_one_image_for_both_roles_under_an_init() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    bot, worker = services["bot"], services["worker"]
    assert bot["build"] == "." and "build" not in worker
    assert bot["image"] == worker["image"] and worker["pull_policy"] == "never"
    assert bot["init"] is True and worker["init"] is True
