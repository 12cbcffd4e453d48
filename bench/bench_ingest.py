"""Ingestion: points/s into `trainboard api` vs MLflow's tracking server, batches of 1,000 over one connection.

    .venv/bin/python bench/bench_ingest.py [--batches 100] [--mlflow-batches 10] [--no-postgres] [--no-mlflow]

Both servers run as real processes on this machine, each on a fresh SQLite file (and trainboard once more on a
fresh Postgres database when one is reachable at 127.0.0.1:5432). The client posts pre-encoded bodies, one
request at a time over one keep-alive httpx connection, so the figure is the server's ingestion rate:
trainboard's `POST /api/runs/{id}/metrics` vs MLflow's `POST /api/2.0/mlflow/runs/log-batch`, whose cap is 1,000
metrics per request. MLflow gets fewer batches only because it is slow; its rate is flat over the run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import banner, mlflow_server, mlflow_version, postgres_database, running_stack  # noqa: E402

BATCH = 1_000
JSON = {"Content-Type": "application/json"}


def make_values(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.random() for _ in range(n)]


def post_all(http: httpx.Client, path: str, bodies: list[bytes]) -> tuple[float, list[float]]:
    """Post the bodies one after the other; total seconds and per-request milliseconds."""
    latencies = []
    start = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        response = http.post(path, content=body, headers=JSON)
        latencies.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: HTTP {response.status_code}: {response.text[:500]}")
    return time.perf_counter() - start, latencies


def trainboard_bodies(n_batches: int, values: list[float]) -> list[bytes]:
    return [
        json.dumps(
            {"points": [{"key": "loss", "step": i, "value": values[i]} for i in range(b * BATCH, (b + 1) * BATCH)]}
        ).encode()
        for b in range(n_batches)
    ]


def bench_trainboard(url: str, n_batches: int, values: list[float]) -> tuple[float, list[float]]:
    bodies = trainboard_bodies(n_batches, values)
    with httpx.Client(base_url=url, timeout=120) as http:
        warm = http.post("/api/runs", json={"name": "bench-ingest-warmup", "external": True}).json()
        http.headers["X-Trainboard-Lease"] = warm["lease"]  # this client plays each run's script in turn
        post_all(http, f"/api/runs/{warm['id']}/metrics", trainboard_bodies(3, values))
        run = http.post("/api/runs", json={"name": "bench-ingest", "external": True}).json()
        run_id = run["id"]
        http.headers["X-Trainboard-Lease"] = run["lease"]
        seconds, latencies = post_all(http, f"/api/runs/{run_id}/metrics", bodies)
        # Every point stored, once: the full series comes back with as many distinct steps.
        every = {"keys": "loss", "max_points": 1_000_000}  # not downsampled: fewer points than that
        stored = http.get(f"/api/runs/{run_id}/metrics", params=every).json()["loss"]["step"]
        assert len(stored) == len(set(stored)) == n_batches * BATCH, len(stored)
    return n_batches * BATCH / seconds, latencies


def bench_mlflow(url: str, n_batches: int, values: list[float]) -> tuple[float, list[float]]:
    api = "/api/2.0/mlflow"
    with httpx.Client(base_url=url, timeout=300) as http:

        def new_run(name: str) -> str:
            experiment = http.post(f"{api}/experiments/create", json={"name": f"{name}-{time.time_ns()}"})
            experiment.raise_for_status()
            run = http.post(
                f"{api}/runs/create",
                json={"experiment_id": experiment.json()["experiment_id"], "start_time": int(time.time() * 1000)},
            )
            run.raise_for_status()
            return str(run.json()["run"]["info"]["run_id"])

        def bodies(run_id: str, n: int) -> list[bytes]:
            now = int(time.time() * 1000)
            return [
                json.dumps(
                    {
                        "run_id": run_id,
                        "metrics": [
                            {"key": "loss", "value": values[i], "timestamp": now, "step": i}
                            for i in range(b * BATCH, (b + 1) * BATCH)
                        ],
                    }
                ).encode()
                for b in range(n)
            ]

        warm = new_run("bench-ingest-warmup")
        post_all(http, f"{api}/runs/log-batch", bodies(warm, 1))
        run_id = new_run("bench-ingest")
        seconds, latencies = post_all(http, f"{api}/runs/log-batch", bodies(run_id, n_batches))
        history = http.get(
            f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss", "max_results": 100_000}
        ).json()["metrics"]
        assert len(history) == n_batches * BATCH, len(history)
    return n_batches * BATCH / seconds, latencies


def describe(name: str, rate: float, latencies: list[float]) -> None:
    print(
        f"{name:<28} {rate:>10,.0f} points/s   per 1,000-point request: median {statistics.median(latencies):.1f} ms, "
        f"max {max(latencies):.1f} ms ({len(latencies)} requests)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=100, help="1,000-point batches sent to trainboard")
    parser.add_argument("--mlflow-batches", type=int, default=10, help="1,000-metric batches sent to MLflow")
    parser.add_argument("--no-postgres", action="store_true", help="skip trainboard on Postgres")
    parser.add_argument(
        "--no-mlflow", action="store_true", help="skip MLflow (trainboard's rates only, e.g. before/after a change)"
    )
    args = parser.parse_args()

    banner("ingestion: POST batches of 1,000 points over one keep-alive connection")
    values = make_values(max(args.batches, args.mlflow_batches) * BATCH)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        root = Path(tmp)
        with running_stack(root / "sqlite", workers=0) as stack:
            tb_rate, tb_lat = bench_trainboard(stack.url, args.batches, values)
        describe("trainboard (SQLite)", tb_rate, tb_lat)

        pg_rate = None
        if not args.no_postgres:
            with postgres_database() as database_url:
                if database_url:
                    with running_stack(root / "pg", workers=0, extra_env={"DATABASE_URL": database_url}) as stack:
                        pg_rate, pg_lat = bench_trainboard(stack.url, args.batches, values)
                    describe("trainboard (Postgres 15)", pg_rate, pg_lat)

        if args.no_mlflow:
            return 0
        with mlflow_server(root / "mlflow") as url:
            ml_rate, ml_lat = bench_mlflow(url, args.mlflow_batches, values)
        describe(f"MLflow {mlflow_version()} (SQLite)", ml_rate, ml_lat)

    ratio = tb_rate / ml_rate
    print(f"ratio trainboard/MLflow on SQLite: {ratio:.1f}x (target >= 30x): {'MET' if ratio >= 30 else 'NOT MET'}")
    if pg_rate is not None:
        print(f"ratio trainboard on Postgres/MLflow on SQLite: {pg_rate / ml_rate:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
