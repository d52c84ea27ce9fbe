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
