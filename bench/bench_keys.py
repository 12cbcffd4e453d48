"""`GET /api/runs/{id}/keys` on a run of 1,000,000 points across 10 keys: does it stay cheap?

    .venv/bin/python bench/bench_keys.py [--points 1000000] [--keys 10] [--requests 20] [--postgres URL]

The points go in through the ingestion's own ``add_points`` (10,000 points a batch, in process), so the rollups
are exactly what a real run keeps; then the route is timed
through the app (in process, FastAPI's TestClient: routing, validation and JSON included), median and p95, next
to `GET /api/runs/{id}` (one row) as the baseline of any request through the same app, and a plain
`count(*) ... GROUP BY key` over the points (what the route would cost without the rollups).
SQLite by default (a fresh file); ``--postgres postgresql+psycopg://user@host/db`` uses that database (migrated
here, and the run is deleted afterwards).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.db import migrate  # noqa: E402
from backend.main import create_app  # noqa: E402
from backend.models import Run  # noqa: E402
from backend.schemas import Points  # noqa: E402
from backend.services.metrics.ingest import add_points  # noqa: E402
from bench.common import banner, summary  # noqa: E402
from trainboard.settings import Settings  # noqa: E402

BATCH = 10_000
LOCAL_URL = "http://127.0.0.1:8000"


def fill(client: TestClient, run_id: int, lease: str, *, points: int, keys: int) -> None:
    """``points`` points spread evenly over ``keys`` keys, each series 0..points/keys-1, in batches of BATCH."""
    per_key = points // keys
    for k in range(keys):
        for start in range(0, per_key, BATCH):
            steps = list(range(start, min(per_key, start + BATCH)))
            batch: Points = {f"train/k{k}": (steps, [float(s % 997) for s in steps])}
            with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
                add_points(session, run_id=run_id, points=batch, lease=lease)


def naive_count(client: TestClient, run_id: int, *, repeat: int) -> list[float]:
    """What the route would cost without the rollups: counting every point, in SQL (no HTTP, no JSON)."""
    times = []
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        for _ in range(repeat):
            t = time.perf_counter()
            session.execute(
                text(
                    "SELECT s.key, count(*), max(p.step) FROM metric_points p"
                    " JOIN metric_series s ON s.id = p.series_id WHERE s.run_id = :r GROUP BY s.key"
                ),
                {"r": run_id},
            ).all()
            times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="a Postgres URL instead of a fresh SQLite file")
    args = parser.parse_args()
    banner(f"GET /api/runs/{{id}}/keys, {args.points:,} points across {args.keys} keys")
    home = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    settings = Settings(home=home, data_dir=home / "data", database_url=args.postgres)
    migrate(settings.sqlalchemy_url)
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        run = client.post("/api/runs", json={"external": True, "config": {}}).json()
        run_id = int(run["id"])
        started = time.perf_counter()
        fill(client, run_id, run["lease"], points=args.points, keys=args.keys)
        print(f"# filled in {time.perf_counter() - started:.1f} s ({settings.sqlalchemy_url.split(':')[0]})")
        times: list[float] = []
        baseline: list[float] = []  # the same app reading the run's own row: what any request costs here
        for _ in range(args.requests):
            for path, into in ((f"/api/runs/{run_id}/keys", times), (f"/api/runs/{run_id}", baseline)):
                t = time.perf_counter()
                reply = client.get(path)
                into.append((time.perf_counter() - t) * 1000)
                reply.raise_for_status()
        body = client.get(f"/api/runs/{run_id}/keys").json()
        assert sum(item["count"] for item in body) == args.points // args.keys * args.keys, body
        print(f"keys: {len(body)}, first {body[0]}")
        print(f"GET /keys ms: {summary(times)}")
        print(f"GET /runs/{{id}} ms (baseline): {summary(baseline)}")
        print(f"counting the points instead, ms: {summary(naive_count(client, run_id, repeat=3))}")
        if args.postgres:
            with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
                session.execute(delete(Run).where(Run.id == run_id))
                session.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
