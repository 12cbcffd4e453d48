"""Where a 1,000-point `POST /api/runs/{id}/metrics` spends its time, stage by stage. Not a timed test: a
diagnostic that backs the figures in docs/BENCHMARKS.md.

    .venv/bin/python bench/profile_ingest.py [--batches 30] [--no-postgres]

Runs the API's own code in-process (no HTTP), on a fresh SQLite file and a fresh Postgres database:
  1. request parsing: FastAPI's way (json.loads, then pydantic on the dicts) vs `PointsIn.model_validate_json`, on
     points one by one, and on the same points per key as arrays (what the senders post)
  2. `backend.services.metrics.add_points` as it is, and the stages it is made of, each timed alone on a run of
     its own: the driver-level insert (`ingest.insert_ignoring_duplicates`: SQLite, a multi-row
     `INSERT ... ON CONFLICT DO NOTHING RETURNING`; Postgres, the stored steps of overlapping blocks read back,
     then the new points packed into blocks by binary COPY), then the rollups of the new points
     (`rollups.update_rollups`); the rest is the event, the lock and the commit. On Postgres `add_points` stores a
     batch of new points in one call of `trainboard_add_points` (revision 0015) instead, so the stages are those
     of a batch that overlaps stored points (a retry); the call is timed alone (a plain psycopg connection) and
     so is the Python that prepares its parameters (`ingest_postgres.call_params`).
  3. on Postgres, 1,000 new points written each way the ingestion could (INSERT ... SELECT FROM unnest with text
     or binary parameters, binary COPY of rows, binary COPY of blocks), taking turns, committed with and without
     waiting for the WAL's fsync;
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from backend.schemas import Points, PointsIn  # noqa: E402
from backend.services import leases, metrics, runs  # noqa: E402
from backend.services.events import locked_run  # noqa: E402
from backend.services.metrics.ingest import announcement, insert_ignoring_duplicates, series_ids  # noqa: E402
from backend.services.metrics.ingest_postgres import CALL, call_params  # noqa: E402
from backend.services.metrics.pg_arrays import packing  # noqa: E402
from backend.services.metrics.rollups import update_rollups  # noqa: E402
from bench.bench_ingest import BATCH, make_values, trainboard_bodies  # noqa: E402
from bench.common import banner, postgres_database, running_stack  # noqa: E402
from trainboard.spec import RunSpec  # noqa: E402


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
    batches = [PointsIn.model_validate_json(body).latest() for body in raw]
    n = len(batches) // 2

    run_leases: dict[int, str] = {}

    def new_run() -> int:
        """An external run, and the lease its script would hold (as the create reply gives it)."""
        with factory() as session:
            run = runs.new_run(spec=RunSpec(external=True))
            lease = leases.issue(run)
            runs.add_runs(session, [run])
            run_leases[run.id] = lease
            return run.id

    def stages(run_id: int, points: Points) -> tuple[float, float]:
        """The insert and the rollups of one batch, in milliseconds, under the run's lock and then committed."""
        with factory() as session, locked_run(session, run_id) as run:
            assert run is not None
            ids = series_ids(session, run_id=run_id, keys=set(points))
            keys = {series: key for key, series in ids.items()}
            t = time.perf_counter()
            by_id = {ids[key]: arrays for key, arrays in points.items()}
            stored = insert_ignoring_duplicates(session, run.event_seq + 1, by_id)
            new = {keys[series]: arrays for series, arrays in stored.items()}
            inserted = time.perf_counter()
            update_rollups(session, run_id=run_id, points=new)
            rolled_up = time.perf_counter()
            session.commit()
        return (inserted - t) * 1000, (rolled_up - inserted) * 1000

    def run_all(fn: Callable[..., Any], run_id: int, chunk: list[Points]) -> list[float]:
        samples = []
        for points in chunk:
            t = time.perf_counter()
            with factory() as session:
                fn(session, run_id=run_id, points=points, lease=run_leases[run_id])
            samples.append((time.perf_counter() - t) * 1000)
        return samples

    try:
        # Warm both paths on a throwaway run, then time each on fresh runs of equal size.
        warm = new_run()
        run_all(metrics.add_points, warm, batches[:2])
        stages(warm, batches[2])
        whole = run_all(metrics.add_points, new_run(), batches[:n])
        stages_run = new_run()
        insert, rollup = zip(*(stages(stages_run, points) for points in batches[n : 2 * n]), strict=True)
        retry = run_all(metrics.add_points, stages_run, batches[n : n + 3])  # all duplicates: a retried batch
        call_run = None if url.startswith("sqlite") else new_run()  # for the one call timed alone
    finally:
        engine.dispose()
    med_whole, med_insert, med_rollup = (statistics.median(x) for x in (whole, insert, rollup))
    print(f"{label}: add_points as it is             {med_whole:7.2f} ms per 1,000 points (median of {n})")
    if url.startswith("sqlite"):
        print(f"{label}:   of which the insert           {med_insert:7.2f} ms (insert_ignoring_duplicates)")
        print(f"{label}:   of which the rollups upsert    {med_rollup:7.2f} ms (both levels)")
        print(f"{label}:   the rest (rows, event, lock, commit) {med_whole - med_insert - med_rollup:7.2f} ms")
    else:
        assert call_run is not None
        call, params = postgres_call(url, call_run, run_leases[call_run], batches[n : 2 * n])
        print(f"{label}:   of which the call alone       {call:7.2f} ms (trainboard_add_points, plain psycopg)")
        print(f"{label}:   of which its parameters       {params:7.2f} ms (ingest_postgres.call_params, Python)")
        print(f"{label}: a batch overlapping stored points, statement by statement: the insert {med_insert:.2f} ms "
              f"(insert_ignoring_duplicates), the rollups {med_rollup:.2f} ms")  # fmt: skip
    print(f"{label}: add_points, batch already stored {statistics.median(retry):7.2f} ms (a retry)")


