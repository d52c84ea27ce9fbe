"""``import console.engine`` is cheap: numpy and the engine's modules load on first use."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_importing_the_engine_package_pulls_in_no_numpy():
    loaded = _modules_after("import console.engine as e; e.EngineError; e.builtin_model_path()")
    assert "numpy" not in loaded
    assert "console.engine.model" not in loaded


def test_public_names_resolve_on_first_use():
    loaded = _modules_after("from console.engine import SamplingParams, GenerationLoop")
    assert {"numpy", "console.engine.sampling", "console.engine.loop"} <= loaded


def test_unknown_names_raise_attribute_error():
    import console.engine as engine
    try:
        engine.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
