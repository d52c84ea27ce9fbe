"""Fixtures: see endpoints.py (shared with tests/loadgen)."""

from endpoints import _home, endpoint_url, standin  # noqa: F401
