"""Watching a serving endpoint's Prometheus ``/metrics`` (UI-free).

:mod:`~console.watch.scrape` parses the text format with prometheus_client's
parser; :mod:`~console.watch.names` knows each server's metric names;
:mod:`~console.watch.window` turns successive scrapes into a
:class:`~console.watch.window.ServerView` (gauges, rates, histogram
percentiles from bucket deltas over a window, histories for sparklines).
``moe-console watch`` and the TUI's server screen only render it.
"""

from console.watch.scrape import Snapshot, fetch, metrics_url, parse
from console.watch.window import ServerView, Watcher, sparkline

__all__ = ["ServerView", "Snapshot", "Watcher", "fetch", "metrics_url", "parse", "sparkline"]
