"""One scrape of ``/metrics``: samples by name, parsed with prometheus_client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]


@dataclass
class Snapshot:
    """Every sample of one scrape: ``samples[name][labels] = value``, names as on
    the wire (``..._total``, ``..._bucket``, ``..._sum``, ``..._count``)."""

    at: float
    samples: dict[str, dict[Labels, float]] = field(default_factory=dict)

    def names(self) -> set[str]:
        return set(self.samples)

    def total(self, name: str, where: dict[str, str] | None = None) -> float | None:
        """Sum of the samples called ``name`` whose labels include ``where`` (None if absent)."""
        rows = self.samples.get(name)
        if rows is None:
            return None
        wanted = set((where or {}).items())
        picked = [v for labels, v in rows.items() if wanted <= set(labels)]
        return sum(picked) if picked else None

    def buckets(self, histogram: str) -> dict[float, float]:
        """Cumulative counts by upper bound ``le``, summed over every other label."""
        out: dict[float, float] = {}
        for labels, value in self.samples.get(histogram + "_bucket", {}).items():
            le = dict(labels).get("le")
            if le is not None:
                bound = float(le)
                out[bound] = out.get(bound, 0.0) + value
        return dict(sorted(out.items()))


def parse(text: str, at: float = 0.0) -> Snapshot:
    """A Snapshot of Prometheus text ``text`` (raises ValueError on malformed text)."""
    snap = Snapshot(at=at)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels: Labels = tuple(sorted(sample.labels.items()))
            snap.samples.setdefault(sample.name, {})[labels] = float(sample.value)
    return snap


def metrics_url(url: str) -> str:
    """``.../metrics`` for an API root (``.../v1``), a server root or a metrics URL."""
    url = url.rstrip("/")
    if url.endswith("/metrics"):
        return url
    return url.removesuffix("/v1") + "/metrics"


async def fetch(client: httpx.AsyncClient, url: str, at: float, headers: dict[str, str] | None = None) -> Snapshot:
    """GET and parse ``url``; raises ValueError with one line on any failure."""
    try:
        response = await client.get(url, headers=headers or {})
    except httpx.HTTPError as exc:
        raise ValueError(f"{url}: {type(exc).__name__}: {exc or 'no answer'}") from None
    if response.status_code != 200:
        raise ValueError(f"{url}: HTTP {response.status_code} (metrics may be off: vLLM has them by default, "
                         "SGLang needs --enable-metrics, llama-server --metrics)")
    try:
        return parse(response.text, at)
    except Exception as exc:  # noqa: BLE001 - the parser raises several types
        raise ValueError(f"{url}: not Prometheus text ({type(exc).__name__}: {exc})") from None


def first_present(snapshot: Snapshot, names: Iterable[str]) -> str | None:
    return next((n for n in names if n in snapshot.samples), None)
