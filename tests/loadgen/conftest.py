"""The loadgen tests share the endpoint fixtures of tests/remote (see endpoints.py there)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "remote"))

from endpoints import _home, locked, served  # noqa: E402,F401
