"""``moe-console bench --engine``: the numpy engine's speed on a checkpoint, as ratios measured
in one run (:mod:`.measure`), against transformers run in a child interpreter (:mod:`.reference`).

Kept out of ``console.engine`` so that the engine holds only inference code.
"""

from .measure import TARGETS, BenchError, ReferenceUnavailable, blas_threads, run_bench

__all__ = ["TARGETS", "BenchError", "ReferenceUnavailable", "blas_threads", "run_bench"]
