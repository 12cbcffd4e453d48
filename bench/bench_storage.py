"""Storage: bytes on disk per stored point, trainboard (SQLite, Postgres) vs MLflow's SQLAlchemy store (SQLite).

    .venv/bin/python bench/bench_storage.py [--runs 100] [--keys 10] [--steps 1000] [--mlflow-runs 10]
                                            [--no-postgres] [--no-mlflow] [--what-if]

Every run gets ``keys`` series of ``steps`` steps of realistic float values (noisy decaying losses, accuracies,
a learning rate schedule, ...), through the real ingestion path: trainboard's `POST /api/runs/{id}/metrics` in
requests of 1,000 points (10 keys x 100 steps), MLflow's `POST /api/2.0/mlflow/runs/log-batch` in requests of
1,000 metrics. Each server is a real process on a fresh database. The sizes are taken after the runs exist and
again after their points are stored; the difference, per table and per index, divided by the number of points,
is what a point costs. SQLite: the `dbstat` virtual table (bytes of the pages each table and index uses; free
pages not counted) and the file's size. Postgres: `pg_table_size` (heap, TOAST, free-space and visibility maps)
and `pg_indexes_size`, as ingestion left them and again after VACUUM FULL (the rollups' upserts leave dead rows).

MLflow gets fewer runs of the same shape (1,000 steps of 10 keys each) only because it ingests ~2,000 points/s;
its bytes per point do not depend on the number of runs (checked once with --mlflow-runs 100: docs/BENCHMARKS.md).
With ``--what-if``, the same points alone (no rollups, no events) go straight into four SQLite layouts, the one
before revision 0013 first, to show what each change of layout saves.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import banner, mlflow_server, mlflow_version, postgres_database, running_stack  # noqa: E402

KEYS = (  # (name, shape of its values)
    ("train/loss", "loss"), ("valid/loss", "loss"), ("train/acc", "acc"), ("valid/acc", "acc"), ("lr", "lr"),
    ("grad_norm", "norm"), ("param_norm", "norm"), ("throughput", "rate"), ("train/top5", "acc"), ("valid/top5", "acc"),
)  # fmt: skip
BATCH_STEPS = 100  # steps per request: keys x 100 = 1,000 points with 10 keys
JSON = {"Content-Type": "application/json"}
GROUPS = {  # trainboard's tables, in the order they are printed; anything else is "other"
    "metric_points": "points",
    "metric_blocks": "points",  # Postgres (revision 0014): the points packed by block; metric_points is a view there
    "metric_series": "series",
    "metric_rollups": "rollups",
    "run_events": "metrics events",
}
MLFLOW_GROUPS = {"metrics": "metrics", "latest_metrics": "latest_metrics"}

Sizes = dict[tuple[str, str], int]  # (table, "table" or "indexes") -> bytes


# --- data ------------------------------------------------------------------------------------------------------


def series_value(kind: str, step: int, steps: int, rng: random.Random) -> float:
    """A plausible value of a key of this kind at the step: full-precision floats, as training produces them."""
    t = step / steps
    noise = rng.gauss(0, 1)
    if kind == "loss":
        return 2.3 * math.exp(-3 * t) + 0.05 + 0.02 * noise
    if kind == "acc":
        return min(1.0, 0.1 + 0.85 * (1 - math.exp(-4 * t)) + 0.01 * noise)
    if kind == "lr":  # cosine schedule
        return 0.001 * 0.5 * (1 + math.cos(math.pi * t))
    if kind == "norm":
        return 30 + 5 * t + abs(noise)
    return 1500 + 40 * noise  # samples/s


def run_points(run_index: int, n_keys: int, steps: int) -> list[tuple[str, int, float]]:
    rng = random.Random(run_index)
    return [(name, s, series_value(kind, s, steps, rng)) for s in range(steps) for name, kind in KEYS[:n_keys]]


def batches(points: list[tuple[str, int, float]], n_keys: int) -> Iterator[list[tuple[str, int, float]]]:
    size = n_keys * BATCH_STEPS
    for start in range(0, len(points), size):
        yield points[start : start + size]


def post(http: httpx.Client, path: str, body: dict) -> None:
    response = http.post(path, content=json.dumps(body).encode(), headers=JSON)
    if response.status_code != 200:
        raise RuntimeError(f"POST {path}: HTTP {response.status_code}: {response.text[:500]}")


# --- sizes -----------------------------------------------------------------------------------------------------


def sqlite_sizes(path: Path) -> Sizes:
    """Bytes of the pages of each table and of its indexes, from `dbstat`."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        owners = {
            name: (table, kind) for name, table, kind in db.execute("SELECT name, tbl_name, type FROM sqlite_master")
        }
        sizes: Sizes = {}
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table, kind = owners.get(name, (name, "table"))
            where = (table, "indexes" if kind == "index" else "table")
            sizes[where] = sizes.get(where, 0) + size
    db.close()
    return sizes


