"""Ingestion: points/s into `trainboard api` vs MLflow's tracking server, batches of 1,000 over one connection.

    .venv/bin/python bench/bench_ingest.py [--batches 300] [--mlflow-batches 60] [--rounds 3]
                                           [--no-postgres] [--no-mlflow] [--points-one-by-one]

All servers run as real processes on this machine at once: trainboard on a fresh SQLite file, trainboard on a
fresh Postgres database when one is reachable at 127.0.0.1:5432 (twice: as it is, and with
TRAINBOARD_INGEST_CONNECTIONS=0, each batch stored in a worker thread rather than awaited on the API's event loop,
that path's baseline), and MLflow's tracking server on a fresh SQLite file. The client posts pre-encoded bodies,
one request at a time over one keep-alive httpx connection per server, so each figure is the server's ingestion
rate: trainboard's `POST /api/runs/{id}/metrics` vs MLflow's `POST /api/2.0/mlflow/runs/log-batch`, whose cap is
1,000 metrics per request. Each body is the one its own client sends: trainboard's senders post a batch per key as
arrays (`{"series": {"loss": {"step": [...], "value": [...]}}}`; `--points-one-by-one` posts the same points as
`{"points": [{"key", "step", "value"}, ...]}`), MLflow's client a list of metric objects. MLflow gets fewer batches
only because it is slow; its rate is flat over the run.

The batches are sent in ``--rounds`` turns, each server's share of a round right after the others', so a change in
the machine's load (other jobs share these cores) falls on every server alike: each round gives its own ratios,
and the verdict is on their median.

Each server's line also gives the CPU milliseconds a request cost, per process: the API (its process tree) or
MLflow's server tree, the Postgres server (all its processes) for trainboard on Postgres, and the client (this
script, httpx). One request is in flight at a time, so these add up to about the request's time: they show which
process a faster ingestion would have to get cheaper.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    Served,
    banner,
    mlflow_server,
    mlflow_version,
    postgres_cpu_seconds,
    postgres_database,
    running_stack,
    tree_cpu_seconds,
    wait_until_idle,
)
from tests.utils.stack import Stack  # noqa: E402

BATCH = 1_000
JSON = {"Content-Type": "application/json"}
TARGET_RATIO = 30  # trainboard's points/s over a settled MLflow's (issue 17)


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


def trainboard_bodies(n_batches: int, values: list[float], *, one_by_one: bool = False) -> list[bytes]:
    """As the senders post them, per key as arrays; or ``one_by_one``, ``{"points": [{"key", "step", "value"}]}``."""
    batches = [range(b * BATCH, (b + 1) * BATCH) for b in range(n_batches)]
    if one_by_one:
        return [json.dumps({"points": [{"key": "loss", "step": i, "value": values[i]} for i in b]}).encode()
                for b in batches]  # fmt: skip
    return [json.dumps({"series": {"loss": {"step": list(b), "value": values[b.start : b.stop]}}}).encode()
            for b in batches]  # fmt: skip


@dataclass
class Target:
    """One server under test: its run, its pre-encoded bodies, and what each round measured."""

    name: str
    http: httpx.Client
    path: str
    bodies: list[bytes]
    check: Callable[[], None]  # every point stored once, read back from the server
    meters: dict[str, Callable[[], float]]  # CPU seconds used so far, by the processes that serve the requests
    rates: list[float] = field(default_factory=list)  # points/s, one per round
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds each meter counted while this was sent to

    def send_round(self, index: int, rounds: int) -> None:
        share = self.bodies[index * len(self.bodies) // rounds : (index + 1) * len(self.bodies) // rounds]
        meters = {**self.meters, "client": time.process_time}  # this script: httpx, sending the bodies
        before = {name: meter() for name, meter in meters.items()}
        seconds, latencies = post_all(self.http, self.path, share)
        for name, meter in meters.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + meter() - before[name]
        self.rates.append(len(share) * BATCH / seconds)
        self.latencies += latencies
        self.seconds += seconds

    @property
    def rate(self) -> float:
        return len(self.bodies) * BATCH / self.seconds


def trainboard_target(
    name: str, stack: Stack, n_batches: int, values: list[float], *, one_by_one: bool, postgres: bool = False
) -> Target:
    api = stack.processes["api"].pid
    wait_until_idle(api)  # as MLflow's server is (bench/common.py)
    http = httpx.Client(base_url=stack.url, timeout=120)
    warm = http.post("/api/runs", json={"name": "bench-ingest-warmup", "external": True}).json()
    http.headers["X-Trainboard-Lease"] = warm["lease"]  # this client plays each run's script in turn
    post_all(http, f"/api/runs/{warm['id']}/metrics", trainboard_bodies(3, values))
    run = http.post("/api/runs", json={"name": "bench-ingest", "external": True}).json()
    http.headers["X-Trainboard-Lease"] = run["lease"]

    def check() -> None:  # every point stored, once: the full series comes back with as many distinct steps
        # not downsampled: fewer points than max_points
        every: dict[str, str | int] = {"keys": "loss", "max_points": 1_000_000}
        stored = http.get(f"/api/runs/{run['id']}/metrics", params=every).json()["loss"]["step"]
        assert len(stored) == len(set(stored)) == n_batches * BATCH, len(stored)

    bodies = trainboard_bodies(n_batches, values, one_by_one=one_by_one)
    meters = {"API": partial(tree_cpu_seconds, api)}
    if postgres:
        meters["Postgres"] = postgres_cpu_seconds
    return Target(name, http, f"/api/runs/{run['id']}/metrics", bodies, check, meters)


def mlflow_target(server: Served, n_batches: int, values: list[float]) -> Target:
    api = "/api/2.0/mlflow"
    http = httpx.Client(base_url=server.url, timeout=300)

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

    def check() -> None:
        history = http.get(
            f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss", "max_results": 100_000}
        ).json()["metrics"]
        assert len(history) == n_batches * BATCH, len(history)

    return Target(
        f"MLflow {mlflow_version()} (SQLite)",
        http,
        f"{api}/runs/log-batch",
        bodies(run_id, n_batches),
        check,
        {"server": partial(tree_cpu_seconds, server.pid)},
    )


def describe(target: Target) -> None:
    rounds = " / ".join(f"{rate:,.0f}" for rate in target.rates)
    requests = len(target.latencies)
    cpu = ", ".join(f"{name} {seconds / requests * 1000:.2f}" for name, seconds in target.cpu.items())
    print(
        f"{target.name:<28} {target.rate:>10,.0f} points/s   per 1,000-point request: median "
        f"{statistics.median(target.latencies):.1f} ms, max {max(target.latencies):.1f} ms "
        f"({requests} requests; rounds {rounds}); CPU ms a request: {cpu}"
    )


def ratios(name: str, ours: Target, baseline: Target, target: float | None = TARGET_RATIO) -> None:
    """The ratio of each round (the two measured minutes apart at most) and the verdict on their median."""
    each = [a / b for a, b in zip(ours.rates, baseline.rates, strict=True)]
    median = statistics.median(each)
    verdict = "" if target is None else f" (target >= {target:.0f}x): {'MET' if median >= target else 'NOT MET'}"
    print(
        f"ratio {name}: {median:.2f}x median of rounds ({' / '.join(f'{r:.2f}' for r in each)}), "
        f"{ours.rate / baseline.rate:.2f}x over the whole run{verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="1,000-point batches sent to each trainboard")
    parser.add_argument("--mlflow-batches", type=int, default=60, help="1,000-metric batches sent to MLflow")
    parser.add_argument("--rounds", type=int, default=3, help="turns the batches are sent in, servers alternating")
    parser.add_argument("--no-postgres", action="store_true", help="skip trainboard on Postgres")
    parser.add_argument(
        "--points-one-by-one",
        action="store_true",
        help='post trainboard {"points": [{"key", "step", "value"}, ...]} rather than per key as arrays',
    )
    parser.add_argument(
        "--no-mlflow", action="store_true", help="skip MLflow (trainboard's rates only, e.g. before/after a change)"
    )
    args = parser.parse_args()
    if min(args.batches, args.mlflow_batches) < args.rounds:
        parser.error("each server needs at least one batch a round")

    banner("ingestion: POST batches of 1,000 points over one keep-alive connection")
    values = make_values(max(args.batches, args.mlflow_batches) * BATCH)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, ExitStack() as servers:
        root = Path(tmp)
        stack = servers.enter_context(running_stack(root / "sqlite", workers=0))
        one_by_one = args.points_one_by_one
        targets = [trainboard_target("trainboard (SQLite)", stack, args.batches, values, one_by_one=one_by_one)]
        # Postgres as it is, then each batch stored in a worker thread (the awaited call's baseline), each on a
        # fresh database of its own; none without a server.
        setups = [("trainboard (Postgres 15)", "pg", {}), ("trainboard (Postgres, threads)", "pg-threads",
                  {"TRAINBOARD_INGEST_CONNECTIONS": "0"})]  # fmt: skip
        for name, folder, env in [] if args.no_postgres else setups:
            database_url = servers.enter_context(postgres_database())
            if database_url is None:
                break
            pg_stack = servers.enter_context(
                running_stack(root / folder, workers=0, extra_env={"DATABASE_URL": database_url, **env})
            )
            targets.append(
                trainboard_target(name, pg_stack, args.batches, values, one_by_one=one_by_one, postgres=True)
            )
        postgres = len(targets) > 1
        if not args.no_mlflow:
            targets.append(
                mlflow_target(servers.enter_context(mlflow_server(root / "mlflow")), args.mlflow_batches, values)
            )
        for target in targets:
            servers.callback(target.http.close)
        for index in range(args.rounds):  # each round in another order, so that no server always goes first
            for target in targets[index % len(targets) :] + targets[: index % len(targets)]:
                target.send_round(index, args.rounds)
        for target in targets:
            target.check()
            describe(target)
    if postgres:
        ratios("trainboard on Postgres, awaited/in threads", targets[1], targets[2], target=None)
    if args.no_mlflow:
        return 0
    ours, mlflow = targets[0], targets[-1]
    ratios("trainboard/MLflow on SQLite", ours, mlflow)
    if postgres:
        ratios("trainboard on Postgres/MLflow on SQLite", targets[1], mlflow)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
