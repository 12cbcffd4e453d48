"""Metric points: stored idempotently on (run, key, step), summarised as they arrive, read back downsampled.

Three seams, one module each: ``ingest`` (a batch in, its live event, the sweep's early-termination check),
``rollups`` (the min and max of every block of ``ROLLUP_WIDTHS`` steps, kept by each insert) and ``reads`` (a
series in step order, downsampled from the rollups for charts). Routes use the names below.
"""

from backend.services.metrics.ingest import add_points
from backend.services.metrics.reads import metric_keys, read_series

__all__ = ["add_points", "metric_keys", "read_series"]
