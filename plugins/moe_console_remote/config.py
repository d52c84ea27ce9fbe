"""Endpoints of the ``remote`` plugin, read from ``[remote.NAME]`` tables of settings.toml.

::

    [remote.h100-vllm]
    url = "http://10.0.0.5:8000/v1"
    model = "deepseek-ai/DeepSeek-V4-Flash"   # empty: the server's first model
    api_key_env = "H100_KEY"    # the key is read from this variable at request time, never stored
    hardware = "h100"           # declared by you; shown as "declared", never inferred
    chips = 8
    price_usd_per_chip_hour = 2.35
    connect_timeout_s = 5.0
    read_timeout_s = 60.0       # longest silence tolerated mid-reply before it fails

:func:`parse_endpoints` never raises: a bad table is left out and described
in one line per problem, so one typo does not hide the other endpoints.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Any, Mapping
from urllib.parse import urlsplit

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Endpoint:
    """One configured OpenAI-compatible endpoint. ``url`` is the API root (``.../v1``)."""

    name: str
    url: str
    model: str = ""
    api_key_env: str = ""
    hardware: str = ""
    chips: int | None = None
    price_usd_per_chip_hour: float | None = None
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S

    @property
    def root(self) -> str:
        """The server root (``url`` without a trailing ``/v1``), where /health, /metrics live."""
        url = self.url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url

    def headers(self) -> dict[str, str]:
        """The Authorization header, read from ``api_key_env`` now (empty when unset)."""
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    def key_note(self) -> str:
        """Why a 401 may have happened, for the error line ("" when a key is set)."""
        if self.api_key_env and not os.environ.get(self.api_key_env):
            return f" (environment variable {self.api_key_env} is not set)"
        return ""

    def as_table(self) -> dict[str, Any]:
        """The settings.toml table of this endpoint (unset values left out)."""
        table: dict[str, Any] = {"url": self.url}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in ("name", "url") and value not in (None, "") and value != f.default:
                table[f.name] = value
        return table


_TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,), "model": (str,), "api_key_env": (str,), "hardware": (str,),
    "chips": (int,), "price_usd_per_chip_hour": (int, float),
    "connect_timeout_s": (int, float), "read_timeout_s": (int, float),
}


def check_url(url: str) -> str | None:
    """A problem with ``url`` as an API root, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"url must be an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}"
    return None


def parse_endpoint(name: str, table: Any) -> tuple[Endpoint | None, list[str]]:
    """One ``[remote.NAME]`` table -> an Endpoint (or None) and its problems."""
    where = f"[remote.{name}]"
    if not NAME_RE.match(name):
        return None, [f"{where}: name must be letters, digits, '-' or '_' (at most 64); ignored"]
    if not isinstance(table, Mapping):
        return None, [f"{where} must be a table with at least url = \"http://host:port/v1\"; ignored"]
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in table.items():
        kinds = _TYPES.get(key)
        if kinds is None:
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(_TYPES)}); ignored")
        elif isinstance(value, bool) or not isinstance(value, kinds):
            problems.append(f"{where}: {key} must be {'a string' if kinds == (str,) else 'a number'}, "
                            f"got {value!r}; ignored")
        elif key in ("chips",) and value < 1 or key.endswith("_s") and value <= 0 \
                or key == "price_usd_per_chip_hour" and value < 0:
            problems.append(f"{where}: {key} must be positive, got {value!r}; ignored")
        else:
            values[key] = float(value) if kinds == (int, float) else value
    url = values.get("url")
    if url is None:
        return None, problems + [f"{where}: url is missing; endpoint ignored"]
    bad = check_url(url)
    if bad:
        return None, problems + [f"{where}: {bad}; endpoint ignored"]
    return Endpoint(name=name, **values), problems


def parse_endpoints(tables: Mapping[str, Any] | None) -> tuple[dict[str, Endpoint], list[str]]:
    """Every usable endpoint of the ``[remote]`` table, and the problems of the rest."""
    endpoints: dict[str, Endpoint] = {}
    problems: list[str] = []
    if not tables:
        return endpoints, problems
    if not isinstance(tables, Mapping):
        return endpoints, ["[remote] must hold tables like [remote.NAME]; ignored"]
    for name, table in tables.items():
        endpoint, found = parse_endpoint(str(name), table)
        problems += found
        if endpoint is not None:
            endpoints[endpoint.name] = endpoint
    return endpoints, problems
