"""The report's fig1 (two runs) and fig5 grid (15 runs) end to end through a real stack: `trainboard api` and
`trainboard worker` processes, the runs launched as sweeps from the presets' full-scale specs, on full epochs of
the data in ``--data-dir``.

    .venv/bin/python bench/bench_figs.py --device cuda --data-dir ../shared/data [--workers 4] [--only fig1,fig5]
        [--epochs-fig1 N] [--epochs-fig5 N] [--deadline-s 300] [--json FILE] [--quick]

Each figure is timed on its own, from the POST of its sweep to its last run ending, and the best validation and
test accuracy of each run is printed with its own training time (the worker's ``duration_s``). With several
workers on one GPU (``--gpus 0`` each; a worker trains one built-in run at a time) the runs of a figure train side
by side, as a lab that puts several workers on one large GPU would; the sum of the runs' own times is printed
beside the wall time, as what one worker would take. Past ``--deadline-s`` the figures still running are
cancelled and what they reached is printed (runs done, epochs of the others), so a time budget always yields
numbers. ``--quick`` (one epoch, 256 training images) proves the path on a CPU in a couple of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import REPO, banner, running_stack

from tests.utils.stack import Stack

TERMINAL = {"succeeded", "failed", "cancelled"}
QUICK = {"epochs": 1, "limit_train": 256}


def python_path() -> str:
    """The repo first, then whatever PYTHONPATH already holds (bench/gpu_check.sh may add its packages there)."""
    return os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


def start_workers(stack: Stack, *, device: str, n: int) -> list[str]:
    """``n`` workers on ``device``; on CUDA all on GPU 0, each taking one run at a time."""
    names = [f"worker{i}" for i in range(n)]
    gpus = ["--gpus", "0"] if device == "cuda" else []
    for name in names:
        stack.start(name, "worker", "--device", device, *gpus, "--name", f"{name}@bench")
    stack.wait_ready(*names, timeout=180)
    return names


def preset_sweep(
    url: str, preset: str, *, device: str, epochs: int | None, quick: bool, parallel: int | None
) -> dict[str, Any]:
    """The preset's full-scale sweep (``GET /api/presets``), asking for ``device``; ``epochs`` overrides."""
    presets = {p["id"]: p for p in httpx.get(f"{url}/api/presets", timeout=10).json()}
    base = dict(presets[preset]["scales"]["full"])
    base["device"] = device
    base["tags"] = [tag for tag in base.get("tags", []) if tag != "full"] + ["quick" if quick else "full", "bench"]
    if quick:
        base.update(QUICK)
    if epochs is not None:
        base["epochs"] = epochs
    body: dict[str, Any] = {"name": f"{preset} (bench)", "base": base, "grid": presets[preset]["grid"]}
    if parallel is not None:
        body["parallel"] = parallel
    return body


def run_figure(stack: Stack, preset: str, body: dict[str, Any], *, deadline: float) -> dict[str, Any]:
    """POST the sweep, wait for its runs to end (or the deadline), return its timing and results."""
    started = time.perf_counter()
    reply = httpx.post(f"{stack.url}/api/sweeps", json=body, timeout=30)
    reply.raise_for_status()
    sweep_id = reply.json()["id"]
    print(f"\n== {preset}: sweep {sweep_id}, {len(reply.json()['runs'])} runs, base {json.dumps(body['base'])}")
    print(f"   grid {json.dumps(body['grid'])}", flush=True)
    sweep: dict[str, Any] = {}
    seen_done: set[int] = set()
    while True:
        sweep = httpx.get(f"{stack.url}/api/sweeps/{sweep_id}", timeout=30).json()
        for row in sweep["results"]:
            if row["status"] in TERMINAL and row["run_id"] not in seen_done:
                seen_done.add(row["run_id"])
                print(f"   {time.perf_counter() - started:6.1f} s  {describe(row)}", flush=True)
        if all(row["status"] in TERMINAL for row in sweep["results"]):
            finished = True
            break
        if time.monotonic() > deadline:
            finished = False
            httpx.post(f"{stack.url}/api/sweeps/{sweep_id}/cancel", timeout=30)
            break
        time.sleep(1.0)
    wall_s = time.perf_counter() - started
    rows = sweep["results"]
    own = [row["duration_s"] for row in rows if row["duration_s"] is not None]
    result = {
        "preset": preset,
        "sweep_id": sweep_id,
        "finished": finished,
        "wall_s": round(wall_s, 1),
        "runs_sum_s": round(sum(own), 1),
        "status_counts": sweep["status_counts"],
        "base": body["base"],
        "grid": body["grid"],
        "runs": [
            {
                k: row[k]
                for k in (
                    "run_id",
                    "name",
                    "status",
                    "epoch",
                    "values",
                    "best_valid_acc",
                    "best_epoch",
                    "test_acc_at_best",
                    "gen_gap",
                    "duration_s",
                )
            }  # fmt: skip
            for row in rows
        ],
    }
    state = "all runs ended" if finished else "DEADLINE: cancelled the runs still going"
    print(
        f"   -> {preset}: {wall_s:.1f} s end to end ({state}; {sweep['status_counts']}); "
        f"the runs' own training times add up to {sum(own):.1f} s"
    )
    if not finished:
        for row in rows:
            if row["run_id"] not in seen_done:
                print(f"      not done: {describe(row)}")
    return result


