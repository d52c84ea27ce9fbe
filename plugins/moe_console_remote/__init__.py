"""Built-in moe-console backend plugin ``remote``: OpenAI-compatible endpoints elsewhere.

Each ``[remote.NAME]`` table of settings.toml (see :mod:`moe_console_remote.config`)
becomes one backend called ``NAME``: vLLM, SGLang, vllm-ascend, MindIE,
llama-server or ``moe-console serve``. The host hands the tables to
:func:`configure` (the plugin API's ``configure`` hook) before
:func:`register_backends`. Shaped like a third-party package: it imports only
``console.api`` (and httpx, lazily).

``moe-console remote add|list|check`` edits and probes the tables.
"""

from __future__ import annotations

from typing import Any, Mapping

from console.api import hookimpl

MOE_CONSOLE_API = "1.0"

_tables: dict[str, Any] = {}


@hookimpl
def configure(config: Mapping[str, Any]) -> list[str]:
    """Keep the ``[remote.*]`` tables; report the unusable ones."""
    from moe_console_remote.config import parse_endpoints

    _tables.clear()
    _tables.update(config)
    return parse_endpoints(config)[1]


@hookimpl
def register_backends(register):
    from moe_console_remote.backend import backend_class
    from moe_console_remote.config import parse_endpoints

    for endpoint in parse_endpoints(_tables)[0].values():
        register(backend_class(endpoint))
