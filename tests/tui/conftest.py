"""Fixtures of the TUI tests: an isolated home, a plugin host made of the real
built-in plugins plus (on request) the test stand-ins of ``standin_plugins/``,
and a factory for the real app with injected dependencies."""

from __future__ import annotations

import importlib.util
import itertools
import os
from importlib import metadata
from pathlib import Path

import pytest

from console.api import Sampling
from console.plugins import PluginHost
from console.settings import Settings

STANDINS = Path(__file__).parent / "standin_plugins"
STANDIN_MODULES = {"scripted": "tui_scripted", "broken": "tui_broken", "blocking": "tui_blocking"}


def standin_distribution(root: Path, names: list[str]) -> metadata.Distribution:
    """A throw-away dist-info registering the stand-in plugins ``names``."""
    info = root / "tui_standins-0.0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tui-standins\nVersion: 0.0.1\n")
    lines = ["[moe_console]"] + [f"{n} = {STANDIN_MODULES[n]}" for n in names]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return metadata.Distribution.at(info)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own MOE_CONSOLE_HOME and no plugin env switches."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(home))
    monkeypatch.delenv("MOE_CONSOLE_PLUGINS", raising=False)
    monkeypatch.delenv("MOE_CONSOLE_DISABLE_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(STANDINS))
    return home


_counter = itertools.count()


@pytest.fixture(scope="session")
def long_options(tmp_path_factory):
    """``local`` backend options for replies that stream for seconds whatever the
    machine: ``ignore_eos`` (run to max tokens) on a random-weights DeepSeek-V3
    checkpoint with the built-in tokenizer, wide enough (hidden 512, 6 layers)
    that the real engine decodes at a few hundred tokens per second. The
    built-in model is so small that on an idle machine a 600-token reply is
    over before a test can press a key."""
    spec = importlib.util.spec_from_file_location(
        "plugins_tiny_model", Path(__file__).parents[1] / "plugins" / "tiny_model.py")
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    folder = tiny.write_tiny_model(tmp_path_factory.mktemp("long_reply_model"), max_position_embeddings=4096,
                                   hidden_size=512, intermediate_size=1024, num_hidden_layers=6,
                                   moe_intermediate_size=512, kv_lora_rank=64, q_lora_rank=128)
    return {"local": {"ignore_eos": True, "model_path": str(folder)}}


@pytest.fixture
def make_host(tmp_path):
    """``make_host("scripted", "broken", builtin=True, config=None)`` -> a fresh
    PluginHost (``config``: the settings' plugin tables, e.g. ``[remote.*]``)."""

    def make(*standins: str, builtin: bool = True, config=None) -> PluginHost:
        dists = [metadata.distribution("moe-console")] if builtin else []
        if standins:
            dists.append(standin_distribution(tmp_path / f"dist{next(_counter)}", list(standins)))
        return PluginHost.discover(allow=None, deny=(), distributions=dists, config=config)

    return make


#: Set to a checkpoint folder to run every ``local`` reply of these tests on
#: it instead of the built-in model (the tests must pass with any weights).
TEST_MODEL_ENV = "MOE_CONSOLE_TUI_TEST_MODEL"


@pytest.fixture
def make_app(tmp_path, make_host):
    """``make_app(backend="local", host=None, **settings)`` -> a ConsoleApp on a
    database under ``tmp_path`` (the same file for every app of one test, so
    a second app sees what the first stored). ``$MOE_CONSOLE_TUI_TEST_MODEL``
    sets the ``local`` backend's ``model_path``. Discovering the plugins again
    (a remote endpoint added in the TUI) gives the built-ins and ``scripted``."""
    from console.tui.app import ConsoleApp

    def make(backend: str = "local", *, host=None, clock=None, problems=(), sampling=None, **fields):
        checkpoint = os.environ.get(TEST_MODEL_ENV)
        if checkpoint:
            options = {k: dict(v) for k, v in fields.get("backend_options", {}).items()}
            options.setdefault("local", {})["model_path"] = checkpoint
            fields["backend_options"] = options
        settings = Settings(default_backend=backend, sampling=sampling or Sampling(max_tokens=48, temperature=0.0,
                                                                                   seed=7), **fields)
        return ConsoleApp(host=host or make_host("scripted", config=settings.plugin_tables),
                          store_path=tmp_path / "conversations.db", settings=settings, settings_problems=problems,
                          clock=clock, discover=lambda s: make_host("scripted", config=s.plugin_tables))

    return make

