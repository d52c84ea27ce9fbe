"""`moe-console plugins`: lists without importing; --load shows hooks, backends, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from test_plugin_isolation import BROKEN_IMPORT

MARKER = """
import pathlib
pathlib.Path({path!r}).write_text("imported")
from console.api import hookimpl
MOE_CONSOLE_API = "1.0"
"""


def _cli(workshop, *args, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MOE_CONSOLE_")}
    environment["PYTHONPATH"] = os.pathsep.join([str(workshop.root), *sys.path[1:]])
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", "from console.cli import main; raise SystemExit(main())", "plugins", *args],
        capture_output=True, text=True, env=environment, timeout=60,
    )


def test_plugins_json_lists_without_importing(workshop, tmp_path):
    marker = tmp_path / "imported.txt"
    workshop.add("marker", MARKER.format(path=str(marker)), version="0.4.2")
    out = _cli(workshop, "--json")
    assert out.returncode == 0, out.stderr
    listed = {p["name"]: p for p in json.loads(out.stdout)["plugins"]}
    assert listed["marker"]["version"] == "0.4.2"
    assert listed["marker"]["distribution"] == "moe-console-marker"
    assert listed["marker"]["status"] == "not loaded"
    assert "local" in listed
    assert not marker.exists()  # the plugin module never ran

    loaded = _cli(workshop, "--json", "--load")
    assert loaded.returncode == 0, loaded.stderr
    assert marker.exists()
    data = json.loads(loaded.stdout)
    assert {p["name"]: p["status"] for p in data["plugins"]}["marker"] == "loaded"


def test_plugins_table_fits_80_columns_and_shows_errors(workshop):
    workshop.add("broken-with-a-rather-long-name", BROKEN_IMPORT, dist="a-distribution-with-a-long-name")
    workshop.add_good("good", backend="good-backend")
    out = _cli(workshop, "--load", env={"MOE_CONSOLE_PLUGINS": "good,broken-with-a-rather-long-name"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = out.stdout
    assert "broken-with-a… failed" in text
    assert "  backends: good-backend" in text
    assert "  hooks: register_backends" in text
    error_lines = [i for i, line in enumerate(lines) if line.startswith("  error: import failed")]
    assert error_lines, text
    joined = " ".join(l.strip() for l in lines[error_lines[0]:error_lines[0] + 3])
    assert "No module named 'no_such_module_for_moe_console_tests'" in joined


def test_plugins_load_json_lists_backends_with_options(workshop):
    workshop.add_good("good", backend="parrot")
    out = _cli(workshop, "--json", "--load", env={"MOE_CONSOLE_PLUGINS": "good"})
    data = json.loads(out.stdout)
    assert data["backends"] == [{
        "name": "parrot", "display_name": "Parrot", "kind": "remote", "plugin": "good",
        "options": [{"name": "words", "type": "int", "default": 3, "help": "how many words to repeat back",
                         "rule": "must be an integer >= 1", "choices": [], "minimum": 1, "maximum": None}],
    }]
