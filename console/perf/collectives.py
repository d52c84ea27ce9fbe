"""Fixed latency of one small all-reduce, from NCCL's own latency model.

NCCL picks an algorithm (ring or tree) and protocol per call from a cost model
``time = latency + bytes / bandwidth`` whose latency constants are published in
its source (``NVIDIA/nccl`` ``src/graph/tuning.cc``, read at commit 01afd20a:
``baseLat`` and ``hwLat``, microseconds). A decode step's all-reduces carry a
few tokens' hidden vectors (kilobytes), where NCCL uses the low-latency ``LL``
protocol and the latency term is the whole cost. This module evaluates that
term as ``ncclTopoTuneModel`` does for ``LL``:

* ring: ``baseLat + (steps - inter_steps) * intra + inter_steps * inter`` with
  ``steps = 2 (ranks - 1)`` and ``inter_steps = 2 (nodes - 1)``;
* tree: ``baseLat + 2 ((ranks / nodes - 1) * intra + log2(nodes) * inter)``;

``intra`` is the NVLink hop (0.47 ring / 0.52 tree, times 1.8 on more than one
node), ``inter`` the network hop (2.7 ring / 5.0 tree); the faster of the two
algorithms is returned. For 8 ranks on one NVLink node this gives 10.2 us, for
16 ranks on two InfiniBand nodes 27.5 us.
"""

from __future__ import annotations

import math

#: ``baseLat[algorithm][LL]`` (us).
BASE_LATENCY_US = {"ring": 3.6, "tree": 4.4}
#: ``hwLat[NVLINK | NET][algorithm][LL]`` (us per hop).
HOP_LATENCY_US = {"nvlink": {"ring": 0.47, "tree": 0.52}, "net": {"ring": 2.7, "tree": 5.0}}
#: NCCL scales the intra-node LL hop by this when the communicator spans nodes.
MULTI_NODE_INTRA_FACTOR = 1.8
SOURCE = "NVIDIA/nccl src/graph/tuning.cc (commit 01afd20a), baseLat and hwLat for the LL protocol"


def allreduce_latency_us(ranks: int, nodes: int = 1) -> float:
    """NCCL's modeled latency of one small (LL-protocol) all-reduce over ``ranks`` GPUs on ``nodes`` nodes."""
    if ranks <= 1:
        return 0.0
    nodes = max(1, min(nodes, ranks))
    scale = MULTI_NODE_INTRA_FACTOR if nodes > 1 else 1.0
    intra = {a: HOP_LATENCY_US["nvlink"][a] * scale for a in ("ring", "tree")}
    inter = {a: HOP_LATENCY_US["net"][a] if nodes > 1 else HOP_LATENCY_US["nvlink"][a] for a in ("ring", "tree")}
    steps, inter_steps = 2 * (ranks - 1), 2 * (nodes - 1)
    ring = BASE_LATENCY_US["ring"] + (steps - inter_steps) * intra["ring"] + inter_steps * inter["ring"]
    tree = BASE_LATENCY_US["tree"] + 2 * ((ranks // nodes - 1) * intra["tree"]
                                          + int(math.log2(nodes)) * inter["tree"])
    return min(ring, tree)