def postgres_sizes(url: str) -> Sizes:
    import psycopg

    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
    sizes: Sizes = {}
    for table, heap, indexes in rows:
        sizes[(table, "table")] = heap
        sizes[(table, "indexes")] = indexes
    return sizes


def grew(before: Sizes, after: Sizes) -> Sizes:
    return {where: after[where] - before.get(where, 0) for where in after if after[where] != before.get(where, 0)}


def report(title: str, growth: Sizes, n_points: int, groups: dict[str, str], headline: tuple[str, ...]) -> float:
    """Print bytes per point per group (table and its indexes); return the bytes per point of the headline groups."""
    print(f"{title}: {n_points:,} points")
    by_group: dict[str, dict[str, int]] = {}
    for (table, part), size in growth.items():
        group = groups.get(table, "other")
        by_group.setdefault(group, {"table": 0, "indexes": 0})[part] += size
    total = sum(growth.values())
    order = [*dict.fromkeys(groups.values()), "other"]
    for group in order:
        parts = by_group.get(group, {"table": 0, "indexes": 0})
        both = parts["table"] + parts["indexes"]
        print(
            f"  {group:<15} table {parts['table'] / n_points:6.1f} B/pt   indexes {parts['indexes'] / n_points:6.1f}"
            f" B/pt   together {both / n_points:6.1f} B/pt  ({both / max(total, 1):5.1%})"
        )
    headline_bytes = sum(growth[w] for w in growth if groups.get(w[0], "other") in headline)
    print(f"  {'total':<15} {total / n_points:6.1f} B/pt ({total / 1e6:.1f} MB)")
    return headline_bytes / n_points if headline != ("*",) else total / n_points


# --- trainboard ------------------------------------------------------------------------------------------------


def fill_trainboard(url: str, n_runs: int, n_keys: int, steps: int, measure: object) -> tuple[Sizes, float]:
    """Create the runs, take the sizes (``measure()``), post every point; the sizes before and the seconds taken."""
    with httpx.Client(base_url=url, timeout=120) as http:
        runs = [http.post("/api/runs", json={"name": f"storage-{i}", "external": True}).json() for i in range(n_runs)]
        before = measure()  # type: ignore[operator]
        start = time.perf_counter()
        for i, run in enumerate(runs):
            http.headers["X-Trainboard-Lease"] = run["lease"]
            for chunk in batches(run_points(i, n_keys, steps), n_keys):
                post(
                    http,
                    f"/api/runs/{run['id']}/metrics",
                    {"points": [{"key": k, "step": s, "value": v} for k, s, v in chunk]},
                )
        seconds = time.perf_counter() - start
        counts = [k["count"] for k in http.get(f"/api/runs/{runs[-1]['id']}/keys").json()]
        assert counts == [steps] * n_keys, counts
        print(f"  (ingested in {seconds:.0f} s, {n_runs * n_keys * steps / seconds:,.0f} points/s)")
    return before, seconds


def trainboard_sqlite(root: Path, n_runs: int, n_keys: int, steps: int) -> float:
    with running_stack(root / "sqlite", workers=0) as stack:
        path = stack.home / "trainboard.sqlite"
        before, _ = fill_trainboard(stack.url, n_runs, n_keys, steps, lambda: sqlite_sizes(path))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stored = db.execute("SELECT COUNT(*) FROM metric_points").fetchone()[0]
    after = sqlite_sizes(path)
    n_points = n_runs * n_keys * steps
    assert stored == n_points, (stored, n_points)
    per_point = report("trainboard on SQLite (dbstat)", grew(before, after), n_points, GROUPS, ("*",))
    print(f"  (file size {path.stat().st_size / 1e6:.1f} MB, {path.stat().st_size / n_points:.1f} B/pt)")
    return per_point


