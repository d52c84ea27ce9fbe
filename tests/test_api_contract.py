"""The plugin API stays light and its option parsing validates input."""

import subprocess
import sys

import pytest

from console.api import Option, OptionError, is_compatible, resolve_options


def test_importing_the_api_loads_no_ui_and_no_engine():
    code = (
        "import sys, console.api\n"
        "bad = [m for m in ('textual', 'rich', 'numpy', 'console.engine', 'console.tui')"
        " if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_options_parse_strings_and_reject_bad_values():
    opts = (
        Option("pace", "str", "modeled", "release tokens at the modeled rate", choices=("modeled", "fast")),
        Option("concurrency", "int", 64, "sequences per chip", minimum=1, maximum=1024),
        Option("price", "float", 2.35, "USD per chip-hour", minimum=0),
        Option("fp8_attention", "bool", False, "run MLA attention in FP8"),
    )
    got = resolve_options(opts, {"concurrency": "128", "fp8_attention": "yes"})
    assert got == {"pace": "modeled", "concurrency": 128, "price": 2.35, "fp8_attention": True}
    with pytest.raises(OptionError, match="'concurrency' = 0: must be an integer from 1 to 1024"):
        resolve_options(opts, {"concurrency": 0})
    with pytest.raises(OptionError, match="pace.*one of"):
        resolve_options(opts, {"pace": "slow"})
    with pytest.raises(OptionError, match="unknown option.*colour"):
        resolve_options(opts, {"colour": "red"})
    with pytest.raises(OptionError, match="'concurrency' = 'many': must be an integer"):
        resolve_options(opts, {"concurrency": "many"})
    with pytest.raises(OptionError, match="'price' = 'inf': must be a number >= 0"):
        resolve_options(opts, {"price": "inf"})


def test_api_version_compatibility():
    assert is_compatible("1.0", "1.0")
    assert is_compatible("1.0", "1.3")
    assert not is_compatible("1.4", "1.3")
    assert not is_compatible("2.0", "1.9")
    assert not is_compatible("garbage", "1.0")
