"""Real plugin distributions on disk, for tests of the plugin host.

A :class:`Workshop` writes, under a temporary folder, what ``pip install``
would: a module file and a ``<name>-<version>.dist-info`` folder with
``METADATA`` and ``entry_points.txt``. The host reads that metadata through
``importlib.metadata`` exactly as it reads installed packages.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from importlib import metadata
from pathlib import Path

_serial = itertools.count()

#: Module source of a working plugin; ``{backend}`` is the backend name.
GOOD_PLUGIN = '''
import time
from console.api import (Backend, BackendInfo, Finished, Option, Started, TextDelta, Timing,
                         Usage, hookimpl)

MOE_CONSOLE_API = "1.0"
CLOSED = []  # request ids whose stream ran its finally block


class Parrot(Backend):
    info = BackendInfo(name={backend!r}, display_name="Parrot", kind="remote")
    options = (Option("words", "int", 3, "how many words to repeat back", minimum=1),)

    async def stream(self, request):
        import asyncio
        start = time.monotonic()
        try:
            yield Started(request.request_id, self.info.name, "parrot", 1)
            n = min(self.settings["words"], request.sampling.max_tokens)
            for i in range(n):
                await asyncio.sleep(0.001)
                yield TextDelta(f"w{{i}} ", (i,), at=time.monotonic() - start)
            e2e = time.monotonic() - start
            yield Finished("stop", Usage(1, n), Timing(ttft_s=0.0, e2e_s=e2e), at=e2e)
        finally:
            CLOSED.append(request.request_id)


@hookimpl
def register_backends(register):
    register(Parrot)
'''


class Workshop:
    """Builds plugin distributions in ``root`` (which must be on ``sys.path``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.distributions: list[metadata.Distribution] = []
        self.modules: list[str] = []

    def add(
        self,
        plugin: str,
        source: str,
        *,
        dist: str | None = None,
        version: str = "1.0.0",
        extra_entry_points: dict[str, str] | None = None,
    ) -> str:
        """Write a distribution whose entry point ``plugin`` names a new module
        with ``source``; returns the module name (unique per test run)."""
        module = f"mcplug_{plugin.replace('-', '_')}_{next(_serial)}_{self.root.name[-12:].replace('-', '_')}"
        module = "".join(c if c.isalnum() or c == "_" else "_" for c in module)
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        dist = dist or f"moe-console-{plugin}"
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = [f"{plugin} = {module}"] + [f"{k} = {v}" for k, v in (extra_entry_points or {}).items()]
        (info / "entry_points.txt").write_text("[moe_console]\n" + "\n".join(lines) + "\n")
        self.distributions.append(metadata.Distribution.at(info))
        self.modules.append(module)
        return module

    def add_good(self, plugin: str, backend: str | None = None, **kw: object) -> str:
        return self.add(plugin, GOOD_PLUGIN.format(backend=backend or plugin), **kw)

    def host(self, **kw: object):
        from console.plugins import PluginHost

        return PluginHost.discover(distributions=self.distributions, **kw)

    def imported(self, module: str) -> bool:
        return module in sys.modules

    def cleanup(self) -> None:
        for module in self.modules:
            sys.modules.pop(module, None)