def postgres_call(url: str, run_id: int, lease: str, batches: list[Points]) -> tuple[float, float]:
    """Median milliseconds of one ``trainboard_add_points`` call of each batch on a fresh run, over a plain psycopg
    connection in autocommit mode as the ingestion makes it, and of preparing its parameters."""
    import psycopg

    params = [call_params(run_id=run_id, points=p, lease=lease, announced=announcement(p)) for p in batches]
    calls = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for each in params:
            t = time.perf_counter()
            outcome = packing(conn.cursor()).execute(CALL, each).fetchone()
            calls.append((time.perf_counter() - t) * 1000)
            assert outcome is not None and outcome[0] == "stored", outcome
    it = iter(batches)

    def prepare() -> None:
        points = next(it)
        call_params(run_id=run_id, points=points, lease=lease, announced=announcement(points))

    return statistics.median(calls), timed(prepare, len(batches))


_INSERT = (
    "INSERT INTO scratch_points (series_id, seq, step, value) SELECT s, 1, t, v FROM unnest({0}::int[], {0}::bigint[],"
    " {0}::float8[]) AS u(s, t, v) ON CONFLICT DO NOTHING RETURNING series_id, step, value"
)


def postgres_insert_variants(url: str, rounds: int) -> None:
    """1,000 new points (10 series x 100 steps) into a table shaped like 0013's metric_points, each way the
    ingestion could write them, and as blocks into one shaped like metric_blocks (revision 0014), taking turns; each
    insert committed (with and without waiting for the WAL's fsync)."""
    import psycopg

    def unnest(placeholder: str) -> Callable[[Any, list[tuple[int, int, float]]], None]:
        def insert(cursor: Any, rows: list[tuple[int, int, float]]) -> None:
            cursor.execute(_INSERT.format(placeholder), [list(column) for column in zip(*rows, strict=True)])
            cursor.fetchall()

        return insert

    def copy_binary(cursor: Any, rows: list[tuple[int, int, float]]) -> None:
        cursor.execute("SAVEPOINT p")
        with cursor.copy("COPY scratch_points (series_id, seq, step, value) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int4", "int8", "float8"])
            for series_id, step, value in rows:
                copy.write_row((series_id, 1, step, value))
        cursor.execute("RELEASE SAVEPOINT p")

    def copy_blocks(cursor: Any, rows: list[tuple[int, int, float]]) -> None:
        blocks: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
        for row in sorted(rows):
            blocks.setdefault((row[0], row[1] - row[1] % 1024), []).append(row)
        with cursor.copy("COPY scratch_blocks (series_id, seq, first_step, last_step, steps, vals) FROM STDIN "
                         "(FORMAT BINARY)") as copy:  # fmt: skip
            copy.set_types(["int4", "int4", "int8", "int8", "int8[]", "float8[]"])
            for (series_id, _), block in blocks.items():
                steps = [step for _, step, _ in block]
                copy.write_row((series_id, 1, steps[0], steps[-1], steps, [value for _, _, value in block]))

    ways = {"INSERT ... unnest, text parameters": unnest("%s"), "INSERT ... unnest, binary parameters": unnest("%b"),
            "COPY rows, binary (revision 0013)": copy_binary,
            "COPY blocks, binary (the ingestion's way)": copy_blocks}  # fmt: skip
    rng = random.Random(3)
    batch = iter(range(10**9))
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(
            "CREATE TABLE scratch_points (series_id int, seq int, step bigint, value float8, "
            "PRIMARY KEY (series_id, step))"
        )
        conn.execute(
            "CREATE TABLE scratch_blocks (series_id int, seq int, first_step bigint, last_step bigint, "
            "steps bigint[], vals float8[], PRIMARY KEY (series_id, first_step))"
        )
        conn.commit()
        for sync in ("on", "off"):
            conn.execute(f"SET synchronous_commit = {sync}")
            samples: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(rounds):
                for name, insert in ways.items():
                    b = next(batch)
                    rows = [(k, b * 100 + s, rng.random()) for k in range(1, 11) for s in range(100)]
                    t = time.perf_counter()
                    with conn.cursor() as cursor:
                        insert(cursor, rows)
                    conn.commit()
                    samples[name].append((time.perf_counter() - t) * 1000)
            base = statistics.median(samples["INSERT ... unnest, text parameters"])
            for name, times in samples.items():
                median = statistics.median(times)
                print(f"Postgres: {name:<38} synchronous_commit {sync:<3} {median:7.2f} ms ({base / median:.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    banner("ingestion profile: one 1,000-point batch, stage by stage (in-process unless said)")
    values = make_values(2 * args.batches * BATCH)
    raw = trainboard_bodies(2 * args.batches, values)  # as the senders post them: per key as arrays

    body = trainboard_bodies(1, values, one_by_one=True)[0]  # the first batch, points one by one
    adapter_ms = timed(lambda: PointsIn.model_validate(json.loads(body)), 50)
    json_ms = timed(lambda: json.loads(body), 50)
    native_ms = timed(lambda: PointsIn.model_validate_json(body), 50)
    arrays_ms = timed(lambda: PointsIn.model_validate_json(raw[0]).latest(), 50)
    print(f"parse: json.loads                                  {json_ms:7.2f} ms")
    print(f"parse: json.loads + PointsIn.model_validate (FastAPI) {adapter_ms:7.2f} ms")
    print(f"parse: PointsIn.model_validate_json (raw body)     {native_ms:7.2f} ms")
    print(f"parse: the same points as arrays (series), + latest() {arrays_ms:7.2f} ms")

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        profile_database("SQLite  ", f"sqlite:///{tmp}/profile.sqlite", raw)
        if not args.no_postgres:
            with postgres_database() as database_url:
                if database_url:
                    profile_database("Postgres", database_url, raw)
                    postgres_insert_variants(database_url, args.batches)

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
