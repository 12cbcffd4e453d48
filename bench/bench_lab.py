"""A lab's worth of writers: up to 200 concurrent writers and 20 live viewers, on a ladder of loads until it bends.

    .venv/bin/python bench/bench_lab.py --backend sqlite|postgres|postgres-2-replicas
        [--levels 10x10,25x10,50x10,100x10,200x10,200x2] [--seconds 30] [--viewers 20] [--procs 2] [--quick]

Real `trainboard api` processes on loopback (`tests/utils/stack.py`, no worker): one on a SQLite file, one on a
fresh Postgres database (dropped afterwards), or two on the same fresh Postgres database with a private
`redis-server` fanning the live wake-ups out between them (`REDIS_URL`). Each level, WRITERSxRATE, creates that
many new external runs and drives them for --seconds, each simulating RATE training iterations a second:

- 3 writers in 4 play a worker's reporter (``worker/reporter.py``, ``worker/presence.py``): a batch at
  ``POST /api/runs/{id}/metrics`` every 50 training steps (``loss`` and ``param_norm`` per step, ``train_loss``,
  ``valid_loss`` and ``valid_acc`` per epoch of 250 steps), ``POST /api/runs/{id}/status`` with epoch and
  progress every 2 s, ``PUT /api/workers/{name}`` every 5 s, and ``succeeded`` with a summary at the end;
- 1 in 4 plays a tracking client (``trainboard.init()`` / ``start_run``: ``trainboard/tracking.py``): ``loss``,
  ``acc`` and ``param_norm`` per step, a batch every 0.5 s, ``succeeded`` at the end.

Writers post sequentially on a connection of their own, as the real senders do (one request in flight per run),
so a slow API makes them post bigger batches later, never fewer points. The value of every ``param_norm`` point
is the wall time its batch was sent, so a viewer measures how long a point takes from its POST to its stream.
With two replicas writer i posts to replica i % 2, and its viewer follows the stream on the other one. --viewers
clients follow ``GET /api/runs/{id}/events`` of runs of both kinds until ``end`` (resuming with Last-Event-ID if
a stream breaks off).

Checked for each level, from the database (not from the clients' counts): for every run and key, the stored
points (rows, distinct steps, lowest and highest step) equal what its writer sent and the API acknowledged (each
writer sends steps 1..N of each key, so equal count, min and max mean the same set); and every viewer got every
point of its run exactly once. Printed per level: points/s stored, write latency (all writes' p95: metrics,
status, worker heartbeats; and each kind's), viewer delivery latency, errors, and CPU seconds per second of the
API process(es) and of the load generator (the two share this machine's cores). The capacity is the highest
level with write p95 < 250 ms, 0 errors, 0 lost, 0 duplicated, every viewer exactly once and no traceback in
the API's log. --quick runs 20x10 and 40x5 for 10 s each (about a minute), to check the script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import queue
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import banner, percentile, postgres_database, running_stack, wait_until_up  # noqa: E402
from tests.utils.redis_server import RedisServer  # noqa: E402
from tests.utils.stack import Stack, free_port  # noqa: E402

JSON = {"Content-Type": "application/json"}
LEASE_HEADER = "X-Trainboard-Lease"
STEPS_PER_POST = 50  # a worker's reporter: a batch every 50 training steps
STEPS_PER_EPOCH = 250
STATUS_EVERY_S = 2.0  # worker/reporter.py HEARTBEAT_EVERY_S
PRESENCE_EVERY_S = 5.0  # worker/presence.py HEARTBEAT_S
TRACKING_FLUSH_S = 0.5  # trainboard/tracking.py FLUSH_EVERY_S
P95_LIMIT_MS = 250.0
WORKER_KEYS = ("loss", "param_norm")
EPOCH_KEYS = ("train_loss", "valid_loss", "valid_acc")
TRACKING_KEYS = ("loss", "acc", "param_norm")
TIMESTAMP_KEY = "param_norm"  # its value is the wall time the batch was sent


@dataclass
class Writer:
    run_id: int
    lease: str
    url: str
    kind: str  # "worker" or "tracking"
    name: str


@dataclass
class Sent:
    """What one writer sent and the API acknowledged, per key: steps 1..N (count, lowest, highest)."""

    steps: dict[str, set[int]] = field(default_factory=dict)

    def add(self, points: list[dict[str, Any]]) -> None:
        for p in points:
            self.steps.setdefault(p["key"], set()).add(p["step"])

    def summary(self) -> dict[str, tuple[int, int, int]]:
        return {key: (len(s), min(s), max(s)) for key, s in self.steps.items() if s}


@dataclass
class WriterResult:
    metric_ms: list[float] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)  # a run's heartbeats (epoch, progress) and final status
    presence_ms: list[float] = field(default_factory=list)  # the workers' heartbeats (PUT /api/workers/{name})
    errors: list[str] = field(default_factory=list)
    sent: dict[int, dict[str, tuple[int, int, int]]] = field(default_factory=dict)


@dataclass
class ViewerResult:
    run_id: int
    points: dict[str, list[int]]  # key -> every step received, repeats included
    latency_ms: list[float]
    ended: bool
    reconnects: int
    errors: list[str]


# --- the writers (child processes, asyncio) ----------------------------------------------------------------


class Connection:
    """HTTP/1.1 with keep-alive over asyncio streams, one request at a time, as each real sender posts.

    Why not httpx.AsyncClient: with 100 writers in one pool, httpcore spends about 20 ms of CPU a request
    (its pool assignment scans every connection, and it retries a failed ``import sniffio`` on each request),
    so the generator, not the API, was the bottleneck on two cores. This costs well under a millisecond.
    """

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.lock = asyncio.Lock()  # a reporter's points and heartbeats take turns, as on its one thread

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        async with self.lock:
            return await self._request(method, path, body, headers)

    async def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):  # a keep-alive connection the server closed meanwhile: once more on a new one
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            try:
                self.writer.write(head.encode() + body)
                await self.writer.drain()
                return await self._response(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("closed before the status line")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            parts = []
            while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
                parts.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            data = b"".join(parts)
        else:
            data = await reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _worker_points(first: int, last: int, rng: random.Random, now: float) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    for step in range(first, last + 1):
        points.append({"key": "loss", "step": step, "value": 2.0 / (1 + step / 100) + rng.random() * 0.01})
        points.append({"key": "param_norm", "step": step, "value": now})
        if step % STEPS_PER_EPOCH == 0:
            epoch = step // STEPS_PER_EPOCH
            points.append({"key": "train_loss", "step": epoch, "value": 1.0 / epoch})
            points.append({"key": "valid_loss", "step": epoch, "value": 1.1 / epoch})
            points.append({"key": "valid_acc", "step": epoch, "value": 1 - 0.5 / epoch})
    return points


def _tracking_points(first: int, last: int, rng: random.Random, now: float) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    for step in range(first, last + 1):
        points.append({"key": "loss", "step": step, "value": 2.0 / (1 + step / 80) + rng.random() * 0.01})
        points.append({"key": "acc", "step": step, "value": 1 - 1.0 / (2 + step / 50)})
        points.append({"key": "param_norm", "step": step, "value": now})
    return points


def as_arrays(points: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch as trainboard's senders post it (``trainboard/outbox.py``): per key, its steps and values as arrays."""
    series: dict[str, dict[str, list[Any]]] = {}
    for point in points:
        arrays = series.setdefault(point["key"], {"step": [], "value": []})
        arrays["step"].append(point["step"])
        arrays["value"].append(point["value"])
    return {"series": series}


