"""Cost as the data grows: ingestion and reads on an empty database, then with millions of points already stored.

    .venv/bin/python bench/bench_scale.py --backend sqlite   [--stages 0,10000000,50000000] [--runs 2000] [--jobs 2]
    .venv/bin/python bench/bench_scale.py --backend postgres [--stages ...] [--runs 2000] [--jobs 2]
    .venv/bin/python bench/bench_scale.py --backend sqlite --quick      # the script checked in about a minute

One database (a SQLite file, or a fresh Postgres database dropped afterwards) goes through the stages in turn. At
each stage:
  1. prefill, without HTTP: the stored total is brought up to the stage's figure by appending steps to --runs
     runs (10 keys each: noisy losses, accuracies, a cosine learning rate, ...) through the API's own ingestion
     service, ``backend.services.metrics.ingest.add_points``, in batches of --batch points, from --jobs processes.
     Nothing here writes a metric table itself, so the prefill stores what the API would, in whatever layout the
     schema has (rollups and live events included);
  2. a real ``trainboard api`` process is started on that database, and measured on runs created at this stage:
     - ingestion, bench_ingest.py's request: --requests POSTs of 1,000 points over one keep-alive connection;
       points/s and the POST p95;
     - reading, bench_read.py's requests on a --read-points series (default 1M, with a spike and a dip, written
       through add_points too): the downsampled chart read (max_points 2,000) and a 1,000-step zoom, median
       and p95 over --read-requests requests each, after one warm-up request;
  3. the database size (the SQLite file with its -wal and -shm; pg_database_size) and the load average.
The last table gives every stage's figures and its slowdown against the empty stage (>1 is slower; the goal is
at most 1.5x at 50M points).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import httpx
import psutil
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ingest import make_values, trainboard_target  # noqa: E402
from bench.bench_read import DIP, MAX_POINTS, SPIKE, fetch  # noqa: E402
from bench.common import POSTGRES_ADMIN_URL, banner, percentile, postgres_database, running_stack  # noqa: E402

KEYS = (
    "train/loss",
    "valid/loss",
    "train/acc",
    "valid/acc",
    "lr",
    "grad_norm",
    "param_norm",
    "samples_per_s",
    "gpu/util",
    "gpu/mem_gb",
)
QUICK = {"stages": "0,200000,1000000", "runs": 50, "read_points": 100_000, "requests": 20, "read_requests": 10}
FULL = {"stages": "0,10000000,50000000", "runs": 2000, "read_points": 1_000_000, "requests": 100, "read_requests": 20}
# The prefill runs are external runs that no script heartbeats: the API's reaper must not fail them between stages.
KEEP_RUNS = {"TRAINBOARD_EXTERNAL_TIMEOUT_S": str(7 * 24 * 3600)}
GOAL = 1.5  # the issue's goal: each figure at 50M points within 1.5x of the empty database's


# --- the database, opened the way the API opens it ------------------------------------------------------------


@dataclass
class Database:
    """The database under test: its SQLAlchemy URL, the environment that points `trainboard api` at it, and where
    its bytes are."""

    url: str
    stack_env: dict[str, str]
    sqlite_file: Path | None = None

    def size_bytes(self) -> int:
        if self.sqlite_file is not None:
            files = [self.sqlite_file, *(Path(f"{self.sqlite_file}{s}") for s in ("-wal", "-shm"))]
            return sum(f.stat().st_size for f in files if f.exists())
        import psycopg

        with psycopg.connect(plain_postgres_url(self.url), autocommit=True) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def settle(self) -> str:
        """After a bulk prefill, what background upkeep would have done by the time anyone reads, so that the
        measurement does not pay for the prefill: on SQLite a WAL checkpoint (TRUNCATE); on Postgres a
        database-wide VACUUM (ANALYZE) (planner statistics, visibility map, as autovacuum keeps them) and a
        CHECKPOINT (else the checkpointer writes the prefill's pages out during the timed requests). Returns
        what was done, timed."""
        t = time.perf_counter()
        if self.sqlite_file is not None:
            import sqlite3

            with sqlite3.connect(self.sqlite_file, timeout=60) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return f"PRAGMA wal_checkpoint(TRUNCATE) in {time.perf_counter() - t:.1f} s"
        import psycopg

        with psycopg.connect(plain_postgres_url(self.url), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")
        return f"VACUUM (ANALYZE) and CHECKPOINT in {time.perf_counter() - t:.1f} s"


def plain_postgres_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[Database | None]:
    """A fresh database of ``backend`` migrated to head (None: no Postgres server here)."""
    from backend.db import migrate

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines, once per migration, are noise here
    if backend == "sqlite":
        # running_stack(workdir) keeps the API's TRAINBOARD_HOME in workdir/home: the same file at every stage.
        sqlite_file = workdir / "home" / "trainboard.sqlite"
        db = Database(url=f"sqlite:///{sqlite_file}", stack_env=dict(KEEP_RUNS), sqlite_file=sqlite_file)
        migrate(db.url)
        yield db
        return
    with postgres_database() as url:
        if url is None:
            yield None
            return
        db = Database(url=url, stack_env={**KEEP_RUNS, "DATABASE_URL": url})
        migrate(db.url)
        yield db


# --- prefill: the ingestion service in-process, no HTTP ---------------------------------------------------------


@dataclass
class PrefillRun:
    run_id: int
    lease: str
    steps: int = 0  # steps 0..steps-1 of every key are stored


@dataclass
class Tally:
    """Points stored so far, as add_points counted them (new points only), split by who wrote them."""

    prefill: int = 0
    measured: int = 0  # the runs that stages create and measure

    @property
    def total(self) -> int:
        return self.prefill + self.measured


def create_runs(url: str, names: Sequence[str], *, tags: Sequence[str] = ("bench-scale",)) -> list[tuple[int, str]]:
    """External runs as `POST /api/runs {"external": true}` creates them (runs.new_external_run, a fresh lease,
    runs.add_runs); their ids and leases."""
    from backend.schemas import ExternalRunIn
    from backend.services import leases, runs

    factory = session_factory(url)
    created: list[tuple[int, str]] = []
    for start in range(0, len(names), 200):
        rows, secrets = [], []
        for i, name in enumerate(names[start : start + 200], start=start):
            config = {"lr": 10 ** random.Random(i).uniform(-4, -1), "batch_size": 2 ** (5 + i % 4), "seed": i}
            run = runs.new_external_run(ExternalRunIn(external=True, name=name, tags=list(tags), config=config))
            secrets.append(leases.issue(run))
            rows.append(run)
        with factory() as session:
            runs.add_runs(session, rows)
        created += [(run.id, secret) for run, secret in zip(rows, secrets, strict=True)]
    return created


_FACTORIES: dict[str, sessionmaker[Session]] = {}


def session_factory(url: str) -> sessionmaker[Session]:
    """The API's engine and session factory for ``url`` (backend.db), one per process."""
    from backend.db import make_engine, make_sessionmaker

    if url not in _FACTORIES:
        _FACTORIES[url] = make_sessionmaker(make_engine(url))
    return _FACTORIES[url]


def curve_values(run_id: int, first: int, last: int) -> list[list[float]]:
    """Steps first..last-1 of a training run's 10 keys, step-major (``[step][key]``): noisy decaying losses,
    rising accuracies, a cosine learning rate, log-normal gradient norms. The same run_id gives the same curves."""
    shape = random.Random(run_id)
    lr0 = 10 ** shape.uniform(-4, -1)
    tau = shape.uniform(500, 20_000)
    floor = shape.uniform(0.02, 0.6)
    start_loss = shape.uniform(1.5, 2.5)
    gap = shape.uniform(0.0, 0.3)
    throughput = shape.uniform(800, 4000)
    mem = shape.uniform(4, 70)
    horizon = 100_000
    noise = random.Random(run_id * 1_000_003 + first)
    gauss = noise.gauss
    rows = []
    for step in range(first, last):
        decay = math.exp(-step / tau)
        train_loss = floor + (start_loss - floor) * decay
        rows.append(
            [
                max(0.0, train_loss * (1 + 0.08 * gauss(0, 1))),
                max(0.0, (train_loss + gap * (1 - decay)) * (1 + 0.03 * gauss(0, 1))),
                min(1.0, max(0.0, 1 - train_loss / 2.6 + 0.02 * gauss(0, 1))),
                min(1.0, max(0.0, 1 - (train_loss + gap) / 2.6 + 0.01 * gauss(0, 1))),
                lr0 * 0.5 * (1 + math.cos(math.pi * min(step, horizon) / horizon)),
                math.exp(gauss(0.0, 0.4)) * (0.5 + decay),
                30.0 + 5 * (1 - decay) + 0.01 * gauss(0, 1),
                throughput * (1 + 0.02 * gauss(0, 1)),
                min(100.0, max(0.0, 92 + 4 * gauss(0, 1))),
                mem + 0.05 * gauss(0, 1),
            ]
        )
    return rows


Task = tuple[int, int, list[tuple[int, str]]]  # steps lo..hi-1 of these runs (id, lease)


def append_steps(url: str, task: Task) -> tuple[int, float]:
    """Store steps lo..hi-1 of each run's 10 keys, one add_points call a run; returns how many points add_points
    reported new, and the CPU seconds the Postgres server process spent on them (0 on SQLite)."""
    from backend.services.metrics.ingest import add_points

    lo, hi, runs = task
    factory = session_factory(url)
    server = server_process(factory)
    server_cpu0 = cpu_s(server)
    added = 0
    for run_id, lease in runs:
        rows = curve_values(run_id, lo, hi)  # a row per step, a value per key
        points = {key: (list(range(lo, hi)), [row[k] for row in rows]) for k, key in enumerate(KEYS)}
        with factory() as session:
            stored = add_points(session, run_id=run_id, points=points, lease=lease)
        added += stored.accepted if stored else 0
    return added, cpu_s(server) - server_cpu0


def server_process(factory: sessionmaker[Session]) -> psutil.Process | None:
    """The Postgres server process behind this process's (one, reused) pooled connection; None on SQLite."""
    with factory() as session:
        if session.get_bind().dialect.name != "postgresql":
            return None
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        return psutil.Process(pid)
    except psutil.Error:  # a server on another machine or in a container: its CPU is not counted
        return None


def cpu_s(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def prefill(db: Database, runs: list[PrefillRun], tally: Tally, target: int, *, batch: int, jobs: int) -> None:
    """Bring the stored total up to ``target`` by appending the same number of steps to every prefill run.

    Step-major, as a lab's runs train side by side: the next ``batch // 10`` steps of every run, then the next;
    each add_points call is one run's batch."""
    wanted = max(0, target - tally.measured)
    steps = math.ceil(wanted / (len(runs) * len(KEYS)))
    first = min(r.steps for r in runs)
    if first >= steps:
        print(f"# prefill: nothing to add ({tally.total:,} points stored)")
        return
    todo = len(runs) * (steps - first) * len(KEYS)
    per_call = max(1, batch // len(KEYS))
    group = max(1, min(20, len(runs) // (2 * jobs)))  # runs per task handed to a process
    tasks: list[Task] = [
        (lo, min(steps, lo + per_call), [(r.run_id, r.lease) for r in runs[i : i + group]])
        for lo in range(first, steps, per_call)
        for i in range(0, len(runs), group)
    ]
    print(
        f"# prefill: {todo:,} points into {len(runs):,} runs (steps {first:,}..{steps - 1:,} of {len(KEYS)} keys "
        f"each) through add_points, up to {per_call * len(KEYS):,} points a call, {jobs} process(es)",
        flush=True,
    )
    t0 = time.perf_counter()
    cpu0 = children_cpu_s()
    server_cpu = 0.0
    done, next_report = 0, 0.1
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures: list[tuple[Future[tuple[int, float]], int]] = [
            (pool.submit(append_steps, db.url, task), (task[1] - task[0]) * len(KEYS) * len(task[2])) for task in tasks
        ]
        for future, planned in futures:
            added, task_server_cpu = future.result()
            server_cpu += task_server_cpu
            if added != planned:
                raise RuntimeError(f"add_points stored {added:,} new points of {planned:,} sent")
            done += added
            if done >= next_report * todo:
                elapsed = time.perf_counter() - t0
                print(
                    f"#   {done / todo:4.0%}  {done:>12,} points  {done / elapsed:>9,.0f} points/s  "
                    f"{elapsed:6.0f} s  load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
                next_report += 0.1
    elapsed = time.perf_counter() - t0
    cpu = children_cpu_s() - cpu0  # the pool's processes, joined and reaped by now
    for r in runs:
        r.steps = steps
    tally.prefill += done
    server = f", their Postgres server processes' {server_cpu / done * 1e6:.1f} us" if server_cpu else ""
    print(
        f"# prefill: {done:,} points in {elapsed:.0f} s = {done / elapsed:,.0f} points/s; CPU a point: the prefill "
        f"processes' {cpu / done * 1e6:.1f} us{server} (a busy machine lowers the rate, hardly these)",
        flush=True,
    )
    PREFILL_RATES.append((done, elapsed, cpu + server_cpu))


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Each prefill's points, wall seconds, and CPU seconds of its processes and (Postgres) their server processes.
PREFILL_RATES: list[tuple[int, float, float]] = []


def write_read_series(url: str, run_id: int, lease: str, n: int, batch: int) -> tuple[int, int, list[float]]:
    """bench_read.py's series through add_points: ``loss`` noise in [0, 1) over steps 0..n-1 with one spike up and
    one dip down; their steps and the values."""
    from backend.services.metrics.ingest import add_points

    rng = random.Random(42)
    values = [rng.random() for _ in range(n)]
    spike_step, dip_step = n // 3 + 7, (2 * n) // 3 + 3
    values[spike_step], values[dip_step] = SPIKE, DIP
    factory = session_factory(url)
    for lo in range(0, n, batch):
        steps = list(range(lo, min(n, lo + batch)))
        with factory() as session:
            stored = add_points(session, run_id=run_id, points={"loss": (steps, values[lo : lo + batch])}, lease=lease)
        assert stored and stored.accepted == len(steps), (stored, len(steps))
    return spike_step, dip_step, values


# --- one stage's measurements -------------------------------------------------------------------------------


@dataclass
class StageResult:
    target: int
    stored: int = 0
    size_bytes: int = 0
    ingest_rate: float = 0.0
    post_latencies: list[float] = field(default_factory=list)
    read_times: list[float] = field(default_factory=list)
    zoom_times: list[float] = field(default_factory=list)
    load: float = 0.0

    @property
    def post_p95(self) -> float:
        return percentile(self.post_latencies, 95)


def measure_reads(
    url: str, run_id: int, requests: int, spike: tuple[int, int, list[float]]
) -> tuple[list[float], list[float]]:
    """bench_read.py's downsampled read and 1,000-step zoom, with its checks; milliseconds of each request."""
    spike_step, dip_step, values = spike
    path = f"/api/runs/{run_id}/metrics"
    params = {"keys": "loss", "max_points": MAX_POINTS}
    lo, hi = spike_step - 500, spike_step + 499
    zoom_params = {**params, "start": lo, "end": hi}
    with httpx.Client(base_url=url, timeout=300) as http:
        fetch(http, path, params)  # warm the connection and the page cache, as bench_read.py does
        read_times: list[float] = []
        body: dict = {}
        for _ in range(requests):
            ms, body = fetch(http, path, params)
            read_times.append(ms)
        steps, got = body["loss"]["step"], body["loss"]["value"]
        assert len(steps) <= MAX_POINTS and steps == sorted(steps), "at most max_points, in step order"
        assert SPIKE in got and steps[got.index(SPIKE)] == spike_step, "the one-step spike survives at its step"
        assert DIP in got and steps[got.index(DIP)] == dip_step, "the one-step dip survives at its step"
        fetch(http, path, zoom_params)
        zoom_times: list[float] = []
        for _ in range(requests):
            ms, body = fetch(http, path, zoom_params)
            zoom_times.append(ms)
        assert body["loss"]["step"] == list(range(lo, hi + 1)), "every step of the window"
        assert body["loss"]["value"] == values[lo : hi + 1], "the stored values, not bucket extremes"
    return read_times, zoom_times


def run_stage(db: Database, workdir: Path, stage: int, tally: Tally, args: argparse.Namespace) -> StageResult:
    """Start the API on the database as it is, measure ingestion and the reads on runs created now."""
    result = StageResult(target=stage, stored=tally.total)
    print(f"# stage {stage:,}: {tally.total:,} points stored, database {db.size_bytes() / 1e6:,.1f} MB", flush=True)
    with running_stack(workdir, workers=0, extra_env=db.stack_env) as stack:
        # Ingestion first: on the empty stage the database holds nothing at all while it is measured.
        values = make_values(args.requests * 1_000, seed=stage)
        target = trainboard_target("trainboard", stack, args.requests, values, one_by_one=False,
                                   postgres=db.url.startswith("postgresql"))  # fmt: skip
        target.send_round(0, 1)
        target.check()  # every point stored once
        result.ingest_rate, result.post_latencies = target.rate, target.latencies
        tally.measured += (args.requests + 3) * 1_000  # the measured run and bench_ingest's 3-request warm-up
        print(
            f"ingestion: {result.ingest_rate:,.0f} points/s; POST of 1,000 points: median "
            f"{statistics.median(result.post_latencies):.1f} ms, p95 {result.post_p95:.1f} ms "
            f"({args.requests} requests)",
            flush=True,
        )
        # The read series, written now (the API is idle) through add_points, into a run created at this stage.
        [(run_id, lease)] = create_runs(db.url, [f"bench-scale-read-{stage}"], tags=("bench-scale-read",))
        t = time.perf_counter()
        spike = write_read_series(db.url, run_id, lease, args.read_points, args.batch)
        tally.measured += args.read_points
        print(f"# read series: {args.read_points:,} points through add_points in {time.perf_counter() - t:.1f} s")
        result.read_times, result.zoom_times = measure_reads(stack.url, run_id, args.read_requests, spike)
        print(
            f"downsampled read (max_points {MAX_POINTS:,}) of {args.read_points:,} points: ms {ms(result.read_times)}"
        )
        print(f"1,000-step zoom: ms {ms(result.zoom_times)}")
    result.size_bytes = db.size_bytes()
    result.load = os.getloadavg()[0]
    print(f"# after stage {stage:,}: database {result.size_bytes / 1e6:,.1f} MB; load average {result.load:.2f}")
    return result


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f}, p95 {percentile(values, 95):.1f}"


# --- the report ----------------------------------------------------------------------------------------------


def print_table(backend: str, results: list[StageResult]) -> None:
    empty = results[0]
    print()
    print(f"## {backend}: each stage, and its slowdown against the first ({empty.target:,} points)")
    print(
        "| stored before measuring | DB size | ingestion points/s | POST p95 ms | read median ms | read p95 ms "
        "| zoom median ms | zoom p95 ms | load |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r.stored:,} | {r.size_bytes / 1e6:,.0f} MB | {r.ingest_rate:,.0f} | {r.post_p95:.1f} "
            f"| {statistics.median(r.read_times):.1f} | {percentile(r.read_times, 95):.1f} "
            f"| {statistics.median(r.zoom_times):.1f} | {percentile(r.zoom_times, 95):.1f} | {r.load:.2f} |"
        )
    for r in results[1:]:
        slowdowns = {
            "ingestion": empty.ingest_rate / r.ingest_rate,
            "POST p95": r.post_p95 / empty.post_p95,
            "read median": statistics.median(r.read_times) / statistics.median(empty.read_times),
            "read p95": percentile(r.read_times, 95) / percentile(empty.read_times, 95),
            "zoom median": statistics.median(r.zoom_times) / statistics.median(empty.zoom_times),
            "zoom p95": percentile(r.zoom_times, 95) / percentile(empty.zoom_times, 95),
        }
        worst = max(slowdowns.values())
        print(
            f"slowdown at {r.stored:,} points: "
            + ", ".join(f"{name} {value:.2f}x" for name, value in slowdowns.items())
            + f"; worst {worst:.2f}x, goal <= {GOAL}x: {'MET' if worst <= GOAL else 'NOT MET'}"
        )


def print_estimate() -> None:
    """The prefill rate this run measured, and how long the full stages would take to prefill at that rate."""
    if not PREFILL_RATES:
        return
    points = sum(p for p, _, _ in PREFILL_RATES)
    seconds = sum(s for _, s, _ in PREFILL_RATES)
    cpu = sum(c for _, _, c in PREFILL_RATES)
    rate = points / seconds
    full = int(str(FULL["stages"]).rsplit(",", 1)[-1])
    cores = os.cpu_count() or 1
    print(
        f"# prefill over this run: {points:,} points in {seconds:.0f} s = {rate:,.0f} points/s; prefilling {full:,} "
        f"points at that rate would take about {full / rate / 60:.0f} min. CPU: {cpu / points * 1e6:.1f} us a point "
        f"(the prefill processes, and on Postgres their server processes), so on {cores} idle cores no less than about "
        f"{full * cpu / points / cores / 60:.0f} min"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--quick", action="store_true", help=f"check the script: {QUICK}")
    parser.add_argument("--stages", help=f"stored points at each measurement, ascending (default {FULL['stages']})")
    parser.add_argument("--runs", type=int, help=f"runs the prefill spreads its points over (default {FULL['runs']})")
    parser.add_argument("--read-points", type=int, help="points of the series read at each stage (default 1M)")
    parser.add_argument("--requests", type=int, help="1,000-point POSTs timed at each stage (default 100)")
    parser.add_argument("--read-requests", type=int, help="downsampled reads and zooms timed (default 20 each)")
    parser.add_argument("--batch", type=int, default=10_000, help="points per add_points call (the API's maximum)")
    parser.add_argument("--jobs", type=int, default=2, help="prefill processes")
    parser.add_argument("--workdir", type=Path, help="where the SQLite file and API logs go (default: a temp dir)")
    args = parser.parse_args()
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    stages = [int(s) for s in str(args.stages).split(",")]
    if stages != sorted(stages):
        parser.error("--stages must be ascending")

    banner(
        f"cost as the data grows on {args.backend}: stages {', '.join(f'{s:,}' for s in stages)} points over "
        f"{args.runs:,} runs{' (--quick: a check of the script, not the figures)' if args.quick else ''}"
    )
    if args.backend == "postgres":
        print(f"# Postgres at {POSTGRES_ADMIN_URL.rsplit('@', 1)[-1]}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        with database(args.backend, workdir) as db:
            if db is None:
                return 0
            t0 = time.perf_counter()
            tally = Tally()
            runs: list[PrefillRun] = []
            results = []
            for stage in stages:
                if stage > tally.total:
                    if not runs:
                        created = create_runs(db.url, [f"bench-scale-{i}" for i in range(args.runs)])
                        runs = [PrefillRun(run_id, lease) for run_id, lease in created]
                    prefill(db, runs, tally, stage, batch=args.batch, jobs=args.jobs)
                    print(f"# {db.settle()}", flush=True)
                results.append(run_stage(db, workdir, stage, tally, args))
            print_table(args.backend, results)
            print_estimate()
            print(f"# whole run: {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
