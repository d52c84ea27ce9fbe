"""Prices: dated table, user file overrides, explicit price wins."""

import pytest

from console.perf import PerfDataError, Price, load_price_file, resolve_price, table_price, user_price_path


def test_shipped_table_is_dated_and_sourced():
    h100 = table_price("h100")
    assert h100.usd_per_hour == 2.35 and h100.date == "2026-03" and "SemiAnalysis" in h100.source
    a950 = table_price("ascend950dt")
    assert a950.kind == "assumption" and a950.usd_per_hour == pytest.approx(0.75 * 2.35)


def test_precedence_explicit_user_plugin_table(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text('[h100]\nusd_per_hour = 1.9\ndate = "2026-06-01"\nsource = "our contract"\n')
    user = load_price_file(path)
    plugin = Price(2.5, "2026-01", "plugin", "spec", "plugin")
    assert resolve_price("h100", explicit=3.0, user=user, plugin=plugin).usd_per_hour == 3.0
    got = resolve_price("h100", user=user, plugin=plugin)
    assert (got.usd_per_hour, got.origin) == (1.9, f"user file {path}")
    assert resolve_price("h100", plugin=plugin).usd_per_hour == 2.5
    assert resolve_price("h100").origin == "table"
    assert resolve_price("unknown-chip") is None


def test_user_price_path_env_then_config_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("MOE_CONSOLE_PRICES", raising=False)
    assert user_price_path(tmp_path) is None
    (tmp_path / "prices.toml").write_text("")
    assert user_price_path(tmp_path) == tmp_path / "prices.toml"
    monkeypatch.setenv("MOE_CONSOLE_PRICES", str(tmp_path / "other.toml"))
    assert user_price_path(tmp_path) == tmp_path / "other.toml"


@pytest.mark.parametrize("text, message", [
    ("[h100]\nusd_per_hour = -1\n", "must be a number >= 0"),
    ("[h100]\ndate = 'x'\n", "expected a table with usd_per_hour"),
    ("[h100\n", "prices.toml"),
])
def test_bad_price_file_is_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(PerfDataError, match=message) as info:
        load_price_file(path)
    assert "\n" not in str(info.value)


def test_a_non_utf8_prices_file_is_one_line_through_the_cli(tmp_path):
    import os
    import subprocess
    import sys

    bad = tmp_path / "prices.toml"
    bad.write_bytes(b"\xff\xfe[h100]\nusd_per_hour = 2\n")
    env = {**os.environ, "MOE_CONSOLE_PRICES": str(bad), "MOE_CONSOLE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "console.cli", "compare"], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"moe-console: error: {bad}: not UTF-8 text (byte 0xff at offset 0); "
                                   "TOML files must be UTF-8")