def points_in(body: dict[str, Any]) -> int:
    return sum(len(arrays["step"]) for arrays in body["series"].values())


class WriterLoop:
    """One writer's life for a level: post on its schedule until ``end_at``, deliver the rest, report succeeded."""

    def __init__(self, w: Writer, result: WriterResult, rate: float, start_at: float, end_at: float) -> None:
        self.w, self.result, self.rate = w, result, rate
        self.http = Connection(w.url)
        self.presence_http = Connection(w.url)  # worker/presence.py has a thread and a client of its own
        self.start_at, self.end_at = start_at, end_at
        self.headers = {**JSON, LEASE_HEADER: w.lease}
        self.rng = random.Random(w.run_id)
        self.sent = Sent()
        self.done = 0  # steps already posted

    async def run(self) -> None:
        await asyncio.sleep(max(0.0, self.start_at - time.time()))
        tasks = [self._points_loop()]
        if self.w.kind == "worker":
            tasks += [self._every(STATUS_EVERY_S, self._status), self._every(PRESENCE_EVERY_S, self._presence)]
        await asyncio.gather(*tasks)
        await self._post_due(final=True)
        body = {"status": "succeeded", "summary": {"final_loss": 0.1, "steps": self.done}}
        await self._write("POST", f"/api/runs/{self.w.run_id}/status", body, kind="status")
        self.result.sent[self.w.run_id] = self.sent.summary()
        self.http.close()
        self.presence_http.close()

    def _due(self) -> int:
        return int((min(time.time(), self.end_at) - self.start_at) * self.rate)

    async def _points_loop(self) -> None:
        # workers post every 50 steps, tracking clients every 0.5 s; each starts at a random phase
        period = STEPS_PER_POST / self.rate if self.w.kind == "worker" else TRACKING_FLUSH_S
        next_at = self.start_at + self.rng.uniform(0, period)
        while next_at < self.end_at:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            next_at += period
            await self._post_due(final=False)

    async def _post_due(self, *, final: bool) -> None:
        due = self._due()
        if self.w.kind == "worker" and not final:
            due -= due % STEPS_PER_POST
        if due <= self.done:
            return
        make = _worker_points if self.w.kind == "worker" else _tracking_points
        points = make(self.done + 1, due, self.rng, time.time())
        for start in range(0, len(points), 1000):  # MAX_BATCH_POINTS
            chunk = points[start : start + 1000]
            if await self._write("POST", f"/api/runs/{self.w.run_id}/metrics", as_arrays(chunk), kind="metric"):
                self.sent.add(chunk)
        self.done = due

    async def _every(self, every_s: float, send: Any) -> None:
        next_at = self.start_at + self.rng.uniform(0, every_s)
        while next_at < self.end_at:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            next_at += every_s
            await send()

    async def _status(self) -> None:
        total = self.rate * (self.end_at - self.start_at)
        body = {"epoch": self.done // STEPS_PER_EPOCH, "progress": round(min(1.0, self.done / total), 4)}
        await self._write("POST", f"/api/runs/{self.w.run_id}/status", body, kind="status")

    async def _presence(self) -> None:
        body = {
            "host": "lab-bench",
            "devices": ["cpu", "cuda"],
            "gpus": ["0: NVIDIA H100"],
            "queues": ["any", "cuda"],
            "run_id": self.w.run_id,
            "run_ids": [self.w.run_id],
            "session": f"bench-{self.w.run_id}",
        }
        await self._write("PUT", f"/api/workers/{self.w.name}", body, kind="presence", http=self.presence_http)

    async def _write(
        self, method: str, path: str, body: dict[str, Any], *, kind: str, http: Connection | None = None
    ) -> bool:
        """One write, retried twice on a transport error or a 5xx (posting is idempotent on (key, step), as the
        real senders rely on); True when the API acknowledged it."""
        content = json.dumps(body).encode()
        for attempt in range(3):
            sent = time.perf_counter()
            try:
                status, data = await (http or self.http).request(method, path, content, self.headers)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.result.errors.append(f"{method} {path}: {exc!r}")
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            getattr(self.result, f"{kind}_ms").append((time.perf_counter() - sent) * 1000)
            if status == 200:
                if kind == "metric" and json.loads(data).get("accepted") != points_in(body):
                    self.result.errors.append(
                        f"{path}: {json.loads(data).get('duplicates')} duplicates in a fresh batch"
                    )
                return True
            self.result.errors.append(f"{method} {path}: HTTP {status} {data[:200]!r}")
            if status < 500:
                return False
            await asyncio.sleep(0.5 * (attempt + 1))
        return False


def writers_process(writers: list[Writer], rate: float, start_at: float, end_at: float, out: Any) -> None:
    """A slice of the writers in one process: one event loop, a connection per writer (two for a worker)."""

    async def main() -> WriterResult:
        result = WriterResult()
        loops = [WriterLoop(w, result, rate, start_at, end_at) for w in writers]
        await asyncio.gather(*(loop.run() for loop in loops))
        return result

    out.put(asyncio.run(main()))


# --- the viewers (one child process, asyncio) --------------------------------------------------------------


async def _view(url: str, run_id: int, ready: asyncio.Event, give_up_at: float) -> ViewerResult:
    points: dict[str, list[int]] = {}
    latency: list[float] = []
    errors: list[str] = []
    ended, reconnects, last_id = False, -1, 0
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=60)) as http:
        while not ended and time.time() < give_up_at:
            reconnects += 1
            headers = {"Last-Event-ID": str(last_id)} if last_id else {}
            try:
                async with http.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as response:
                    ready.set()
                    if response.status_code != 200:
                        errors.append(f"SSE run {run_id}: HTTP {response.status_code}")
                        await asyncio.sleep(1)
                        continue
                    kind, data, event_id = "message", [], None
                    async for line in response.aiter_lines():
                        if line.startswith("id:"):
                            event_id = int(line[3:])
                        elif line.startswith("event:"):
                            kind = line[6:].strip()
                        elif line.startswith("data:"):
                            data.append(line[5:])
                        elif line == "" and data:
                            if kind == "end":
                                ended = True
                                break
                            if kind == "metrics":
                                now = time.time()
                                for key, series in json.loads("\n".join(data)).items():
                                    if isinstance(series, dict):
                                        points.setdefault(key, []).extend(int(s) for s in series["step"])
                                        if key == TIMESTAMP_KEY:
                                            latency.extend((now - v) * 1000 for v in series["value"])
                            if event_id is not None:
                                last_id = event_id
                            kind, data, event_id = "message", [], None
                        if time.time() > give_up_at:
                            break
            except httpx.HTTPError as exc:
                ready.set()
                errors.append(f"SSE run {run_id}: {exc!r}")
                await asyncio.sleep(1)
    return ViewerResult(run_id, points, latency, ended, max(0, reconnects), errors)


