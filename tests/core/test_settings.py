"""Settings: real TOML files, malformed ones included; paths; backend options."""

from __future__ import annotations

import re

import pytest

from pathlib import Path

from console.api import Option, Sampling
from console.settings import (
    Settings, config_dir, data_dir, load_settings, settings_path,
    validate_backend_options,
)

GOOD = """\
default_backend = "h100"
theme = "nord"
system_prompt = "Be brief."

[sampling]
max_tokens = 64
temperature = 0
stop = ["###"]
seed = 7

[keymap]
newline = "ctrl+j"

[backends.h100]
concurrency = 64
price_usd_per_chip_hour = 2.49
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults_without_problems(home):
    settings, problems = load_settings()
    assert settings == Settings()
    assert problems == []
    assert settings.sampling == Sampling()


def test_good_file_is_read(home):
    write(settings_path(), GOOD)
    settings, problems = load_settings()
    assert problems == []
    assert settings.default_backend == "h100"
    assert settings.theme == "nord"
    assert settings.system_prompt == "Be brief."
    assert settings.sampling == Sampling(max_tokens=64, temperature=0.0, stop=("###",), seed=7)
    assert settings.keymap == {"newline": "ctrl+j"}
    assert settings.options_for("h100") == {"concurrency": 64, "price_usd_per_chip_hour": 2.49}
    assert settings.options_for("local") == {}


def test_malformed_file_reports_line_and_column_and_uses_defaults(tmp_path):
    path = write(tmp_path / "settings.toml", 'theme = "nord"\n[sampling]\ntemperature 0.5\n')
    settings, problems = load_settings(path)
    assert settings == Settings()
    assert len(problems) == 1
    # line 3, column 13: where "=" was expected after the key "temperature "
    assert f"{path}:3:13: Expected '=' after a key" in problems[0]
    assert problems[0].endswith("using defaults")


def test_unterminated_string_reports_position(tmp_path):
    path = write(tmp_path / "settings.toml", 'a = 1\nsystem_prompt = "open\n')
    _, problems = load_settings(path)
    assert problems and f"{path}:2:" in problems[0]
    assert "\n" not in problems[0]


def test_unknown_keys_and_wrong_types_are_reported_not_fatal(tmp_path):
    path = write(tmp_path / "settings.toml", (
        'default_backend = 5\n'          # line 1: wrong type
        'colour = "red"\n'               # line 2: unknown key
        '[sampling]\n'
        'temperature = "hot"\n'          # line 4: wrong type
        '  max_tokens = 0\n'             # line 5: out of range, indented
        'top_p = 0.9\n'                  # line 6: fine
        'topk = 3\n'                     # line 7: unknown
        '[keymap]\n'
        'newline = 3\n'                  # line 9: not a key
        'send = "enter"\n'
    ))
    settings, problems = load_settings(path)
    assert settings.default_backend == "local"
    assert settings.sampling == Sampling(top_p=0.9)
    assert settings.keymap == {"send": "enter"}
    text = "\n".join(problems)
    assert f"{path}:1:1: default_backend must be a string, got an integer" in text
    assert f"{path}:2:1: unknown setting 'colour'" in text
    assert (f"{path}:4:1: sampling.temperature = 'hot': must be a finite number >= 0 (0 = greedy); "
            "using the default 0.7") in text
    assert f"{path}:5:3: sampling.max_tokens = 0: must be at least 1; using the default 256" in text
    assert f"{path}:7:1: unknown sampling key 'topk'" in text
    assert f"{path}:9:1: keymap.newline must be a key" in text
    assert len(problems) == 6


def test_unknown_binding_id_reported_when_ids_are_known(tmp_path):
    path = write(tmp_path / "settings.toml", '[keymap]\nnewline = "ctrl+j"\nfly = "f9"\n')
    settings, problems = load_settings(path, binding_ids=["send", "newline"])
    assert settings.keymap == {"newline": "ctrl+j"}
    assert problems == [f"{path}:3:1: unknown binding id 'fly' (known: send, newline); ignored"]
    settings, problems = load_settings(path)
    assert settings.keymap == {"newline": "ctrl+j", "fly": "f9"} and problems == []


def test_backend_table_that_is_not_a_table(tmp_path):
    path = write(tmp_path / "settings.toml", '[backends]\nh100 = 3\n[backends.local]\nthreads = 2\n')
    settings, problems = load_settings(path)
    assert settings.backend_options == {"local": {"threads": 2}}
    assert problems == [f"{path}:2:1: backends.h100 must be a table of options ([backends.h100]); ignored"]


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes(b"theme = \"\xff\xfe\"\n")
    settings, problems = load_settings(path)
    assert settings == Settings()
    assert len(problems) == 1 and problems[0].startswith(f"{path}: cannot read settings")


def test_every_kind_of_value_loads_as_written(home):
    import tomlkit

    doc = {"default_backend": "ascend950", "theme": "gruvbox", "system_prompt": 'Say "hi"\nthen stop.',
           "sampling": {"temperature": 0.2, "top_k": 40, "seed": 3, "stop": ["</s>", 'a"b']},
           "keymap": {"newline": "ctrl+j", "send": "ctrl+s,enter"},
           "backends": {"h100": {"concurrency": 64, "fp8": True, "price_usd_per_chip_hour": 2.49},
                        "my backend": {"url": "http://x"}}}
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(tomlkit.dumps(doc), encoding="utf-8")
    loaded, problems = load_settings()
    assert problems == []
    assert loaded == Settings(
        default_backend="ascend950", theme="gruvbox", system_prompt='Say "hi"\nthen stop.',
        sampling=Sampling(temperature=0.2, top_k=40, seed=3, stop=("</s>", "a\"b")),
        backend_options={"h100": {"concurrency": 64, "fp8": True, "price_usd_per_chip_hour": 2.49},
                         "my backend": {"url": "http://x"}},
        keymap={"newline": "ctrl+j", "send": "ctrl+s,enter"},
    )


def test_dirs_follow_env_and_platformdirs(home, monkeypatch):
    assert config_dir() == home and data_dir() == home
    monkeypatch.delenv("MOE_CONSOLE_HOME")
    import platformdirs

    assert config_dir() == Path(platformdirs.user_config_dir("moe-console", appauthor=False))
    assert data_dir() == Path(platformdirs.user_data_dir("moe-console", appauthor=False))


def test_backend_options_checked_against_declared_options():
    declared = (
        Option("concurrency", "int", 8, "requests in flight", minimum=1),
        Option("price_usd_per_chip_hour", "float", 2.0, "price", minimum=0.0),
        Option("fp8", "bool", False, "use fp8"),
    )
    valid, problems = validate_backend_options(
        "h100", declared, {"concurrency": 0, "price_usd_per_chip_hour": 3.1, "fp8": "yes", "bogus": 1})
    assert valid == {"price_usd_per_chip_hour": 3.1, "fp8": True}
    assert problems == [
        "[backends.h100] concurrency = 0: must be an integer >= 1; using the default 8",
        "[backends.h100] unknown option 'bogus' (known: concurrency, fp8, price_usd_per_chip_hour); ignored",
    ]


@pytest.mark.parametrize("line, shown, rule", [
    ("temperature = nan", "nan", "must be a finite number >= 0 (0 = greedy)"),
    ("top_p = nan", "nan", "must be in (0, 1]"),
    ("seed = -1", "-1", "must be an integer >= 0 (none: a random seed)"),
    ("temperature = inf", "inf", "must be a finite number >= 0 (0 = greedy)"),
    ("repetition_penalty = 0", "0", "must be a finite number > 0 (1 = off)"),
])
def test_bad_sampling_values_fall_back_with_file_line_and_column(tmp_path, line, shown, rule):
    path = write(tmp_path / "settings.toml", f"theme = \"nord\"\n[sampling]\n  {line}\n")
    settings, problems = load_settings(path)
    key = line.split(" ")[0]
    assert settings.sampling == Sampling() and settings.theme == "nord"
    assert problems == [f"{path}:3:3: sampling.{key} = {shown}: {rule}; using the default "
                        f"{getattr(Sampling(), key)!r}"]


def test_sampling_form_toml_and_cli_share_one_rule(tmp_path):
    """The settings file, the TUI form's parser and Sampling itself refuse the same values."""
    from console.api import SAMPLING_RULES, SamplingError
    from console.tui.screens.sampling import parse_sampling

    for key, bad in (("seed", -1), ("temperature", float("nan")), ("top_p", 0.0), ("top_k", -1),
                     ("max_tokens", 0), ("min_p", 1.5)):
        path = write(tmp_path / f"{key}.toml", f"[sampling]\n{key} = {'nan' if bad != bad else bad}\n")
        _, problems = load_settings(path)
        assert len(problems) == 1 and SAMPLING_RULES[key].rule in problems[0]
        with pytest.raises(SamplingError, match=key):
            Sampling(**{key: bad})
        if key in ("seed", "temperature", "top_p", "top_k", "max_tokens"):
            with pytest.raises(ValueError, match=re.escape(SAMPLING_RULES[key].rule)):
                parse_sampling(Sampling(), {key: "nan" if bad != bad else str(bad)})


