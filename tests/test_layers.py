"""Who may import whom (docs/ARCHITECTURE.md), checked on the source: every import statement,
at module level or inside a function, of every module of ``console/`` and ``plugins/``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: part -> the parts of this code base it may import (besides itself and third-party libraries)
ALLOWED: dict[str, set[str]] = {
    "console.api": set(),
    "console.engine": set(),
    "console.perf": {"console.api"},
    "console.watch": set(),
    "console.server": {"console", "console.api", "console.engine"},
    "console.enginebench": {"console.engine"},
    # the hardware suite builds the host's modeled backend from an author's spec
    "console.testing": {"console.api", "console.modeled"},
    # bench serve talks the OpenAI dialect through the remote plugin's client
    "console.loadgen": {"console.engine", "console.enginebench", "console.perf", "moe_console_remote"},
    "moe_console_local": {"console.api", "console.engine"},
}
PLUGIN_DEFAULT = {"console.api"}
#: libraries that only the screens may import
SCREEN_LIBRARIES = {"textual", "rich"}
MAY_IMPORT_SCREENS = {"console.tui", "console.cli"}


def _part(module: str) -> str | None:
    pieces = module.split(".")
    if pieces[0] == "console":
        return ".".join(pieces[:2]) if len(pieces) > 1 else "console"
    if pieces[0].startswith("moe_console_"):
        return pieces[0]
    return None


def _modules():
    for base in ("console", "plugins"):
        for path in sorted((ROOT / base).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[1:] if base == "plugins" else parts), path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module


def test_every_part_imports_only_what_the_architecture_allows():
    wrong = []
    for module, path in _modules():
        part = _part(module)
        allowed = ALLOWED.get(part, PLUGIN_DEFAULT if part.startswith("moe_console_") else None)
        for name in _imports(path):
            target = _part(name)
            top = name.split(".")[0]
            if top in SCREEN_LIBRARIES and part not in MAY_IMPORT_SCREENS:
                wrong.append(f"{module} imports {name} (only the screens and the CLI may)")
            if target == "console.tui" and part not in MAY_IMPORT_SCREENS:
                wrong.append(f"{module} imports {name} (nothing below the screens may)")
            if allowed is not None and target is not None and target != part and target not in allowed:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_the_screens_never_reach_into_the_engine():
    wrong = [f"{m} imports {n}" for m, p in _modules() if _part(m) == "console.tui"
             for n in _imports(p) if _part(n) == "console.engine"]
    assert wrong == []
