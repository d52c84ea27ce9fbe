"""Chip-hour prices and cost per million tokens.

Precedence for one hardware name (first found wins):
1. an explicit price (a backend's ``price_usd_per_hour`` option, a CLI flag);
2. the user's price file (:func:`user_price_path`), keyed by hardware name;
3. the price the hardware plugin registered (its ``HardwareSpec``);
4. the shipped, dated table ``data/prices.toml``.

Cost per million tokens = price per chip-hour / (tokens per second per chip x 3600)
x 1e6 / utilization, input (prefill chips) and output (decode chips) apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from console.perf.datafiles import PerfDataError, data, read_toml

#: Environment variable naming a user price file.
PRICES_ENV = "MOE_CONSOLE_PRICES"
PRICES_FILE = "prices.toml"


@dataclass(frozen=True)
class Price:
    """A dated chip-hour price and where it came from."""

    usd_per_hour: float
    date: str = ""
    source: str = ""
    kind: str = ""          # market | assumption | spec | derived | user
    origin: str = ""        # option | user file <path> | plugin | table

    def describe(self) -> str:
        parts = [f"${self.usd_per_hour:.2f}/h"]
        if self.kind:
            parts.append(self.kind)
        if self.date:
            parts.append(self.date)
        return f"{parts[0]} ({', '.join(parts[1:])})" if len(parts) > 1 else parts[0]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def user_price_path(config_dir: str | Path | None = None) -> Path | None:
    """``$MOE_CONSOLE_PRICES``, else ``<config_dir>/prices.toml`` if it exists, else ``None``."""
    env = os.environ.get(PRICES_ENV)
    if env:
        return Path(env).expanduser()
    if config_dir is not None:
        candidate = Path(config_dir) / PRICES_FILE
        if candidate.is_file():
            return candidate
    return None


def _price_from(entry: Any, where: str, kind: str, origin: str) -> Price:
    if not isinstance(entry, dict) or "usd_per_hour" not in entry:
        raise PerfDataError(f"{where}: expected a table with usd_per_hour")
    value = entry["usd_per_hour"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PerfDataError(f"{where}: usd_per_hour must be a number >= 0 (got {value!r})")
    return Price(float(value), str(entry.get("date", "")), str(entry.get("source", "")),
                 str(entry.get("kind", kind)), origin)


def load_price_file(path: str | Path) -> dict[str, Price]:
    """Prices of a user file (same format as ``data/prices.toml``)."""
    content = read_toml(path)
    return {name: _price_from(entry, f"{path} [{name}]", "user", f"user file {path}")
            for name, entry in content.items()}


def table_price(name: str) -> Price | None:
    """The shipped table's price for ``name`` (``None`` when not listed)."""
    entry = data("prices.toml").get(name)
    return _price_from(entry, f"prices.toml [{name}]", "market", "table") if entry else None


def resolve_price(name: str, *, explicit: float | None = None,
                  user: Mapping[str, Price] | None = None, plugin: Price | None = None) -> Price | None:
    """The price used for hardware ``name`` (see the module doc for the order)."""
    if explicit is not None:
        if explicit < 0:
            raise PerfDataError(f"price must be >= 0 (got {explicit})")
        return Price(float(explicit), "", "given explicitly", "user", "option")
    if user and name in user:
        return user[name]
    if plugin is not None:
        return plugin
    return table_price(name)


def usd_per_million(usd_per_hour: float, tokens_per_s: float, utilization: float = 1.0) -> float:
    """Dollars per million tokens for one chip producing ``tokens_per_s``."""
    if tokens_per_s <= 0:
        return float("inf")
    return usd_per_hour / (tokens_per_s * 3600.0) * 1e6 / utilization
