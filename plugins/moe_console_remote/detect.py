"""Tell servers apart and read what each one offers.

:func:`probe` asks an endpoint, concurrently and each with the client's
timeouts: ``GET /v1/models`` (ids, ``owned_by``, ``max_model_len``),
``GET /version`` (vLLM's ``{"version"}``; ``moe-console serve`` adds
``"server": "moe-console"``), ``GET /props``
(llama-server: ``build_info``, slots), ``GET /server_info`` (SGLang) and
``GET /metrics`` (which metric prefix it prints: ``vllm:``, ``sglang:``,
``llamacpp:``, ``moe_console:``, or MindIE's unprefixed names). The kind is
decided from that evidence, which is kept so a user can see why.

vllm-ascend runs ``vllm serve`` and prints vLLM's names; nothing on the wire
says "Ascend". So an endpoint is called ``vllm-ascend`` only when it is a vLLM
server and its *declared* hardware is an Ascend part, and the evidence says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from moe_console_remote.errors import EndpointError, http_error, transport_error

KINDS = ("moe-console", "vllm", "sglang", "vllm-ascend", "mindie", "llama-server", "unknown")
_ASCEND = ("ascend", "910", "950", "atlas")
#: Metric-name prefix -> server kind (checked in this order).
_PREFIXES = (("moe_console:", "moe-console"), ("sglang:", "sglang"), ("llamacpp:", "llama-server"),
             ("vllm:", "vllm"))
_OWNERS = {"moe-console": "moe-console", "moe_console": "moe-console", "vllm": "vllm", "sglang": "sglang",
           "llamacpp": "llama-server", "llama.cpp": "llama-server", "mindie": "mindie"}


@dataclass(frozen=True)
class ModelCard:
    id: str
    owned_by: str = ""
    max_model_len: int | None = None


@dataclass
class ServerInfo:
    """What :func:`probe` found. ``error`` is set when ``/v1/models`` could not be read."""

    url: str
    reachable: bool = False
    error: str | None = None
    kind: str = "unknown"
    version: str = ""
    models: tuple[ModelCard, ...] = ()
    evidence: list[str] = field(default_factory=list)
    metrics: bool = False
    props: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "reachable": self.reachable, "error": self.error, "kind": self.kind,
                "version": self.version, "metrics": self.metrics, "evidence": list(self.evidence),
                "models": [{"id": m.id, "owned_by": m.owned_by, "max_model_len": m.max_model_len}
                           for m in self.models]}


def root_of(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response | None:
    try:
        return await client.get(url, headers=headers)
    except httpx.HTTPError:
        return None


def _json(response: httpx.Response | None) -> Any:
    if response is None or response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _models(data: Any) -> tuple[ModelCard, ...]:
    cards = []
    for item in (data or {}).get("data") or () if isinstance(data, dict) else ():
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            length = item.get("max_model_len")
            cards.append(ModelCard(item["id"], str(item.get("owned_by") or ""),
                                   length if isinstance(length, int) else None))
    return tuple(cards)


async def list_models(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[ModelCard, ...]:
    """``GET {url}/models``; raises EndpointError (one line) on any failure."""
    target = url.rstrip("/") + "/models"
    try:
        response = await client.get(target, headers=headers)
    except httpx.HTTPError as exc:
        raise transport_error(exc, target) from None
    if response.status_code >= 400:
        raise http_error(response.status_code, response.content, target)
    return _models(_json(response))


async def probe(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None,
                declared_hardware: str = "") -> ServerInfo:
    """Reachability, models, kind and version of the endpoint at ``url`` (see the module doc)."""
    headers = headers or {}
    info = ServerInfo(url=url)
    root = root_of(url)
    models_task = asyncio.ensure_future(list_models(client, url, headers))
    version, props, sgl, metrics = await asyncio.gather(
        *(_get(client, root + path, headers) for path in ("/version", "/props", "/server_info", "/metrics")))
    try:
        info.models = await models_task
        info.reachable = True
    except EndpointError as exc:
        info.error = str(exc)
        info.reachable = exc.status is not None  # it answered, with an error
    kinds: list[str] = []
    for card in info.models:
        owner = _OWNERS.get(card.owned_by.lower())
        if owner:
            kinds.append(owner)
            info.evidence.append(f"/v1/models owned_by {card.owned_by!r}")
            break
    text = metrics.text if metrics is not None and metrics.status_code == 200 else ""
    if text:
        info.metrics = True
        for prefix, kind in _PREFIXES:
            if f"\n{prefix}" in "\n" + text:
                kinds.append(kind)
                info.evidence.append(f"/metrics prints {prefix} names")
                break
        else:
            if "\nnum_requests_running" in "\n" + text:
                kinds.append("mindie")
                info.evidence.append("/metrics prints MindIE's unprefixed names")
    props_data = _json(props)
    if isinstance(props_data, dict) and ("build_info" in props_data or "total_slots" in props_data):
        kinds.append("llama-server")
        info.props = props_data
        info.version = str(props_data.get("build_info") or "")
        info.evidence.append("/props answers like llama-server")
    sgl_data = _json(sgl)
    if isinstance(sgl_data, dict) and "version" in sgl_data and ("tp_size" in sgl_data or "model_path" in sgl_data):
        kinds.append("sglang")
        info.version = info.version or str(sgl_data["version"])
        info.evidence.append("/server_info answers like SGLang")
    version_data = _json(version)
    if isinstance(version_data, dict) and version_data.get("version"):
        info.version = info.version or str(version_data["version"])
        info.evidence.append(f"/version says {version_data['version']}")
        named = _OWNERS.get(str(version_data.get("server") or "").lower())
        if named:
            kinds.append(named)
            info.evidence.append(f"/version names the server {version_data['server']!r}")
    server_header = ""
    for response in (metrics, version, props):
        if response is not None and response.headers.get("server"):
            server_header = response.headers["server"]
            break
    if server_header:
        info.evidence.append(f"Server header {server_header!r}")
    if kinds:
        # the most specific evidence wins: moe-console prints vllm: names too
        order = {k: i for i, k in enumerate(("moe-console", "llama-server", "sglang", "mindie", "vllm"))}
        info.kind = min(kinds, key=lambda k: order.get(k, 99))
    if info.kind == "vllm" and any(word in declared_hardware.lower() for word in _ASCEND):
        info.kind = "vllm-ascend"
        info.evidence.append(f"vLLM on declared hardware {declared_hardware!r} (not visible on the wire)")
    return info


async def check_endpoint(endpoint) -> ServerInfo:
    """:func:`probe` of a configured endpoint (``config.Endpoint``) with its own key and
    timeouts (reads capped at 10 s): what ``moe-console remote check`` and the TUI's form show."""
    timeout = httpx.Timeout(endpoint.connect_timeout_s, read=min(endpoint.read_timeout_s, 10.0))
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await probe(client, endpoint.url, endpoint.headers(), endpoint.hardware)
