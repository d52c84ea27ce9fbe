"""The backend conformance kit for moe-console plugin authors (a pytest plugin).

Two ways to use it for a backend (and :class:`HardwareSpecConformance` for a
hardware plugin's specs):

* subclass :class:`BackendConformance` in a test module (set ``backend_class``
  and ``options``); pytest collects its tests;
* or take the ``backend_conformance`` fixture (registered through the
  ``pytest11`` entry point, or ``-p console.testing.pytest_plugin``) and call
  ``backend_conformance.check(backend)``.

The checks are plain functions too (:func:`check_backend_class`,
:func:`check_events`, :func:`check_reply`, ...), raising
:class:`ConformanceError` with a one-line reason. Only ``console.api`` is
imported: the kit never needs the console itself.
"""

from console.testing.behaviour import (
    check_concurrent_streams,
    check_loop_not_blocked,
    check_max_tokens,
    check_option_bounds,
    check_stop_string,
)
from console.testing.checks import (
    ConformanceError,
    check_backend_class,
    check_events,
    check_measured_clock,
    check_options,
)
from console.testing.hardware import HardwareSpecConformance, check_hardware_spec, check_modeled_backend
from console.testing.runner import check_aclose_stops, check_reply, check_task_cancel_stops, collect
from console.testing.suite import BackendConformance

__all__ = [
    "BackendConformance",
    "ConformanceError",
    "HardwareSpecConformance",
    "check_aclose_stops",
    "check_backend_class",
    "check_concurrent_streams",
    "check_events",
    "check_hardware_spec",
    "check_loop_not_blocked",
    "check_max_tokens",
    "check_measured_clock",
    "check_modeled_backend",
    "check_option_bounds",
    "check_options",
    "check_reply",
    "check_stop_string",
    "check_task_cancel_stops",
    "collect",
]
