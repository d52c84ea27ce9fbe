"""The example plugin packages, pip-installed from their folders as an author would:
discovered by entry point, listed by `moe-console plugins`, usable in `generate
--backend` and from the TUI's backend picker, and gone once removed.

They are installed with ``pip install --no-deps --no-build-isolation --target``
(offline, seconds) into a temporary folder put on ``PYTHONPATH``; the console is
the one of this test environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from console.plugins import PluginHost

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PACKAGES = {"echo": "moe-console-echo", "mi325x": "moe-console-mi325x", "replay": "moe-console-replay"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The three examples installed by pip into one target folder."""
    work = tmp_path_factory.mktemp("examples")
    sources = []
    for folder in PACKAGES.values():  # pip builds in the source tree: build from copies
        shutil.copytree(EXAMPLES / folder, work / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
        sources.append(str(work / folder))
    target = work / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), *sources],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return target


def cli(*args: str, site: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "MOE_CONSOLE_HOME": str(home)}
    for var in ("MOE_CONSOLE_PLUGINS", "MOE_CONSOLE_DISABLE_PLUGINS"):
        env.pop(var, None)
    return subprocess.run([sys.executable, "-c", "from console.cli import main; raise SystemExit(main())", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_installed_examples_are_discovered_by_entry_point_before_import(site):
    dists = list(metadata.distributions(path=[str(site)]))
    assert sorted(d.metadata["Name"] for d in dists) == sorted(PACKAGES.values())
    host = PluginHost.discover(distributions=dists)
    records = {r.name: r for r in host.plugins}
    assert set(records) == set(PACKAGES)
    for name, record in records.items():
        assert (record.status, record.distribution, record.version) == ("not loaded", PACKAGES[name], "0.1.0")
        assert (record.api_version, record.api_source) == ("1.0", "metadata")  # read without importing


def test_listed_by_moe_console_plugins(site, tmp_path):
    out = cli("plugins", "--load", "--json", site=site, home=tmp_path)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    plugins = {p["name"]: p for p in payload["plugins"]}
    for name in PACKAGES:
        assert plugins[name]["status"] == "loaded" and plugins[name]["api_version"] == "1.0", plugins[name]
    backends = {b["name"]: b for b in payload["backends"]}
    assert backends["mi325x"]["kind"] == "modeled" and backends["replay"]["plugin"] == "replay"
    assert [o["name"] for o in backends["replay"]["options"]] == ["trace", "speed"]
    assert {"local", "h100"} <= set(backends)  # the built-ins are still there


def test_usable_in_generate_backend(site, tmp_path):
    out = cli("generate", "hi", "--backend", "replay", "--opt", "speed=50", "--json", site=site, home=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    trace = [json.loads(line) for line in
             (EXAMPLES / "moe-console-replay/src/moe_console_replay/traces/builtin-rivers.jsonl").read_text().splitlines()]
    assert [e["id"] for e in lines if e["event"] == "token"] == [e["id"] for e in trace if e["event"] == "token"][:128]
    assert lines[-1]["timing_label"].startswith("measured (replay of builtin-rivers.jsonl")

    out = cli("generate", "hi", "--backend", "mi325x", "--opt", "pace=fast", "--max-tokens", "4", "--json",
              site=site, home=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["timing_source"] == "modeled" and "AMD Instinct MI325X" in summary["timing_label"]

    out = cli("generate", "hi", "--backend", "replay", "--opt", "speed=0", site=site, home=tmp_path)
    assert (out.returncode, out.stderr) == (2, "moe-console: error: option 'speed' = 0.0: must be a number "
                                               "from 0.1 to 100\n")


def test_removed_packages_are_gone(site, tmp_path):
    gone = site.parent / "removed"
    shutil.copytree(site, gone)
    for dist in metadata.distributions(path=[str(gone)]):  # what `pip uninstall` deletes: the RECORD's files
        for file in dist.files or ():
            path = Path(dist.locate_file(file))
            if path.is_file():
                path.unlink()
    out = cli("plugins", "--json", site=gone, home=tmp_path)
    assert out.returncode == 0, out.stderr
    names = {p["name"] for p in json.loads(out.stdout)["plugins"]}
    assert not names & set(PACKAGES) and "local" in names


async def until(pilot, predicate, what: str, timeout_s: float = 60.0) -> None:
    """Wait on the app's state (not a deadline close to the run time)."""
    import time

    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await pilot.pause(0.02)


async def test_in_the_tui_picker_and_usable_from_it(site, tmp_path, monkeypatch):
    from textual.widgets import DataTable

    from console.api import Sampling
    from console.settings import Settings
    from console.tui.app import ConsoleApp
    from console.tui.screens.backends import BackendPicker

    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path / "home"))
    monkeypatch.syspath_prepend(str(site))
    dists = [*metadata.distributions(path=[str(site)])]
    host = PluginHost.discover(allow=[*PACKAGES, "local"], deny=[], distributions=dists + [
        d for d in metadata.distributions() if d.metadata["Name"] == "moe-console"])
    settings = Settings(default_backend="local", sampling=Sampling(max_tokens=6, temperature=0.0),
                        backend_options={"replay": {"speed": 50.0}})
    app = ConsoleApp(host=host, store_path=tmp_path / "c.db", settings=settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, BackendPicker), "the picker")
        table = app.screen.query_one(DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert {"echo", "mi325x", "replay", "local"} <= set(names)
        table.move_cursor(row=names.index("replay"))
        await pilot.press("enter")
        await until(pilot, lambda: app.session.backend_name == "replay", "the switch")
        await pilot.press(*"hello", "enter")
        await until(pilot, lambda: app.session.conversation is not None
                    and app.session.conversation.messages[-1].status == "complete", "the reply")
        reply = app.session.conversation.messages[-1]
    assert reply.backend == "replay" and reply.content.startswith("Here's the")


def test_the_hardware_example_is_a_compare_column(site, tmp_path):
    out = cli("compare", "--json", site=site, home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "mi325x" in json.loads(out.stdout)["backends"]
    table = cli("compare", site=site, home=tmp_path).stdout
    assert "AMD Instinct MI325X" in table
