"""Metric points: stored idempotently on (series, step), where a series is one run's one key, summarised as they
arrive, read back downsampled.

Five seams, one module each: ``ingest`` (a batch in, its live event, the sweep's early-termination check),
``announced`` (the points a live event announces, read back for the stream),
``rollups`` (the min and max of every block of ``ROLLUP_WIDTHS`` steps, kept by each insert), ``reads`` (a series
in step order, downsampled from the rollups for charts) and ``keys`` (a run's keys with their counts and last
points, from the rollups). Routes use the names below.
"""

from backend.services.metrics.ingest import add_points, add_points_from_loop
from backend.services.metrics.keys import KeyStats, key_stats
from backend.services.metrics.reads import metric_keys, read_series

__all__ = ["KeyStats", "add_points", "add_points_from_loop", "key_stats", "metric_keys", "read_series"]