def test_a_keymap_key_that_does_not_exist_keeps_the_default(tmp_path):
    path = write(tmp_path / "settings.toml",
                 '[keymap]\nsend = "ctrl+foo"\nnewline = "ctrl+j"\nquit = "hyperr+q"\nhelp = "f1,full_stop"\n')
    settings, problems = load_settings(path)
    assert settings.keymap == {"newline": "ctrl+j", "help": "f1,full_stop"}
    assert problems == [
        f"{path}:2:1: keymap.send = 'ctrl+foo': 'ctrl+foo': there is no key called 'foo'; the default key is kept",
        f"{path}:4:1: keymap.quit = 'hyperr+q': 'hyperr+q' has an unknown modifier 'hyperr'; "
        "the default key is kept",
    ]


def test_backend_option_problems_name_file_line_table_key_value_and_rule(tmp_path):
    path = write(tmp_path / "settings.toml",
                 '[backends.replay]\nspeed = 0\n[backends.h100]\nconcurrency = "lots"\nbogus = 1\n')
    settings, problems = load_settings(path)
    assert problems == []  # the declared options are not known yet
    speed = (Option("speed", "float", 1.0, "replay speed", minimum=0.1, maximum=100.0),)
    valid, problems = settings.checked_options("replay", speed)
    assert valid == {} and problems == [
        f"{path}:2:1: [backends.replay] speed = 0: must be a number from 0.1 to 100; using the default 1.0"]
    conc = (Option("concurrency", "int", 128, "sequences per chip", minimum=1, maximum=4096),)
    _, problems = settings.checked_options("h100", conc)
    assert problems == [
        f"{path}:4:1: [backends.h100] concurrency = 'lots': must be an integer from 1 to 4096; using the default 128",
        f"{path}:5:1: [backends.h100] unknown option 'bogus' (known: concurrency); ignored"]


def test_a_secret_option_value_is_never_repeated(tmp_path):
    path = write(tmp_path / "settings.toml", '[backends.echo]\napi_key_env = "sk-live-1234 5678"\n')
    settings, _ = load_settings(path)
    key = (Option("api_key_env", "secret", "OPENAI_API_KEY", "variable holding the API key"),)
    _, problems = settings.checked_options("echo", key)
    assert len(problems) == 1 and "sk-live" not in problems[0] and "(not shown)" in problems[0]
