"""The MoE routing heat map: one row per MoE layer, one cell per expert (or
per bucket of adjacent experts when they do not fit), colour intensity =
how often the router picked that expert.

:func:`render_heatmap` is a pure function (counts -> Rich ``Text``) so it can
be tested without an app.
"""

from __future__ import annotations

from typing import Sequence

from rich.color import Color
from rich.style import Style
from rich.text import Text

#: Gradient from cold (rarely routed) to hot (often routed).
COLD = (30, 40, 70)
HOT = (255, 190, 60)
SHADES = " ░▒▓█"


def _bucket(values: Sequence[float], width: int) -> list[float]:
    """Sum ``values`` into at most ``width`` contiguous buckets."""
    n = len(values)
    if n <= width:
        return [float(v) for v in values]
    out = []
    for i in range(width):
        lo, hi = i * n // width, (i + 1) * n // width
        out.append(float(sum(values[lo:hi])))
    return out


def _colour(level: float) -> Color:
    r, g, b = (round(c + (h - c) * level) for c, h in zip(COLD, HOT))
    return Color.from_rgb(r, g, b)


def render_heatmap(
    counts: Sequence[Sequence[float]],
    layers: Sequence[int] = (),
    *,
    width: int = 32,
    max_rows: int = 12,
    hash_layers: Sequence[int] = (),
) -> Text:
    """Draw ``counts[layer][expert]`` as coloured cells ``width`` wide at most.

    Rows beyond ``max_rows`` are merged (summed) into buckets too, so a
    61-layer model still fits. Each row is labelled with its layer index
    (``L3``), or a range (``L3-9``) when layers were merged. Intensity is
    relative to the hottest cell on the map; an empty map says so. Rows of ``hash_layers``
    (experts from a fixed token-id table, not a router) are marked ``#``, dimmed and scaled
    to their own peak, and a legend line says what the mark means.
    """
    rows = [list(r) for r in counts if len(r)]
    if not rows or not any(any(r) for r in rows):
        return Text("no routing yet", style="dim")
    names = list(layers) if len(layers) == len(rows) else list(range(len(rows)))
    if len(rows) > max_rows:
        merged, merged_names = [], []
        for i in range(max_rows):
            lo, hi = i * len(rows) // max_rows, (i + 1) * len(rows) // max_rows
            merged.append([sum(col) for col in zip(*rows[lo:hi])])
            merged_names.append(f"L{names[lo]}-{names[hi - 1]}" if hi - lo > 1 else f"L{names[lo]}")
        hashed_rows = [any(n in hash_layers for n in names[i * len(names) // max_rows:
                                                         (i + 1) * len(names) // max_rows]) for i in range(max_rows)]
        rows, labels = merged, merged_names
    else:
        labels = [f"L{n}" for n in names]
        hashed_rows = [n in hash_layers for n in names]
    labels = [label + "#" if hashed else label for label, hashed in zip(labels, hashed_rows)]
    label_w = max(len(label) for label in labels) + 1
    cell_w = max(width - label_w, 4)
    cells = [_bucket(r, cell_w) for r in rows]
    routed = [r for r, hashed in zip(cells, hashed_rows) if not hashed]
    peak = max((max(r) for r in routed), default=0.0) or 1.0
    text = Text(no_wrap=True, overflow="crop")
    for label, row, hashed in zip(labels, cells, hashed_rows):
        text.append(label.ljust(label_w), style="dim")
        own_peak = (max(row) or 1.0) if hashed else peak
        for value in row:
            level = value / own_peak
            shade = SHADES[min(int(level * (len(SHADES) - 1) + 0.999), len(SHADES) - 1)]
            text.append(shade, style=Style(color=_colour(level), dim=hashed))
        text.append("\n")
    if any(hashed_rows):
        text.append("# hash-routed: fixed token-id table, not router choice", style="dim")
    text.rstrip()
    return text

