"""Fixtures: see endpoints.py (shared with tests/loadgen)."""

from endpoints import _home, locked, served, standin  # noqa: F401
