"""The hardware-spec part of the kit: a plugin's ``HardwareSpec`` is sound and models.

::

    from console.testing import HardwareSpecConformance
    import moe_console_mi325x

    class TestMI325X(HardwareSpecConformance):
        plugin = moe_console_mi325x            # its register_hardware hook is called

An author's tests import only ``console.testing`` and their own package. The
checks:

* every figure's unit, tag and source pass the host's rules
  (``console.api.hardware.spec_problems``, the one validator; the host refuses
  a spec with problems), one message per wrong figure;
* the hook registers specs with unique, plain names;
* a modeled backend built from each spec by the host streams a reply whose
  events are on the modeled clock, whose ``Timing.label`` says ``modeled`` and
  names the chip, with a cost (``check_modeled_backend``).

Building the modeled backend needs the console's own modeled-backend factory
and engine; the kit imports them here, so the author does not have to.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from console.api import Finished, HardwareSpec, Message, Request, Sampling, spec_problems
from console.api.options import NAME_PATTERN
from console.testing.checks import ConformanceError
from console.testing.runner import check_reply


def spec_problems_of(spec: HardwareSpec) -> list[str]:
    """The host's problems with ``spec``: ``console.api.spec_problems``, the one validator."""
    return list(spec_problems(spec))


def check_hardware_spec(spec: Any) -> None:
    """``spec`` is a ``HardwareSpec`` with a plain name and no problem the host would refuse."""
    if not isinstance(spec, HardwareSpec):
        raise ConformanceError(f"{spec!r} is not a console.api.HardwareSpec")
    if not NAME_PATTERN.match(spec.name):
        raise ConformanceError(f"hardware name {spec.name!r}: use lowercase letters, digits, '.', '_', '-'")
    problems = spec_problems_of(spec)
    if problems:
        raise ConformanceError(f"hardware {spec.name!r}: " + "; ".join(problems))


async def check_modeled_backend(spec: HardwareSpec, *, max_tokens: int = 6, timeout_s: float = 120.0,
                                **options: Any) -> list[Any]:
    """The host's modeled backend for ``spec`` streams a reply with modeled timings and a cost."""
    from console.modeled import backend_class_for

    backend = backend_class_for(spec)(**{"pace": "fast", **options})
    request = Request(messages=(Message("user", "Say something about mixtures of experts."),),
                      sampling=Sampling(max_tokens=max_tokens, temperature=0.0, seed=0))
    events = await check_reply(backend, request, timeout_s)
    done = events[-1]
    if not isinstance(done, Finished):
        raise ConformanceError(f"hardware {spec.name!r}: the modeled backend failed: {done.error}")
    if done.timing.clock != "modeled" or spec.display_name not in done.timing.label:
        raise ConformanceError(f"hardware {spec.name!r}: timing {done.timing.clock!r} labelled "
                               f"{done.timing.label!r} does not name a modeled {spec.display_name}")
    if done.cost is None or done.cost.price_usd_per_chip_hour < 0:
        raise ConformanceError(f"hardware {spec.name!r}: the modeled reply has no cost")
    if not (done.timing.ttft_s > 0 and done.timing.e2e_s >= done.timing.ttft_s):
        raise ConformanceError(f"hardware {spec.name!r}: modeled ttft {done.timing.ttft_s} / "
                               f"e2e {done.timing.e2e_s} are not positive")
    return events


def registered_specs(plugin: Any) -> list[Any]:
    """What ``plugin``'s ``register_hardware`` hook registers."""
    hook = getattr(plugin, "register_hardware", None)
    if not callable(hook):
        raise ConformanceError(f"{plugin!r} has no register_hardware hook")
    specs: list[Any] = []
    hook(register=specs.append)
    if not specs:
        raise ConformanceError(f"{getattr(plugin, '__name__', plugin)}: register_hardware registered nothing")
    names = [getattr(s, "name", None) for s in specs]
    if len(set(names)) != len(names):
        raise ConformanceError(f"register_hardware registered a name twice: {names}")
    return specs


class HardwareSpecConformance:
    """Subclass (with a ``Test`` name) and set ``plugin`` (the module with the
    ``register_hardware`` hook) or ``specs``; ``modeled_options`` go to the modeled backend."""

    plugin: ClassVar[Any] = None
    specs: ClassVar[tuple[HardwareSpec, ...]] = ()
    modeled_options: ClassVar[dict[str, Any]] = {}

    def all_specs(self) -> list[Any]:
        return registered_specs(self.plugin) if self.plugin is not None else list(self.specs)

    def test_specs_are_registered(self) -> None:
        assert self.all_specs(), "set plugin = your_module or specs = (...)"

    def test_every_figure_passes_the_host_rules(self) -> None:
        for spec in self.all_specs():
            check_hardware_spec(spec)

    def test_modeled_backend_streams_modeled_timings(self) -> None:
        for spec in self.all_specs():
            asyncio.run(check_modeled_backend(spec, **self.modeled_options))
