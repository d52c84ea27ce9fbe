"""``moe-console serve``: an OpenAI-compatible HTTP server over the engine's generation loop.

Speaks vLLM's dialect of the OpenAI API (routes, extra sampling fields, error shape, ``vllm:``
metric names) so that clients, dashboards and benchmark tools written for vLLM work unchanged.

Modules, one job each: :mod:`.app` (routes and the Starlette app), :mod:`.parse` (request
bodies into validated :class:`~.parse.GenerationRequest`\\ s), :mod:`.bridge` (the engine: load,
admission limits, token streams as text), :mod:`.replies` (OpenAI response and chunk objects),
:mod:`.sse` (server-sent events), :mod:`.metrics` (Prometheus), :mod:`.guard` (API key and body
size), :mod:`.errors` (vLLM's error shape), :mod:`.runner` (sockets, uvicorn, signals).
"""

from .app import create_app
from .bridge import EngineBridge

__all__ = ["EngineBridge", "create_app"]