def trainboard_postgres(root: Path, database_url: str, n_runs: int, n_keys: int, steps: int) -> tuple[float, float]:
    """Bytes per point as ingestion left them and after VACUUM FULL."""
    import psycopg

    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    env = {"DATABASE_URL": database_url}
    with running_stack(root / "pg", workers=0, extra_env=env) as stack:
        before, _ = fill_trainboard(stack.url, n_runs, n_keys, steps, lambda: postgres_sizes(plain))
    n_points = n_runs * n_keys * steps
    as_left = report(
        "trainboard on Postgres, as ingestion left it", grew(before, postgres_sizes(plain)), n_points, GROUPS, ("*",)
    )
    with psycopg.connect(plain, autocommit=True) as db:
        db.execute("VACUUM FULL")
        stored = db.execute("SELECT COUNT(*) FROM metric_points").fetchone()[0]  # type: ignore[index]
    assert stored == n_points, (stored, n_points)
    vacuumed = report(
        "trainboard on Postgres, after VACUUM FULL", grew(before, postgres_sizes(plain)), n_points, GROUPS, ("*",)
    )
    return as_left, vacuumed


# --- what the goal would take: the same points in other SQLite layouts, written directly (no trainboard) ---------

LAYOUTS = {
    "before 0013: rowid table + (run_id, key, step) index": (
        "CREATE TABLE p (run_id INTEGER, key VARCHAR(64), step BIGINT, value FLOAT, PRIMARY KEY (run_id, key, step))",
        "INSERT INTO p VALUES (?, ?, ?, ?)",
    ),
    "WITHOUT ROWID": (
        "CREATE TABLE p (run_id INTEGER, key VARCHAR(64), step BIGINT, value FLOAT, PRIMARY KEY (run_id, key, step))"
        " WITHOUT ROWID",
        "INSERT INTO p VALUES (?, ?, ?, ?)",
    ),
    "WITHOUT ROWID, key as a series id (0013, less its seq)": (
        "CREATE TABLE p (series INTEGER, step BIGINT, value FLOAT, PRIMARY KEY (series, step)) WITHOUT ROWID",
        "INSERT INTO p VALUES (?, ?, ?)",
    ),
    "packed: a row per series and 64-step block": (
        "CREATE TABLE p (series INTEGER, block INTEGER, steps BLOB, vals BLOB, PRIMARY KEY (series, block))"
        " WITHOUT ROWID",
        "INSERT INTO p VALUES (?, ?, ?, ?)",
    ),
}


def layout_rows(layout: str, n_runs: int, n_keys: int, steps: int) -> Iterator[tuple]:
    for i in range(n_runs):
        points = run_points(i, n_keys, steps)
        if layout.startswith("before") or layout == "WITHOUT ROWID":
            yield from ((i + 1, k, s, v) for k, s, v in points)
            continue
        by_key: dict[str, list[tuple[int, float]]] = {}
        for k, s, v in points:
            by_key.setdefault(k, []).append((s, v))
        for j, series in enumerate(by_key.values()):
            sid = i * n_keys + j + 1
            if not layout.startswith("packed"):
                yield from ((sid, s, v) for s, v in series)
                continue
            for b in range(0, len(series), 64):
                block = series[b : b + 64]  # dense steps: 1-byte deltas from the block's first step (+ 8 for it)
                first = block[0][0]
                deltas = bytes(s - first for s, _ in block[1:]) if block[-1][0] - first < 256 else None
                assert deltas is not None, "the sketch packs dense steps only"
                yield (
                    sid,
                    b // 64,
                    first.to_bytes(8, "little") + deltas,
                    struct.pack(f"<{len(block)}d", *(v for _, v in block)),
                )


def what_if(root: Path, n_runs: int, n_keys: int, steps: int) -> None:
    n_points = n_runs * n_keys * steps
    print(f"the same {n_points:,} points in other SQLite layouts (points only: no rollups, no events; dbstat):")
    for i, (layout, (create, insert)) in enumerate(LAYOUTS.items()):
        path = root / f"layout-{i}.sqlite"
        with sqlite3.connect(path) as db:
            db.execute(create)
            db.executemany(insert, layout_rows(layout, n_runs, n_keys, steps))
        size = sum(sqlite_sizes(path).values())
        print(f"  {layout:<48} {size / n_points:6.1f} B/pt")


