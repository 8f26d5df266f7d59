"""The core never reaches into the chat interface: what a poll does can be read, tested and run
without Telegram. Checked on the source, so a new import that breaks the rule fails here."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bot

ROOT = Path(bot.__file__).resolve().parent
CORE = [
    "sources",
    "dedup",
    "match",
    "summarize",
    "storage",
    "render",
    "events",
    "language",
    "pipeline",
]
CORE_FILES = ["domain.py"]
UI = ("telegram", "bot.telegram", "bot.delivery", "apscheduler")


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def core_files() -> list[Path]:
    files = [path for name in CORE for path in (ROOT / name).rglob("*.py")]
    return files + [ROOT / name for name in CORE_FILES if (ROOT / name).exists()]


def test_the_core_imports_no_telegram_and_no_delivery() -> None:
    files = core_files()
    assert len(files) > 40  # the walk found the packages
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imports_of(path)
        if any(name == ui or name.startswith(ui + ".") for ui in UI)
    }
    assert offending == set()


def test_the_check_finds_a_telegram_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from bot.telegram import replies\nimport telegram.ext\n", encoding="utf-8")
    assert imports_of(module) == {"bot.telegram", "telegram.ext"}


def test_the_command_line_checks_feeds_without_loading_the_bot() -> None:
    code = (
        "import sys, bot.cli;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'telegram', 'apscheduler'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def module_graph() -> dict[str, set[str]]:
    """Each module of the bot and the bot modules it imports when it is loaded (imports inside
    functions are left out: they run later)."""
    modules = {
        ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in ROOT.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            block = node.body + node.orelse if isinstance(node, ast.If) else [node]
            for statement in block:
                if (
                    isinstance(statement, ast.ImportFrom)
                    and statement.module
                    and not statement.level
                ):
                    found.add(statement.module)
                    found.update(f"{statement.module}.{alias.name}" for alias in statement.names)
                elif isinstance(statement, ast.Import):
                    found.update(alias.name for alias in statement.names)
        graph[name] = {other for other in found if other in modules and other != name}
    return graph


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle, as the modules along it, or [] when there is none."""
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        for other in sorted(graph[node]):
            if found := walk(other, [*path, node]):
                return found
        done.add(node)
        return []

    for start in sorted(graph):
        if found := walk(start, []):
            return found
    return []


def test_no_import_cycle_among_the_bots_modules() -> None:
    graph = module_graph()
    assert graph.get("bot.pipeline.work")
    assert cycle_in(graph) == []
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
