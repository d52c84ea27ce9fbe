"""The engine's single error type.

Every problem with a checkpoint or a request that the user can fix (missing file, malformed
config, truncated tensor data, wrong shape, unknown architecture, bad token ids...) is raised as
an :class:`EngineError` whose message is ONE line naming the file and, where relevant, the
tensor. Command-line front ends print ``str(err)`` and exit with status 2.
"""

from __future__ import annotations


class EngineError(Exception):
    """A user-facing, one-line error about a checkpoint or a generation request."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