def viewers_process(targets: list[tuple[str, int]], give_up_at: float, ready: Any, out: Any) -> None:
    async def main() -> list[ViewerResult]:
        events = [asyncio.Event() for _ in targets]
        tasks = [
            asyncio.create_task(_view(url, run_id, ev, give_up_at))
            for (url, run_id), ev in zip(targets, events, strict=True)
        ]
        await asyncio.gather(*(ev.wait() for ev in events))
        ready.set()
        return list(await asyncio.gather(*tasks))

    out.put(asyncio.run(main()))


# --- the database: what was stored ---------------------------------------------------------------------------

# The points table as of this commit: (run_id, key, step) is its primary key. If the storage layout changes,
# this query is the one place to follow it.
STORED_SQL = (
    "SELECT s.run_id, s.key, COUNT(*), COUNT(DISTINCT p.step), MIN(p.step), MAX(p.step) FROM metric_points p "
    "JOIN metric_series s ON s.id = p.series_id WHERE s.run_id BETWEEN {lo} AND {hi} GROUP BY s.run_id, s.key"
)


def stored_points(database: str, lo: int, hi: int) -> dict[tuple[int, str], tuple[int, int, int, int]]:
    """(run, key) -> (rows, distinct steps, lowest step, highest step), read from the database file or server."""
    sql = STORED_SQL.format(lo=int(lo), hi=int(hi))
    if database.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        import sqlite3

        lite = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            rows = lite.execute(sql).fetchall()
        finally:
            lite.close()
    return {(int(r[0]), str(r[1])): (int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows}


# --- one level ---------------------------------------------------------------------------------------------------


@dataclass
class Level:
    writers: int
    rate: float
    seconds: float
    points: int  # stored in the database for this level's runs
    writes: WriterResult
    viewers: list[ViewerResult]
    lost: int
    duplicated: int  # rows beyond the distinct steps, plus stored steps nobody sent
    viewer_exact: int  # viewers that got every point of their run exactly once, and `end`
    api_cpu: float  # CPU seconds per second, all API processes together
    gen_cpu: float  # the same for the load generator's processes
    api_errors: int  # tracebacks in the API logs
    load: float  # the machine's load average when the level ended

    @property
    def all_writes(self) -> list[float]:
        return self.writes.metric_ms + self.writes.status_ms + self.writes.presence_ms

    @property
    def write_p95(self) -> float:
        return percentile(self.all_writes, 95) if self.all_writes else float("nan")

    @property
    def viewer_latency(self) -> list[float]:
        return [x for v in self.viewers for x in v.latency_ms]

    @property
    def ok(self) -> bool:
        return (
            self.write_p95 < P95_LIMIT_MS
            and not self.writes.errors
            and self.lost == 0
            and self.duplicated == 0
            and self.viewer_exact == len(self.viewers)
            and self.api_errors == 0
        )


def create_writers(urls: list[str], count: int, rate: float) -> list[Writer]:
    writers: list[Writer] = []
    with httpx.Client(timeout=60) as http:
        for i in range(count):
            kind = "tracking" if i % 4 == 3 else "worker"
            url = urls[i % len(urls)]
            spec = {"name": f"lab {count}x{rate:g} {kind} {i}", "tags": ["bench-lab", kind], "external": True}
            reply = http.post(f"{url}/api/runs", json=spec)
            reply.raise_for_status()
            run = reply.json()
            writers.append(Writer(int(run["id"]), str(run["lease"]), url, kind, f"gpu-{i:03d}@lab-bench"))
    return writers


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _p(values: list[float], q: float) -> float:
    return percentile(values, q) if values else float("nan")


def run_level(
    urls: list[str],
    database: str,
    api_pids: list[int],
    logs: list[Path],
    *,
    writers_n: int,
    rate: float,
    seconds: float,
    viewers_n: int,
    procs: int,
    drain_s: float = 120,
) -> Level:
    writers = create_writers(urls, writers_n, rate)
    ctx = mp.get_context("spawn")
    # viewers: spread over both kinds of writer; with replicas, on the other replica than the writer's
    viewers_n = min(viewers_n, writers_n)
    watched = []
    for i in range(viewers_n):
        index = (i * writers_n) // viewers_n
        if i % 4 == 3:  # every fourth viewer follows a tracking client (writers 3, 7, 11, ...)
            index = min(writers_n - 1, index - index % 4 + 3)
        watched.append(writers[index])
    targets = [(urls[(urls.index(w.url) + 1) % len(urls)], w.run_id) for w in watched]
    viewer_out, ready = ctx.Queue(), ctx.Event()
    log_sizes = [p.stat().st_size for p in logs]
    api_cpu0, gen0 = cpu_seconds(api_pids), resource.getrusage(resource.RUSAGE_CHILDREN)
    viewer_proc = ctx.Process(target=viewers_process, args=(targets, time.time() + seconds + 600, ready, viewer_out))
    viewer_proc.start()
    if not ready.wait(60):
        raise RuntimeError("the viewers did not connect within 60 s")
    start_at = time.time() + 2.0  # the writer processes start and import meanwhile
    end_at = start_at + seconds
    out = ctx.Queue()
    slices = [s for s in (writers[i::procs] for i in range(procs)) if s]
    writer_procs = [ctx.Process(target=writers_process, args=(s, rate, start_at, end_at, out)) for s in slices]
    for p in writer_procs:
        p.start()
    results: list[WriterResult] = []
    while len(results) < len(writer_procs):
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in [*writer_procs, viewer_proc]):
                raise RuntimeError("a load generator process died (its traceback is above)") from None
    for p in writer_procs:
        p.join()
    elapsed = time.time() - start_at
    api_cpu = (cpu_seconds(api_pids) - api_cpu0) / elapsed
    viewers: list[ViewerResult] = viewer_out.get(timeout=drain_s)
    viewer_proc.join()
    gen1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen_cpu = (gen1.ru_utime + gen1.ru_stime - gen0.ru_utime - gen0.ru_stime) / elapsed
    api_errors = 0
    for path, size in zip(logs, log_sizes, strict=True):
        with path.open("rb") as f:
            f.seek(size)
            api_errors += f.read().count(b"Traceback")

    writes = WriterResult()
    for r in results:
        writes.metric_ms += r.metric_ms
        writes.status_ms += r.status_ms
        writes.presence_ms += r.presence_ms
        writes.errors += r.errors
        writes.sent.update(r.sent)

    # the database's view: every (run, key) each writer sent, stored once, nothing else stored
    ids = [w.run_id for w in writers]
    stored = stored_points(database, min(ids), max(ids))
    lost = duplicated = points = 0
    for run_id in ids:
        for key, (count, lo, hi) in writes.sent.get(run_id, {}).items():
            if count != hi - lo + 1:
                writes.errors.append(f"run {run_id} {key}: the writer's own steps are not contiguous")
            rows, distinct, s_lo, s_hi = stored.get((run_id, key), (0, 0, 0, 0))
            duplicated += rows - distinct
            if (distinct, s_lo, s_hi) != (count, lo, hi):
                lost += max(0, count - distinct)
                duplicated += max(0, distinct - count)
                if distinct == count:  # as many, but other steps: a hole and a stranger at least
                    lost += 1
                    duplicated += 1
    for (run_id, key), (rows, *_rest) in stored.items():
        points += rows
        if key not in writes.sent.get(run_id, {}):
            duplicated += rows
    exact = 0
    for viewer in viewers:
        expected = writes.sent.get(viewer.run_id, {})
        got = {key: Counter(steps) for key, steps in viewer.points.items()}
        fine = viewer.ended and set(got) == set(expected)
        for key, (_count, lo, hi) in expected.items():
            counts = got.get(key, Counter())
            fine = fine and set(counts) == set(range(lo, hi + 1)) and all(n == 1 for n in counts.values())
        exact += fine
        writes.errors += viewer.errors
    return Level(
        writers_n,
        rate,
        elapsed,
        points,
        writes,
        viewers,
        lost,
        duplicated,
        exact,
        api_cpu,
        gen_cpu,
        api_errors,
        os.getloadavg()[0],
    )


