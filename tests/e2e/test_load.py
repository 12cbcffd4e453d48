"""The load bench's code path, small: concurrent external runs posting metrics, live SSE clients and dashboard
GETs on one real `trainboard api` process. No error, and every SSE client gets every point exactly once."""

from __future__ import annotations

from pathlib import Path

from bench.bench_load import run_load
from tests.utils.stack import running_stack


def test_concurrent_runs_and_streams_lose_nothing(tmp_path: Path) -> None:
    with running_stack(tmp_path, workers=0) as stack:
        result = run_load(stack.url, runs=3, sse_clients=7, seconds=5, iters_per_s=120, dashboards=1)
    assert result.tally.errors == []
    assert len(result.tally.post_ms) >= 3 and len(result.tally.get_ms) >= 4
    assert result.points_posted >= 3 * 2 * 120  # at least a second's worth of points from every run
    assert len(result.sse) == 7
    for client in result.sse:
        assert client.ended, f"the stream of run {client.run_id} never ended"
        assert client.duplicates == 0 and client.unexpected == 0, client
        assert client.missing == 0, client
        assert client.received > 0
