"""The comparison ``moe-console compare`` and the TUI's compare view show.

:func:`build_comparison` gathers the chips and prices of the modeled hardware
backends a plugin host offers and runs :func:`console.perf.compare`. It only
duck-types the host (``host.backends()`` entries whose class carries
``perf_chip`` and ``perf_price``, as ``console.modeled`` makes them), so this
package still imports neither the plugin host nor the API.
"""

from __future__ import annotations

from typing import Any, Mapping

from console.perf.calibration import Factors
from console.perf.compare import Comparison, compare
from console.perf.datafiles import PerfDataError
from console.perf.deployment import Deployment, Workload, default_deployment
from console.perf.profiles import load_profile

DEFAULT_MODEL = "deepseek-v3"


def modeled_hardware(host: Any) -> dict[str, Any]:
    """``{backend name: modeled backend class}`` for every hardware the loaded
    plugins of ``host`` (a :class:`console.plugins.PluginHost`) register."""
    return {e.name: e.cls for e in host.backends() if hasattr(e.cls, "perf_chip")}


def _select(available: dict[str, Any], names: list[str]) -> list[str]:
    if not names:
        if not available:
            raise PerfDataError("no hardware is registered: is any hardware plugin installed and enabled?")
        return list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise PerfDataError(f"not a modeled hardware backend: {', '.join(unknown)}; "
                            f"known: {', '.join(available) or 'none'}")
    return list(dict.fromkeys(names))


def build_comparison(host: Any, names: list[str], workload: Workload, *, model: str = DEFAULT_MODEL,
                     deployment: Deployment | None = None, baseline: str | None = None,
                     prices: dict[str, float] | None = None, user_prices: Mapping[str, Any] | None = None,
                     explain: bool = False, factors: Mapping[str, Factors] | None = None) -> Comparison:
    """The :class:`~console.perf.Comparison` of ``workload`` for the hardware
    behind the modeled backends ``names`` of ``host`` (empty: every registered
    hardware). The baseline (``baseline``, else ``h100`` when compared) comes
    first. Each price: ``prices[name]`` (USD per chip-hour), else
    ``user_prices`` (the user's price file entries; ``None`` reads it), else
    the hardware plugin's own. ``factors`` replaces a chip's calibration (e.g.
    fitted to the user's own measured run by ``compare --calibrate``).

    Prints nothing and parses nothing; raises :class:`PerfDataError` for a
    name that is not a modeled hardware backend, a price for a backend not
    compared, or a setup the model cannot evaluate."""
    available = modeled_hardware(host)
    chosen = _select(available, list(names))
    explicit = dict(prices or {})
    unknown = sorted(set(explicit) - set(chosen))
    if unknown:
        raise PerfDataError(f"--price names a backend not compared: {', '.join(unknown)}")
    first = baseline or ("h100" if "h100" in chosen else None)
    if first in chosen:  # the baseline's column first
        chosen = [first, *(n for n in chosen if n != first)]
    chips = [available[n].perf_chip for n in chosen]
    resolved = {n: available[n].perf_price(explicit.get(n), user_prices) for n in chosen}
    return compare(load_profile(model), chips, deployment or default_deployment(), workload, resolved,
                   baseline=baseline, explain=explain, factors=factors)
