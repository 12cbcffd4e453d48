"""Reading: a 1,000,000-point series downsampled for a chart vs fetched whole, from a real `trainboard api`.

    .venv/bin/python bench/bench_read.py [--points 1000000] [--max-points 2000] [--requests 10] [--full-requests 3]

The series goes straight into the API's migrated SQLite file (one executemany: the insert path is not what is
measured here), with a one-step spike up and a one-step dip down. Then, over one keep-alive connection:
  - `GET /api/runs/{id}/metrics?keys=loss&max_points=2000`: at most 2,000 points, spike and dip both kept;
    median and p95 over --requests requests (target: median < 300 ms). `--points 100000 --max-points 642` is one
    chart of the run page (bench_dashboard.py: four such keys);
  - zoom, `&start=&end=` over 1,000 steps: every stored point of that range, at full resolution;
  - the baseline, in the same run: the full series without max_points (what a chart would fetch otherwise).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from backend.models import ROLLUP_WIDTHS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import banner, percentile, running_stack, summary  # noqa: E402

MAX_POINTS = 2_000
SPIKE = 1_000.0
DIP = -1_000.0


def fill(db: Path, run_id: int, n: int) -> tuple[int, int, list[float]]:
    """Store loss[0..n) for the run: noise in [0, 1), one spike and one dip; returns their steps and the values."""
    rng = random.Random(42)
    values = [rng.random() for _ in range(n)]
    spike_step, dip_step = n // 3 + 7, (2 * n) // 3 + 3
    values[spike_step], values[dip_step] = SPIKE, DIP
    rollups = []
    for width in ROLLUP_WIDTHS:
        for block in range(0, n, width):
            chunk = values[block : block + width]
            low, high = min(chunk), max(chunk)
            at_low, at_high = block + chunk.index(low), block + chunk.index(high)
            rollups.append((run_id, width, block // width, len(chunk), low, high, at_low, at_high))
    with sqlite3.connect(db, timeout=60) as conn:
        series_id = conn.execute("INSERT INTO metric_series (run_id, key) VALUES (?, 'loss')", (run_id,)).lastrowid
        conn.executemany(
            "INSERT INTO metric_points (series_id, seq, step, value) VALUES (?, 0, ?, ?)",
            ((series_id, step, value) for step, value in enumerate(values)),
        )
        # What the API's ingestion keeps alongside the points (backend/services/metrics/rollups.py: update_rollups).
        conn.executemany(
            "INSERT INTO metric_rollups (run_id, key, width, bucket, n, vmin, vmax, step_min, step_max)"
            " VALUES (?, 'loss', ?, ?, ?, ?, ?, ?, ?)",
            rollups,
        )
    return spike_step, dip_step, values


def fetch(http: httpx.Client, path: str, params: dict[str, object]) -> tuple[float, dict]:
    t = time.perf_counter()
    response = http.get(path, params=params)
    response.raise_for_status()
    body = response.json()
    return (time.perf_counter() - t) * 1000, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--max-points", type=int, default=MAX_POINTS, help="the downsampled requests' max_points")
    parser.add_argument("--requests", type=int, default=10, help="downsampled requests timed")
    parser.add_argument("--full-requests", type=int, default=3, help="full-series requests timed (slow)")
    args = parser.parse_args()
    n, max_points = args.points, args.max_points

    banner(f"reading: a {n:,}-point series, downsampled to <= {max_points:,} vs whole")
    with (
        tempfile.TemporaryDirectory(prefix="bench-read-") as tmp,
        running_stack(Path(tmp), workers=0) as stack,
        httpx.Client(base_url=stack.url, timeout=300) as http,
    ):
        run_id = http.post("/api/runs", json={"name": "bench-read", "external": True}).json()["id"]
        t = time.perf_counter()
        spike_step, dip_step, values = fill(stack.home / "trainboard.sqlite", run_id, n)
        print(f"# stored {n:,} points in {time.perf_counter() - t:.1f} s (direct SQLite insert)")
        path = f"/api/runs/{run_id}/metrics"

        # Downsampled: the chart's request.
        params = {"keys": "loss", "max_points": max_points}
        fetch(http, path, params)  # warm the page cache and the connection
        times, body = [], {}
        for _ in range(args.requests):
            ms, body = fetch(http, path, params)
            times.append(ms)
        series = body["loss"]
        steps, got = series["step"], series["value"]
        assert len(steps) <= max_points, f"{len(steps)} points for max_points={max_points}"
        bucket = -(-n // (max_points // 2))
        assert steps == sorted(steps) and steps[0] < bucket and steps[-1] >= n - bucket, "the whole range, in order"
        # Each bucket's extremes are plotted at their own steps: the spike and the dip exactly where they happened.
        assert SPIKE in got and steps[got.index(SPIKE)] == spike_step, "the one-step spike survives at its step"
        assert DIP in got and steps[got.index(DIP)] == dip_step, "the one-step dip survives at its step"
        median_ds = statistics.median(times)
        print(f"downsampled max_points={max_points}: {len(steps):,} points, spike and dip kept; ms: {summary(times)}")

        # Zoom: a 1,000-step window comes back at full resolution (max_points 2,000, whatever --max-points says).
        lo, hi = spike_step - 500, spike_step + 499
        zoom_times = []
        for _ in range(args.requests):
            ms, body = fetch(http, path, {**params, "max_points": MAX_POINTS, "start": lo, "end": hi})
            zoom_times.append(ms)
        zoom = body["loss"]
        assert zoom["step"] == list(range(lo, hi + 1)), "every step of the window"
        assert zoom["value"] == values[lo : hi + 1], "the stored values, not bucket extremes"
        print(f"zoom start={lo} end={hi}: {len(zoom['step']):,} points = full resolution; ms: {summary(zoom_times)}")

        # Baseline: the whole series (max_points as large as the API allows: no downsampling of a million points).
        full_times = []
        for _ in range(args.full_requests):
            ms, body = fetch(http, path, {"keys": "loss", "max_points": 1_000_000})
            full_times.append(ms)
        assert len(body["loss"]["step"]) == n
        median_full = statistics.median(full_times)
        print(f"baseline, full series ({n:,} points): ms: {summary(full_times)}")

    print(
        f"downsampled median {median_ds:.1f} ms (p95 {percentile(times, 95):.1f} ms), target < 300 ms: "
        f"{'MET' if median_ds < 300 else 'NOT MET'}; full series median {median_full:.1f} ms; "
        f"ratio full/downsampled: {median_full / median_ds:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