def report_level(lv: Level) -> None:
    w = lv.writes
    print(
        f"{lv.writers} writers x {lv.rate:g} it/s: {lv.points / lv.seconds:,.0f} points/s stored ({lv.points:,} in "
        f"{lv.seconds:.0f} s); writes {len(lv.all_writes) / lv.seconds:,.0f}/s, p95 {lv.write_p95:.1f} ms "
        f"(metrics p50 {_p(w.metric_ms, 50):.1f} p95 {_p(w.metric_ms, 95):.1f} n={len(w.metric_ms):,}; "
        f"status p95 {_p(w.status_ms, 95):.1f} n={len(w.status_ms):,}; worker heartbeat p95 "
        f"{_p(w.presence_ms, 95):.1f} n={len(w.presence_ms):,}); viewer latency p50 {_p(lv.viewer_latency, 50):.1f} "
        f"p95 {_p(lv.viewer_latency, 95):.1f} ms; errors {len(w.errors)}; database: lost {lv.lost}, duplicated "
        f"{lv.duplicated}; viewers exactly once {lv.viewer_exact}/{len(lv.viewers)}; CPU s/s: API {lv.api_cpu:.2f}, "
        f"generator {lv.gen_cpu:.2f}; API tracebacks {lv.api_errors}; load {lv.load:.2f} -> "
        f"{'OK' if lv.ok else 'over'}",
        flush=True,
    )
    for error in w.errors[:5]:
        print(f"    error: {error}")


