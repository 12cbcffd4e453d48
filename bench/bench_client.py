"""Tracking client overhead: µs per `run.log(step=i, loss=..., acc=...)` (start_run) and per
`run.log({"loss": ..., "acc": ...})` (trainboard.init) against a live API vs a bare loop.

    .venv/bin/python bench/bench_client.py [--calls 200000]

A real `trainboard api` process on loopback; `start_run(client, ...)` creates an external run and the loop logs two
metrics per call while the background thread posts batches to the API (on the same two cores). The baseline,
timed before and after in the same run, is the same loop building the same dict without logging it. Then
`finish()` delivers everything, and the stored series are read back: every point must have arrived, once. The same
again with `trainboard.init()`'s run, logging a mapping without a step (the step counts up), system metrics on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trainboard  # noqa: E402
from bench.common import banner, running_stack  # noqa: E402
from trainboard import Client, start_run  # noqa: E402


def bare_loop(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        metrics = dict(step=i, loss=i * 1e-6, acc=0.5)  # noqa: F841 - built and dropped, like a log() call's kwargs
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    n = args.calls
    banner(f"tracking client: {n:,} run.log() calls with 2 metrics each, against a live API")

    with (
        tempfile.TemporaryDirectory(prefix="bench-client-") as tmp,
        running_stack(Path(tmp), workers=0) as stack,
        Client(stack.url, token="") as client,
    ):
        before = bare_loop(n)
        run = start_run(client, {"name": "bench-client", "tags": ["bench"]})
        start = time.perf_counter()
        for i in range(n):
            run.log(step=i, loss=i * 1e-6, acc=0.5)
        logged = time.perf_counter() - start
        after = bare_loop(n)
        queued_at_end = run.pending

        start = time.perf_counter()
        result = run.finish("succeeded", summary={"calls": n})
        drained = time.perf_counter() - start
        data = client.metrics(run.id, keys=["loss", "acc"], max_points=1_000_000)  # every point: n < 1M
        check_stored(data, n)
        assert result["status"] == "succeeded" and run.sent == 2 * n and run.dropped == 0

        script_run = trainboard.init(name="bench-init", tags=["bench"], api_url=stack.url, token="")
        start = time.perf_counter()
        for i in range(n):
            script_run.log({"loss": i * 1e-6, "acc": 0.5})
        init_logged = time.perf_counter() - start
        script_run.finish()
        check_stored(client.metrics(script_run.id, keys=["loss", "acc"], max_points=1_000_000), n)

    bare = (before + after) / 2
    log_us, bare_us = logged / n * 1e6, bare / n * 1e6
    print(f"run.log(): {log_us:.2f} us/call ({logged:.2f} s for {n:,} calls; {queued_at_end:,} points still queued)")
    print(f"bare loop building the same dict: {bare_us:.2f} us/call (before {before:.2f} s, after {after:.2f} s)")
    print(
        f"overhead {log_us - bare_us:.2f} us/call, ratio log/bare {log_us / bare_us:.1f}x; target < 5 us per call: "
        f"{'MET' if log_us < 5 else 'NOT MET'}"
    )
    init_us = init_logged / n * 1e6
    print(f"trainboard.init()'s run.log({{...}}): {init_us:.2f} us/call ({init_logged:.2f} s for {n:,} calls)")
    print(
        f"finish() delivered the rest in {drained:.1f} s; all {2 * n:,} points arrived once "
        f"(end to end {2 * n / (logged + drained):,.0f} points/s)"
    )
    return 0


def check_stored(data: dict, n: int) -> None:
    """Every point arrived, once."""
    for key in ("loss", "acc"):
        steps = data[key]["step"]
        assert steps == list(range(n)), f"{key}: {len(steps):,} of {n:,} steps stored"
    assert data["loss"]["value"][n - 1] == (n - 1) * 1e-6


if __name__ == "__main__":
    raise SystemExit(main())
