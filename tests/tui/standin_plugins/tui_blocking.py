"""TEST STAND-IN, not a real backend: a badly written plugin that blocks its event loop.

Its async ``stream`` calls ``time.sleep`` (a blocking call) until the test sets ``RELEASE``
(at most 20 s), as a careless plugin doing blocking I/O would. The console must stay
responsive, Esc must stop the reply, and the plugin must be named as the culprit.
"""

from __future__ import annotations

import threading
import time

from console.api import Backend, BackendInfo, Finished, Started, TextDelta, Timing, Usage, hookimpl

MOE_CONSOLE_API = "1.0"
RELEASE = threading.Event()
BLOCKING = threading.Event()  # set once the stream is inside its blocking call


class Blocking(Backend):
    info = BackendInfo(name="blocking", display_name="Blocking stand-in", kind="remote", model="none")

    async def stream(self, request):
        start = time.monotonic()
        yield Started(request.request_id, self.info.name, "none", 1)
        BLOCKING.set()
        deadline = time.monotonic() + 20
        while not RELEASE.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)  # the bug: blocks whatever event loop runs this generator
        at = time.monotonic() - start
        yield TextDelta("late", (1,), at=at)
        yield Finished("stop", Usage(1, 1), Timing(ttft_s=at, e2e_s=at), at=at)


@hookimpl
def register_backends(register):
    register(Blocking)
