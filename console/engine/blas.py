"""Read or change how many threads numpy's BLAS (OpenBLAS) uses, from inside the process.

Why: on a small shared machine, OpenBLAS worker threads that spin while another process holds
the other core make the engine's many small matrix-vector products several times slower
(measured on the project's 2-core machine under load: 390 tok/s with 1 thread vs 78 tok/s with
2 for the ~15M bench model). ``OPENBLAS_NUM_THREADS`` only works before numpy is imported; this
calls OpenBLAS's own ``openblas_set_num_threads`` through ctypes instead. Nothing here runs
unless called; on a BLAS other than OpenBLAS both functions report that they cannot act.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

import numpy as np  # noqa: F401  (loads the BLAS library)

_SUFFIXES = ("scipy_openblas{}64_", "openblas{}64_", "openblas{}")


@lru_cache(maxsize=1)
def _library():
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = [line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line]
    except OSError:
        return None
    for path in dict.fromkeys(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pattern in _SUFFIXES:
            setter = getattr(lib, pattern.format("_set_num_threads"), None)
            getter = getattr(lib, pattern.format("_get_num_threads"), None)
            if setter is not None and getter is not None:
                setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                return setter, getter
    return None


def get_threads() -> int | None:
    """Threads OpenBLAS will use, or None when numpy's BLAS is not an OpenBLAS we can reach."""
    lib = _library()
    return None if lib is None else int(lib[1]())


def set_threads(n: int) -> bool:
    """Make OpenBLAS use ``n`` threads from now on; False when that is not possible here."""
    lib = _library()
    if lib is None:
        return False
    lib[0](max(1, int(n)))
    return True
