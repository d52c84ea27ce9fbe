"""moe-console-replay: an example backend plugin that implements ``stream`` itself.

It registers one backend, ``replay``, which plays back a reply recorded with
``moe-console generate --json`` (one JSON object per token, then a summary),
paced at the recorded times (``speed`` scales them). The bundled trace was
recorded from the built-in model on a 2-core machine.

The module stays cheap to import: the backend class is imported inside the hook.
"""

from console.api import hookimpl

#: The plugin API this plugin was written against (also declared in its metadata).
MOE_CONSOLE_API = "1.0"


@hookimpl
def register_backends(register):
    from moe_console_replay.backend import ReplayBackend

    register(ReplayBackend)
