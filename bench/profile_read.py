"""Where `GET /api/runs/{id}/metrics?max_points=2000` spends its time on a 1,000,000-point series, and what each
candidate backend change gives, measured on the same SQLite data in the same run. A diagnostic behind the
recommendations in docs/BENCHMARKS.md, not a timed test.

    .venv/bin/python bench/profile_read.py [--points 1000000] [--repeat 5]

In-process, on a migrated SQLite file:
  1. `backend.services.metrics.read_series` as it is, and its three queries one by one;
  2. cheap query fixes: the count bounded by LIMIT max_points+1, min(step) and max(step) as two queries (SQLite
     answers a lone min() or max() from the index, both together with a scan);
  3. the same bucket query on a WITHOUT ROWID copy of the table (the value sits in the primary-key b-tree);
  4. a rollup table (min and max per 1,024-step bucket, kept up to date at ingestion): the read merges about
     1,000 rollup rows instead of scanning a million points; also the ingestion-side cost of keeping it.
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from backend.services import metrics, runs  # noqa: E402
from bench.common import banner  # noqa: E402
from trainboard.spec import RunSpec  # noqa: E402

MAX_POINTS = 2_000
ROLLUP_WIDTH = 1_024
IN_BUCKET = "FROM metric_points WHERE run_id = ? AND key = ? AND step >= i * ? AND step < (i + 1) * ?"


def timed(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def bucket_query(table: str) -> str:
    return (
        f"SELECT (step - ?) / ? AS bucket, min(value), max(value), min(step), max(step) FROM {table} "
        "WHERE run_id = ? AND key = ? GROUP BY bucket ORDER BY bucket"
    )


def read_with_rollups(conn: sqlite3.Connection, run_id: int, key: str, max_points: int) -> dict[str, list[Any]]:
    """Downsample from the rollup table: output buckets are whole multiples of the rollup width."""
    low = conn.execute(
        "SELECT step FROM metric_points WHERE run_id = ? AND key = ? ORDER BY step LIMIT 1", (run_id, key)
    ).fetchone()[0]
    high = conn.execute(
        "SELECT step FROM metric_points WHERE run_id = ? AND key = ? ORDER BY step DESC LIMIT 1", (run_id, key)
    ).fetchone()[0]
    n_buckets = max(1, max_points // 2)
    per_bucket = max(1, math.ceil((high - low + 1) / n_buckets / ROLLUP_WIDTH))  # rollup rows per output bucket
    steps: list[int] = []
    values: list[float] = []
    current: list[Any] | None = None
    rows = conn.execute(
        "SELECT bucket, vmin, vmax, smin, smax FROM metric_rollups WHERE run_id = ? AND key = ? AND width = ? "
        "AND bucket BETWEEN ? AND ? ORDER BY bucket",
        (run_id, key, ROLLUP_WIDTH, low // ROLLUP_WIDTH, high // ROLLUP_WIDTH),
    )

    def emit(b: list[Any]) -> None:
        _, vmin, vmax, smin, smax = b
        if smin == smax or vmin == vmax:
            steps.append(smin)
            values.append(vmax)
        else:
            steps.extend((smin, smax))
            values.extend((vmin, vmax))

    for bucket, vmin, vmax, smin, smax in rows:
        group = bucket // per_bucket
        if current is not None and current[0] == group:
            current[1] = min(current[1], vmin)
            current[2] = max(current[2], vmax)
            current[4] = smax
        else:
            if current is not None:
                emit(current)
            current = [group, vmin, vmax, smin, smax]
    if current is not None:
        emit(current)
    return {"step": steps, "value": values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.points, args.repeat
    banner(f"read profile: {n:,} points -> max_points={MAX_POINTS}, medians of {repeat}, in-process SQLite")

    with tempfile.TemporaryDirectory(prefix="bench-profile-read-") as tmp:
        db = Path(tmp) / "read.sqlite"
        url = f"sqlite:///{db}"
        migrate(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        with factory() as session:
            (run,) = runs.add_runs(session, [runs.new_run(spec=RunSpec(external=True))])
            run_id = run.id
        rng = random.Random(42)
        values = [rng.random() for _ in range(n)]
        spike = n // 3 + 7
        values[spike] = 1_000.0
        conn = sqlite3.connect(db)
        conn.executemany(
            "INSERT INTO metric_points (run_id, key, step, value) VALUES (?, 'loss', ?, ?)",
            ((run_id, step, value) for step, value in enumerate(values)),
        )
        conn.commit()

        # Build the candidates' tables first, then time every variant in interleaved rounds, so a load spike
        # on this shared machine hits them all alike.
        conn.execute(
            "CREATE TABLE points_wr (run_id INTEGER NOT NULL, key VARCHAR(64) NOT NULL, step BIGINT NOT NULL, "
            "value FLOAT, PRIMARY KEY (run_id, key, step)) WITHOUT ROWID"
        )
        conn.execute("INSERT INTO points_wr SELECT run_id, key, step, value FROM metric_points")
        conn.execute(
            "CREATE TABLE metric_rollups (run_id INTEGER NOT NULL, key VARCHAR(64) NOT NULL, width INTEGER NOT NULL, "
            "bucket BIGINT NOT NULL, vmin FLOAT, vmax FLOAT, smin BIGINT, smax BIGINT, n INTEGER, "
            "PRIMARY KEY (run_id, key, width, bucket)) WITHOUT ROWID"
        )
        conn.execute(
            "INSERT INTO metric_rollups SELECT run_id, key, ?, step / ?, min(value), max(value), min(step), "
            "max(step), count(*) FROM metric_points GROUP BY run_id, key, step / ?",
            (ROLLUP_WIDTH, ROLLUP_WIDTH, ROLLUP_WIDTH),
        )
        conn.commit()

        where = (run_id, "loss")
        width = math.ceil(n / (MAX_POINTS // 2))

        def current() -> dict[str, Any]:
            with factory() as session:
                return metrics.read_series(session, run_id=run_id, key="loss", max_points=MAX_POINTS)

        def one(sql: str, params: tuple[Any, ...]) -> Callable[[], Any]:
            return lambda: conn.execute(sql, params).fetchall()

        count = one("SELECT count(*) FROM metric_points WHERE run_id = ? AND key = ?", where)
        minmax = one("SELECT min(step), max(step) FROM metric_points WHERE run_id = ? AND key = ?", where)
        group = one(bucket_query("metric_points"), (0, width, *where))
        bounded = one(
            "SELECT count(*) FROM (SELECT 1 FROM metric_points WHERE run_id = ? AND key = ? LIMIT ?)",
            (*where, MAX_POINTS + 1),
        )
        low = one("SELECT min(step) FROM metric_points WHERE run_id = ? AND key = ?", where)
        high = one("SELECT max(step) FROM metric_points WHERE run_id = ? AND key = ?", where)
        group_wr = one(bucket_query("points_wr"), (0, width, *where))
        # No GROUP BY: one index range per bucket, so no temporary b-tree sorts a million rows.
        per_bucket = one(
            "WITH RECURSIVE b(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM b WHERE i + 1 < ?) SELECT i, "
            f"(SELECT min(value) {IN_BUCKET}), (SELECT max(value) {IN_BUCKET}) FROM b",
            (MAX_POINTS // 2, *where, width, width, *where, width, width),
        )
        variants: dict[str, Callable[[], Any]] = {
            "current": current,
            "count": count,
            "minmax": minmax,
            "group": group,
            "fixed": lambda: (bounded(), low(), high(), group()),
            "fixed_wr": lambda: (bounded(), low(), high(), group_wr()),
            "bounded": bounded,
            "split": lambda: (low(), high()),
            "group_wr": group_wr,
            "per_bucket": per_bucket,
            "rollups": lambda: read_with_rollups(conn, run_id, "loss", MAX_POINTS),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        results: dict[str, Any] = {}
        current()  # warm the page cache
        for _ in range(repeat):
            for name, fn in variants.items():
                t = time.perf_counter()
                results[name] = fn()
                samples[name].append((time.perf_counter() - t) * 1000)
        ms = {name: statistics.median(values) for name, values in samples.items()}
        now, rolled = results["current"], results["rollups"]
        assert len(rolled["step"]) <= MAX_POINTS and 1_000.0 in rolled["value"], "spike kept, within max_points"
        plan = [
            row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + bucket_query("metric_points"), (0, width, *where))
        ]

        print(
            f"as it is: read_series(max_points={MAX_POINTS})              {ms['current']:8.1f} ms, "
            f"{len(now['step'])} points"
        )
        print(f"  count(*) over the series                             {ms['count']:8.1f} ms")
        print(f"  min(step), max(step) in one query (scans the range)  {ms['minmax']:8.1f} ms")
        print(f"  GROUP BY bucket                                      {ms['group']:8.1f} ms  ({'; '.join(plan)})")
        print(f"fix: count(*) of at most {MAX_POINTS + 1} rows (LIMIT)             {ms['bounded']:8.1f} ms")
        print(f"fix: min(step) and max(step) as two queries (index)    {ms['split']:8.1f} ms")
        print(
            f"fix: both, with the same GROUP BY                     {ms['fixed']:8.1f} ms "
            f"({ms['current'] / ms['fixed']:.1f}x faster than as it is)"
        )
        print(
            f"fix + WITHOUT ROWID table                             {ms['fixed_wr']:8.1f} ms "
            f"(its GROUP BY {ms['group_wr']:.1f} ms; {ms['current'] / ms['fixed_wr']:.1f}x)"
        )
        print(
            f"fix + one index range per bucket, no GROUP BY         {ms['per_bucket']:8.1f} ms "
            f"(min and max values only; {ms['current'] / ms['per_bucket']:.1f}x)"
        )
        print(
            f"rollups (min/max per 1,024 steps), read              {ms['rollups']:8.1f} ms, {len(rolled['step'])} "
            f"points, spike kept ({ms['current'] / ms['rollups']:.0f}x)"
        )

        # The ingestion-side cost of rollups: one upsert per touched bucket of a 1,000-point batch.
        upsert = (
            "INSERT INTO metric_rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax), smin = min(smin, excluded.smin), "
            "smax = max(smax, excluded.smax), n = n + excluded.n"
        )
        batch_steps = iter(range(n, n + 1_000 * repeat * 4, 1_000))

        def maintain() -> None:
            first = next(batch_steps)
            rows: dict[int, list[Any]] = {}
            for step in range(first, first + 1_000):
                value = rng.random()
                b = rows.setdefault(step // ROLLUP_WIDTH, [value, value, step, step, 0])
                b[0], b[1], b[3], b[4] = min(b[0], value), max(b[1], value), step, b[4] + 1
            conn.executemany(upsert, [(run_id, "loss", ROLLUP_WIDTH, bucket, *stats) for bucket, stats in rows.items()])
            conn.commit()

        maintain_ms = timed(maintain, repeat * 4)
        print(f"rollups: upkeep per 1,000-point batch (1-2 upserts + commit) {maintain_ms:8.2f} ms")
        conn.close()
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