def describe(row: dict[str, Any]) -> str:
    values = ", ".join(f"{k}={v}" for k, v in (row["values"] or {}).items())
    accuracy = (
        f"best valid {row['best_valid_acc']:.4f} at epoch {row['best_epoch']}, test@best {row['test_acc_at_best']:.4f}"
        if row["best_valid_acc"] is not None and row["test_acc_at_best"] is not None
        else "no accuracy yet"
    )
    duration = f"{row['duration_s']:.1f} s" if row["duration_s"] is not None else "-"
    return f"run {row['run_id']:3d} [{values}] {row['status']}, epoch {row['epoch']}: {accuracy}; {duration}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--data-dir", type=Path, required=True, help="MNIST/ and dogs-vs-cats/ as in ../shared/data")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (on CUDA all on GPU 0)")
    parser.add_argument("--only", default="fig1,fig5")
    parser.add_argument("--epochs-fig1", type=int, help="default: the preset's full scale (100)")
    parser.add_argument("--epochs-fig5", type=int, help="default: the preset's full scale (25)")
    parser.add_argument("--parallel", type=int, help="at most this many runs of a sweep at once")
    parser.add_argument("--deadline-s", type=float, default=3600, help="cancel what still runs after this long")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 256 training images: proves the path")
    args = parser.parse_args()
    deadline = time.monotonic() + args.deadline_s
    banner(f"bench_figs: the report's {args.only} through api + {args.workers} {args.device} worker(s)")
    print(f"# data {args.data_dir.resolve()}, deadline {args.deadline_s:.0f} s, quick {args.quick}")
    epochs = {"fig1": args.epochs_fig1, "fig5": args.epochs_fig5}
    results: list[dict[str, Any]] = []
    # bench_gpu.py stops this script with SIGTERM at its cap: unwind, so the api and workers are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with (
        tempfile.TemporaryDirectory(prefix="bench-figs-") as tmp,
        running_stack(
            Path(tmp), data_dir=args.data_dir.resolve(), workers=0, extra_env={"PYTHONPATH": python_path()}
        ) as stack,
    ):
        started = time.perf_counter()
        workers = start_workers(stack, device=args.device, n=args.workers)
        print(f"# {len(workers)} workers ready in {time.perf_counter() - started:.1f} s", flush=True)
        try:
            for preset in args.only.split(","):
                body = preset_sweep(
                    stack.url, preset, device=args.device, epochs=epochs.get(preset), quick=args.quick,
                    parallel=args.parallel,
                )  # fmt: skip
                results.append(run_figure(stack, preset, body, deadline=deadline))
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1))
            print_summary(results)
        finally:
            failed = [run for result in results for run in result["runs"] if run["status"] == "failed"]
            if failed:
                print(f"\n# {len(failed)} run(s) failed; the first one's error:")
                print(run_error(stack, failed[0]["run_id"]))
            stopping = time.perf_counter()
            for name in workers:  # all at once: each may take seconds to leave a cancelled run
                if stack.processes[name].poll() is None:
                    os.killpg(stack.processes[name].pid, signal.SIGTERM)
    print(f"# api and workers stopped in {time.perf_counter() - stopping:.1f} s")


def run_error(stack: Stack, run_id: int) -> str:
    """A failed run's error as the API keeps it, else the end of every worker's log."""
    try:
        error = httpx.get(f"{stack.url}/api/runs/{run_id}", timeout=10).json().get("error")
    except httpx.HTTPError as exc:
        error = f"(GET /api/runs/{run_id}: {exc})"
    logs = "\n".join(f"--- {name}\n{stack.log(name)[-2000:]}" for name in stack.processes if name != "api")
    return str(error) if error else logs


def print_summary(results: list[dict[str, Any]]) -> None:
    print("\nsummary", flush=True)
    for result in results:
        done = result["status_counts"].get("succeeded", 0)
        best = max((r["best_valid_acc"] or 0.0 for r in result["runs"]), default=0.0)
        print(
            f"  {result['preset']:<5} {done}/{len(result['runs'])} runs succeeded, {result['wall_s']:.1f} s end to end "
            f"({result['runs_sum_s']:.1f} s of runs' own training), best valid acc {best:.4f}"
            + ("" if result["finished"] else "  [cut by the deadline]"),
            flush=True,
        )


if __name__ == "__main__":
    main()
