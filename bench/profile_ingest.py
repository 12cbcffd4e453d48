"""Where a 1,000-point `POST /api/runs/{id}/metrics` spends its time, stage by stage, and what a faster insert
path would give. Not a timed test: a diagnostic that backs the recommendations in docs/BENCHMARKS.md.

    .venv/bin/python bench/profile_ingest.py [--batches 30] [--no-postgres]

Runs the API's own code in-process (no HTTP), on a fresh SQLite file and a fresh Postgres database:
  1. request parsing: FastAPI's way (json.loads, then pydantic on the dicts) vs `PointsIn.model_validate_json`
  2. `backend.services.metrics.add_points` as it is, split into its insert and its event + commit
  3. a candidate `add_points` (`fast_add_points` below) doing the same work with one driver-level statement:
     SQLite: a multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` with a flat parameter tuple;
     Postgres: `INSERT ... SELECT FROM unnest(%s, %s, %s) ON CONFLICT DO NOTHING RETURNING`.
  4. the HTTP + framework overhead of the real API process: a POST with an empty batch, timed end to end.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from backend.schemas import PointIn, PointsIn  # noqa: E402
from backend.services import metrics, runs  # noqa: E402
from backend.services.events import append_event, locked_run  # noqa: E402
from bench.common import banner, postgres_database, running_stack  # noqa: E402
from trainboard.spec import RunSpec  # noqa: E402

BATCH = 1_000


def fast_add_points(session: Any, *, run_id: int, points: Sequence[PointIn]) -> tuple[Any, int]:
    """What `metrics.add_points` does, with the insert as one driver-level statement and no ORM row objects.

    The proposed backend change: same semantics (ON CONFLICT DO NOTHING, the event holds only new points).
    """
    with locked_run(session, run_id) as run:
        if run is None:
            return None, 0
        latest = {(p.key, p.step): p.value for p in points}
        if not latest:
            session.commit()
            return run, 0
        dbapi = session.connection().connection.driver_connection
        keys, steps, values = [], [], []
        for (key, step), value in latest.items():
            keys.append(key)
            steps.append(step)
            values.append(value)
        cursor = dbapi.cursor()
        if session.get_bind().dialect.name == "postgresql":
            cursor.execute(
                "INSERT INTO metric_points (run_id, key, step, value) "
                "SELECT %s, * FROM unnest(%s::varchar[], %s::bigint[], %s::float8[]) "
                "ON CONFLICT DO NOTHING RETURNING key, step, value",
                (run_id, keys, steps, values),
            )
            new_rows = cursor.fetchall()
        else:
            new_rows = []
            for start in range(0, len(keys), 8_000):  # SQLite takes 32,766 parameters per statement
                chunk = range(start, min(start + 8_000, len(keys)))
                params: list[Any] = []
                for i in chunk:
                    params += (run_id, keys[i], steps[i], values[i])
                cursor.execute(
                    "INSERT INTO metric_points (run_id, key, step, value) VALUES "
                    + ",".join(["(?,?,?,?)"] * len(chunk))
                    + " ON CONFLICT DO NOTHING RETURNING key, step, value",
                    params,
                )
                new_rows += cursor.fetchall()
        cursor.close()
        if new_rows:
            new_rows.sort(key=lambda r: (r[0], r[1]))
            data = {
                key: {"step": [r[1] for r in rows], "value": [r[2] for r in rows]}
                for key, group in groupby(new_rows, key=lambda r: r[0])
                for rows in [list(group)]
            }
            append_event(session, run=run, kind="metrics", data=data)
        session.commit()
        return run, len(new_rows)


def bodies(n: int) -> list[bytes]:
    rng = random.Random(0)
    return [
        json.dumps(
            {"points": [{"key": "loss", "step": i, "value": rng.random()} for i in range(b * BATCH, (b + 1) * BATCH)]}
        ).encode()
        for b in range(n)
    ]


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median milliseconds of fn() over `repeat` calls."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def profile_database(label: str, url: str, raw: list[bytes]) -> None:
    migrate(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    batches = [PointsIn.model_validate_json(body).points for body in raw]
    n = len(batches) // 2

    def new_run() -> int:
        with factory() as session:
            (run,) = runs.add_runs(session, [runs.new_run(spec=RunSpec(external=True))])
            return run.id

    def insert_only(run_id: int, points: Sequence[PointIn]) -> None:
        with factory() as session, locked_run(session, run_id):
            rows = [{"run_id": run_id, "key": p.key, "step": p.step, "value": p.value} for p in points]
            metrics._insert_ignoring_duplicates(session, rows)
            session.commit()

    def run_all(fn: Callable[..., Any], run_id: int, chunk: list[Sequence[PointIn]]) -> list[float]:
        samples = []
        for points in chunk:
            t = time.perf_counter()
            with factory() as session:
                fn(session, run_id=run_id, points=points)
            samples.append((time.perf_counter() - t) * 1000)
        return samples

    try:
        # Warm both paths on a throwaway run, then time each on fresh runs of equal size.
        warm = new_run()
        run_all(metrics.add_points, warm, batches[:2])
        run_all(fast_add_points, warm, batches[2:4])
        current = run_all(metrics.add_points, new_run(), batches[:n])
        fast = run_all(fast_add_points, new_run(), batches[n : 2 * n])
        insert_run = new_run()
        insert = []
        for points in batches[:n]:
            t = time.perf_counter()
            insert_only(insert_run, points)
            insert.append((time.perf_counter() - t) * 1000)
        retry = run_all(metrics.add_points, insert_run, batches[:3])  # all duplicates: the retried-batch path
    finally:
        engine.dispose()
    med_current, med_fast, med_insert = (statistics.median(x) for x in (current, fast, insert))
    print(f"{label}: add_points as it is            {med_current:7.2f} ms per 1,000 points (median of {n})")
    print(f"{label}:   of which insert ... RETURNING {med_insert:7.2f} ms (SQLAlchemy insertmanyvalues + commit)")
    print(f"{label}:   event (JSON of the points), commit, lock: the rest, {med_current - med_insert:.2f} ms")
    print(f"{label}: add_points, batch already stored {statistics.median(retry):7.2f} ms (a retry)")
    print(f"{label}: candidate fast_add_points         {med_fast:7.2f} ms -> {med_current / med_fast:.1f}x faster")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    banner("ingestion profile: one 1,000-point batch, stage by stage (in-process unless said)")
    raw = bodies(2 * args.batches)

    body = raw[0]
    adapter_ms = timed(lambda: PointsIn.model_validate(json.loads(body)), 50)
    json_ms = timed(lambda: json.loads(body), 50)
    native_ms = timed(lambda: PointsIn.model_validate_json(body), 50)
    print(f"parse: json.loads                                  {json_ms:7.2f} ms")
    print(f"parse: json.loads + PointsIn.model_validate (FastAPI) {adapter_ms:7.2f} ms")
    print(f"parse: PointsIn.model_validate_json (raw body)     {native_ms:7.2f} ms")

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        profile_database("SQLite  ", f"sqlite:///{tmp}/profile.sqlite", raw)
        if not args.no_postgres:
            with postgres_database() as database_url:
                if database_url:
                    profile_database("Postgres", database_url, raw)

        with running_stack(Path(tmp) / "stack", workers=0) as stack, httpx.Client(base_url=stack.url) as http:
            run = http.post("/api/runs", json={"external": True}).json()
            run_id = run["id"]
            http.headers["X-Trainboard-Lease"] = run["lease"]  # this client plays the run's script
            empty = json.dumps({"points": []}).encode()
            headers = {"Content-Type": "application/json"}
            http.get("/api/health")
            health_ms = timed(lambda: http.get("/api/health").raise_for_status(), 100)
            empty_ms = timed(
                lambda: http.post(f"/api/runs/{run_id}/metrics", content=empty, headers=headers).raise_for_status(),
                100,
            )
            full = raw[: args.batches]
            it = iter(full)
            full_ms = timed(
                lambda: http.post(f"/api/runs/{run_id}/metrics", content=next(it), headers=headers).raise_for_status(),
                len(full),
            )
    print(f"HTTP: GET /api/health round trip (uvicorn)            {health_ms:7.2f} ms")
    print(f"HTTP: POST metrics with an empty batch (framework, lock, commit) {empty_ms:7.2f} ms")
    print(f"HTTP: POST metrics with 1,000 points (everything)    {full_ms:7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
