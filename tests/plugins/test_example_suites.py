"""The example packages' own test suites (the conformance kit on each), collected here too,
so that the project's suite runs them from the source folders."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
for folder in ("moe-console-replay", "moe-console-mi325x"):
    sys.path[:0] = [str(EXAMPLES / folder / "src"), str(EXAMPLES / folder / "tests")]

from test_mi325x_spec import TestMI325X, test_every_assumption_says_why  # noqa: E402,F401
from test_replay_backend import (  # noqa: E402,F401
    TestReplay,
    test_a_stop_string_across_pieces_is_held_back_and_cut,
    test_bad_options_and_a_missing_trace_are_refused_before_streaming,
    test_the_whole_trace_is_replayed_with_its_ids,
)
