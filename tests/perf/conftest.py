"""Shared fixtures of the performance-model tests (all pure and fast)."""

import pytest

from console.perf import calibration, default_deployment, load_profile, reference_chip


@pytest.fixture(scope="session")
def v3():
    return load_profile("deepseek-v3")


@pytest.fixture(scope="session")
def dep():
    return default_deployment()


@pytest.fixture(scope="session")
def fit():
    return calibration("sglang-96xh100")


@pytest.fixture(scope="session")
def h100():
    return reference_chip("h100")


@pytest.fixture(scope="session")
def a950():
    return reference_chip("ascend950dt")


@pytest.fixture(scope="session")
def note_dep():
    """The reference note's §7 method: no serving-stack per-layer latency."""
    return default_deployment(layer_latency_us=0)


def note_factors(name, **record_changes):
    """A shipped calibration fitted as the note fitted it: its runs without their serving
    stack (no per-layer latency) and with ``record_changes``, on the note's deployment."""
    from console.perf.calibration import Factors, calibration_runs
    from console.perf.fitting import fit
    from console.perf.records import record

    recs = [record(r) for r in calibration_runs(name)]
    recs = [r.__class__(**{**r.__dict__, "stack": None, **record_changes}) for r in recs]
    shipped = calibration(name)
    start = {"eta": 0.4, "overlap": 0.5, "mfu": shipped.mfu}
    free = ("eta", "overlap") if name == "sglang-96xh100" else ("eta",)
    if "overlap" not in free:
        start["overlap"] = note_factors("sglang-96xh100").overlap
    values = fit(recs, start, free, base=default_deployment(layer_latency_us=0))
    return Factors(values["eta"], values["overlap"], values["mfu"], name, shipped.run)


@pytest.fixture(scope="session")
def note_fit():
    return note_factors("sglang-96xh100")
