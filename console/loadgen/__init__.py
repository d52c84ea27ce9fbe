"""``moe-console bench serve``: a load generator for OpenAI-compatible endpoints.

Small modules, one job each:

* :mod:`~console.loadgen.workload` — the workload (prompt/output lengths,
  concurrency sweep, arrival rate, seeds) and prompts of exactly P tokens;
* :mod:`~console.loadgen.client` — one streamed request, timed on arrival;
* :mod:`~console.loadgen.stats` — vLLM's definitions turned into figures;
* :mod:`~console.loadgen.runner` — the sweep against one or several endpoints;
* :mod:`~console.loadgen.spawn` — ``moe-console serve`` started and stopped;
* :mod:`~console.loadgen.report` — the results document, tables and files.

Definitions are those of ``vllm bench serve`` (see the report's footnote).
"""

from console.loadgen.workload import LoadgenError, Workload

__all__ = ["LoadgenError", "Workload"]