def table(levels: list[Level]) -> None:
    print(
        "\n| writers x it/s | points/s stored | writes/s | write p95 ms | metrics POST p50 / p95 ms "
        "| viewer p50 / p95 ms | errors | lost / dup (DB) | viewers once | CPU s/s API / gen | load | verdict |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for lv in levels:
        w = lv.writes
        print(
            f"| {lv.writers} x {lv.rate:g} | {lv.points / lv.seconds:,.0f} | {len(lv.all_writes) / lv.seconds:,.0f} "
            f"| {lv.write_p95:.1f} | {_p(w.metric_ms, 50):.1f} / {_p(w.metric_ms, 95):.1f} "
            f"| {_p(lv.viewer_latency, 50):.1f} / {_p(lv.viewer_latency, 95):.1f} | {len(w.errors)} "
            f"| {lv.lost} / {lv.duplicated} | {lv.viewer_exact}/{len(lv.viewers)} "
            f"| {lv.api_cpu:.2f} / {lv.gen_cpu:.2f} "
            f"| {lv.load:.1f} | {'OK' if lv.ok else 'over'} |"
        )


# --- the backends --------------------------------------------------------------------------------------------


def start_backend(stack: ExitStack, backend: str, tmp: Path, api_env: dict[str, str]) -> tuple[list[str], str, Stack]:
    """Start the API process(es), with ``api_env`` in their environment; returns their URLs, the database (file
    path or URL) and the stack."""
    env = dict(api_env)
    database = str(tmp / "home" / "trainboard.sqlite")
    if backend != "sqlite":
        database_url = stack.enter_context(postgres_database())
        if database_url is None:
            raise SystemExit(1)
        env["DATABASE_URL"] = database = database_url
    if backend == "postgres-2-replicas":
        redis = RedisServer(tmp / "redis")  # private: pub/sub channels are not per database number
        redis.start()
        stack.callback(redis.kill)
        env["REDIS_URL"] = redis.url
    api = stack.enter_context(running_stack(tmp, workers=0, extra_env=env))
    urls = [api.url]
    if backend == "postgres-2-replicas":
        port = free_port()
        api.start("api2", "api", env={"TRAINBOARD_PORT": str(port)})
        second = f"http://127.0.0.1:{port}"
        wait_until_up(
            f"{second}/api/health",
            timeout=60,
            why=lambda: f"the second replica did not start:\n{api.log('api2')[-4000:]}",
        )
        urls.append(second)
    return urls, database, api


def parse_levels(text: str) -> list[tuple[int, float]]:
    """ "50x10,100x10,200x10": (writers, iterations/s per writer) for each level, in order."""
    levels = []
    for item in text.split(","):
        writers, _, rate = item.partition("x")
        levels.append((int(writers), float(rate)))
    return levels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "postgres-2-replicas"], default="sqlite")
    parser.add_argument(
        "--levels",
        default="10x10,25x10,50x10,100x10,200x10,200x2",
        help="the ladder, WRITERSxRATE each: writers and the iterations/s each simulates",
    )
    parser.add_argument("--seconds", type=float, default=30, help="how long each level is held")
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--procs", type=int, default=2, help="processes the writers are spread over")
    parser.add_argument(
        "--api-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the API process(es), e.g. TRAINBOARD_INGEST_CONNECTIONS=0 (repeatable)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="check the script: 2 small levels of 10 s (about a minute)"
    )
    args = parser.parse_args()
    api_env = dict(item.partition("=")[::2] for item in args.api_env)
    levels_spec = parse_levels("20x10,40x5" if args.quick else args.levels)
    seconds = 10.0 if args.quick else args.seconds
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    banner(
        f"lab: writers (3/4 worker reporters, 1/4 tracking clients) x iterations/s each, {args.viewers} SSE viewers, "
        f"{args.backend}, levels {', '.join(f'{n}x{r:g}' for n, r in levels_spec)}, {seconds:g} s each, "
        f"commit {commit}" + "".join(f", {name}={value}" for name, value in api_env.items())
    )
    levels: list[Level] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-lab-")))
        urls, database, api = start_backend(stack, args.backend, tmp, api_env)
        pids = [p.pid for p in api.processes.values()]
        logs = [api.logs / f"{name}.log" for name in api.processes]
        print(f"# API processes: {len(urls)} ({', '.join(urls)})", flush=True)
        for writers_n, rate in levels_spec:
            level = run_level(
                urls,
                database,
                pids,
                logs,
                writers_n=writers_n,
                rate=rate,
                seconds=seconds,
                viewers_n=args.viewers,
                procs=args.procs,
            )
            levels.append(level)
            report_level(level)
    table(levels)
    fine = [lv for lv in levels if lv.ok]
    if not fine:
        print(f"capacity ({args.backend}): below every level")
        return 1
    best = max(fine, key=lambda lv: lv.points / lv.seconds)
    workers = best.writers * best.rate / 10
    print(
        f"capacity ({args.backend}, {len(urls)} API process(es)): {best.writers} writers at {best.rate:g} it/s each "
        f"({best.points / best.seconds:,.0f} points/s stored, {len(best.all_writes) / best.seconds:,.0f} writes/s, "
        f"write p95 {best.write_p95:.1f} ms, 0 lost, 0 duplicated, {best.viewer_exact}/{len(best.viewers)} viewers "
        f"exactly once): about {workers:,.0f} writers logging every iteration at 10 it/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