# --- MLflow ----------------------------------------------------------------------------------------------------


def mlflow_store(root: Path, n_runs: int, n_keys: int, steps: int) -> float:
    api = "/api/2.0/mlflow"
    workdir = root / "mlflow"
    with mlflow_server(workdir) as server, httpx.Client(base_url=server.url, timeout=300) as http:
        experiment = http.post(f"{api}/experiments/create", json={"name": f"storage-{time.time_ns()}"}).json()
        run_ids = []
        for _ in range(n_runs):
            created = http.post(
                f"{api}/runs/create",
                json={"experiment_id": experiment["experiment_id"], "start_time": int(time.time() * 1000)},
            )
            run_ids.append(created.json()["run"]["info"]["run_id"])
        before = sqlite_sizes(workdir / "mlflow.db")
        start = time.perf_counter()
        t0 = int(time.time() * 1000)
        for i, run_id in enumerate(run_ids):
            for chunk in batches(run_points(i, n_keys, steps), n_keys):
                metrics = [{"key": k, "value": v, "timestamp": t0 + 250 * s, "step": s} for k, s, v in chunk]
                post(http, f"{api}/runs/log-batch", {"run_id": run_id, "metrics": metrics})
        print(f"  (ingested in {time.perf_counter() - start:.0f} s)")
    path = workdir / "mlflow.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stored = db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    n_points = n_runs * n_keys * steps
    assert stored == n_points, (stored, n_points)
    return report(
        f"MLflow {mlflow_version()} on SQLite (dbstat)",
        grew(before, sqlite_sizes(path)),
        n_points,
        MLFLOW_GROUPS,
        ("metrics", "latest_metrics"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="trainboard runs")
    parser.add_argument("--keys", type=int, default=10, choices=range(1, len(KEYS) + 1), metavar="1-10")
    parser.add_argument("--steps", type=int, default=1000, help="steps per key (a multiple of 100)")
    parser.add_argument("--mlflow-runs", type=int, default=10, help="MLflow runs of the same shape")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--what-if", action="store_true", help="also the points alone in other SQLite layouts")
    parser.add_argument(
        "--steps-per-request", type=int, default=100, help="steps of every key a request brings (default 100)"
    )
    args = parser.parse_args()
    global BATCH_STEPS  # read by batches(); a bench-wide setting
    BATCH_STEPS = args.steps_per_request

    banner("storage: bytes on disk per stored point (tables and their indexes, growth over the ingestion)")
    print(
        f"# trainboard: {args.runs} runs x {args.keys} keys x {args.steps} steps = "
        f"{args.runs * args.keys * args.steps:,} points, POST /api/runs/{{id}}/metrics, "
        f"{args.keys * BATCH_STEPS} points a request; MLflow: {args.mlflow_runs} runs of the same shape, log-batch"
    )
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        root = Path(tmp)
        tb = trainboard_sqlite(root, args.runs, args.keys, args.steps)
        if args.what_if:
            what_if(root, args.runs, args.keys, args.steps)
        pg: tuple[float, float] | None = None
        if not args.no_postgres:
            with postgres_database() as database_url:
                if database_url:
                    pg = trainboard_postgres(root, database_url, args.runs, args.keys, args.steps)
        if args.no_mlflow:
            return 0
        try:
            ml = mlflow_store(root, args.mlflow_runs, args.keys, args.steps)
        except RuntimeError as exc:
            print(f"# MLflow could not be installed or started here; trainboard's figures only ({exc})")
            return 0
    print(f"MLflow metrics + latest_metrics: {ml:.1f} B/pt")
    ratio = tb / ml
    print(
        f"ratio trainboard (SQLite, everything) / MLflow (metrics + latest_metrics): {ratio:.2f} "
        f"(goal <= 0.25: {'MET' if ratio <= 0.25 else 'NOT MET'}; <= 32 B/pt on SQLite: "
        f"{'MET' if tb <= 32 else 'NOT MET'})"
    )
    if pg is not None:
        worst = max(pg) / ml
        print(
            f"ratio trainboard (Postgres, everything; as left {pg[0]:.1f}, vacuumed {pg[1]:.1f} B/pt) / MLflow: "
            f"{worst:.2f} at worst (goal <= 0.25: {'MET' if worst <= 0.25 else 'NOT MET'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
