"""Settings: real TOML files, malformed ones included; paths; backend options."""

from __future__ import annotations

from pathlib import Path

from console.api import Option, Sampling
from console.settings import (
    Settings, config_dir, data_dir, load_settings, save_settings, settings_path,
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
    assert f"{path}:4:1: sampling.temperature must be a number, got a string; using 0.7" in text
    assert f"{path}:5:3: sampling.max_tokens must be >= 1, got 0; using 256" in text
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


def test_save_then_load_round_trips(home):
    settings = Settings(
        default_backend="ascend950", theme="gruvbox", system_prompt='Say "hi"\nthen stop.',
        sampling=Sampling(temperature=0.2, top_k=40, seed=3, stop=("</s>", "a\"b")),
        backend_options={"h100": {"concurrency": 64, "fp8": True, "price_usd_per_chip_hour": 2.49},
                         "my backend": {"url": "http://x"}},
        keymap={"newline": "ctrl+j", "send": "ctrl+s,enter"},
    )
    path = save_settings(settings)
    assert path == config_dir() / "settings.toml"
    loaded, problems = load_settings()
    assert problems == []
    assert loaded == settings
    save_settings(Settings())
    assert settings_path().read_text() == "\n"  # nothing differs from the defaults


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
        "[backends.h100] option 'concurrency' must be >= 1 (got 0); using default 8",
        "[backends.h100] unknown option 'bogus' (known: concurrency, fp8, price_usd_per_chip_hour); ignored",
    ]
