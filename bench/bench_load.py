"""Load: 8 runs logging per-iteration metrics and 20 live SSE clients on one `trainboard api` process, for 60 s.

    .venv/bin/python bench/bench_load.py [--seconds 60] [--runs 8] [--sse 20] [--iters-per-s 100] [--postgres]

One real `trainboard api` process on loopback (SQLite file by default; `--postgres` uses a fresh database on
the local server). Each run is an external run (`"external": true`) whose thread posts like a worker's reporter:
every --post-every seconds, one batch at `POST /api/runs/{id}/metrics` with the iterations since the last one
(`loss` and `param_norm` per iteration at --iters-per-s, and `train_loss`, `valid_acc` per "epoch" of 500
iterations). --sse clients follow `GET /api/runs/{id}/events` (spread over the runs; each reconnects with
Last-Event-ID, as a browser does, if its stream ends early), and --dashboards threads poll what the dashboard
reads (`GET /api/runs`, a run, its charts' series). At the end every run reports `succeeded`, which ends the
streams. Printed: requests and errors (any non-2xx answer or transport error: must be 0), client-side latency
percentiles of the metric posts and of the GETs, and whether every SSE client received every point of its run
exactly once.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import banner, percentile, postgres_database, running_stack  # noqa: E402

JSON = {"Content-Type": "application/json"}
ITERS_PER_EPOCH = 500
Point = tuple[str, int]  # (key, step)


@dataclass
class Tally:
    """What every client thread adds to: latencies and errors, under one lock."""

    post_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    get_ms_by_kind: dict[str, list[float]] = field(default_factory=dict)
    other_requests: int = 0
    sse_connections: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


@dataclass
class SseResult:
    run_id: int
    received: int  # points, counting repeats
    duplicates: int
    missing: int
    unexpected: int
    reconnects: int
    ended: bool  # the stream sent `end`

    @property
    def exactly_once(self) -> bool:
        return self.ended and self.duplicates == 0 and self.missing == 0 and self.unexpected == 0


@dataclass
class LoadResult:
    seconds: float
    runs: int
    points_posted: int
    tally: Tally
    sse: list[SseResult]

    @property
    def requests(self) -> int:
        t = self.tally
        return len(t.post_ms) + len(t.get_ms) + t.other_requests + t.sse_connections

    @property
    def every_sse_client_got_every_point_once(self) -> bool:
        return all(client.exactly_once for client in self.sse)


class Poster(threading.Thread):
    """One run's training loop, as its reporter sends it: a batch of the new iterations every post_every_s."""

    def __init__(
        self,
        url: str,
        run_id: int,
        tally: Tally,
        stop: threading.Event,
        *,
        lease: str,
        iters_per_s: float,
        post_every_s: float,
    ) -> None:
        super().__init__(daemon=True, name=f"poster-{run_id}")
        self.url, self.run_id, self.tally, self.stop = url, run_id, tally, stop
        self.headers = {**JSON, "X-Trainboard-Lease": lease}  # the run's writer holds its lease
        self.iters_per_s, self.post_every_s = iters_per_s, post_every_s
        self.posted: set[Point] = set()
        self.rng = random.Random(run_id)

    def run(self) -> None:
        done = 0
        with httpx.Client(base_url=self.url, timeout=30) as http:
            start = time.perf_counter()
            next_post = start + self.rng.uniform(0, self.post_every_s)  # runs do not post in lockstep
            while not self.stop.is_set():
                self.stop.wait(max(0.0, next_post - time.perf_counter()))
                next_post += self.post_every_s
                due = int((time.perf_counter() - start) * self.iters_per_s)
                points = self._points(done + 1, due)
                done = due
                if points:
                    self._post(http, points)

    def _points(self, first: int, last: int) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        for step in range(first, last + 1):
            points.append({"key": "loss", "step": step, "value": 2.0 / (1 + step / 100) + self.rng.random() * 0.01})
            points.append({"key": "param_norm", "step": step, "value": 10.0 + step / 1000})
            if step % ITERS_PER_EPOCH == 0:
                epoch = step // ITERS_PER_EPOCH
                points.append({"key": "train_loss", "step": epoch, "value": 1.0 / epoch})
                points.append({"key": "valid_acc", "step": epoch, "value": 1 - 0.5 / epoch})
        return points

    def _post(self, http: httpx.Client, points: list[dict[str, Any]]) -> None:
        body = json.dumps({"points": points}).encode()
        sent = time.perf_counter()
        try:
            response = http.post(f"/api/runs/{self.run_id}/metrics", content=body, headers=self.headers)
        except httpx.HTTPError as exc:
            self.tally.error(f"POST metrics run {self.run_id}: {exc!r}")
            return
        elapsed_ms = (time.perf_counter() - sent) * 1000
        with self.tally.lock:
            self.tally.post_ms.append(elapsed_ms)
        if response.status_code != 200:
            self.tally.error(f"POST metrics run {self.run_id}: HTTP {response.status_code} {response.text[:200]}")
            return
        reply = response.json()
        if reply["accepted"] != len(points):
            self.tally.error(f"POST metrics run {self.run_id}: {reply['duplicates']} duplicates in a fresh batch")
        self.posted.update((p["key"], p["step"]) for p in points)


class Dashboard(threading.Thread):
    """What an open dashboard reads besides its streams: the runs table, a run, its charts' series."""

    def __init__(
        self, url: str, run_ids: list[int], tally: Tally, stop: threading.Event, *, every_s: float, seed: int
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.run_ids, self.tally, self.stop, self.every_s = url, run_ids, tally, stop, every_s
        self.rng = random.Random(seed)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                run_id = self.rng.choice(self.run_ids)
                for kind, path, params in (
                    ("runs table", "/api/runs", {"limit": 50}),
                    ("one run", f"/api/runs/{run_id}", {}),
                    (
                        "iteration series",
                        f"/api/runs/{run_id}/metrics",
                        {"keys": "loss,param_norm", "max_points": 1000},
                    ),
                    ("epoch series", f"/api/runs/{run_id}/metrics", {"keys": "train_loss,valid_acc"}),
                ):
                    self._get(http, kind, path, params)
                self.stop.wait(self.every_s)

    def _get(self, http: httpx.Client, kind: str, path: str, params: dict[str, Any]) -> None:
        sent = time.perf_counter()
        try:
            response = http.get(path, params=params)
        except httpx.HTTPError as exc:
            self.tally.error(f"GET {path}: {exc!r}")
            return
        elapsed_ms = (time.perf_counter() - sent) * 1000
        with self.tally.lock:
            self.tally.get_ms.append(elapsed_ms)
            self.tally.get_ms_by_kind.setdefault(kind, []).append(elapsed_ms)
        if response.status_code != 200:
            self.tally.error(f"GET {path}: HTTP {response.status_code}")


class SseClient(threading.Thread):
    """A live run page: follows the stream until `end`, resuming with Last-Event-ID if it breaks off."""

    def __init__(self, url: str, run_id: int, tally: Tally, *, give_up: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id, self.tally, self.give_up = url, run_id, tally, give_up
        self.points: list[Point] = []
        self.connected = threading.Event()
        self.ended = False
        self.reconnects = -1
        self.last_id = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=httpx.Timeout(30, read=60)) as http:
            while not self.ended and not self.give_up.is_set():
                self.reconnects += 1
                try:
                    self._follow(http)
                except httpx.HTTPError as exc:
                    self.tally.error(f"SSE run {self.run_id}: {exc!r}")
                    time.sleep(1)

    def _follow(self, http: httpx.Client) -> None:
        headers = {"Last-Event-ID": str(self.last_id)} if self.last_id else {}
        with http.stream("GET", f"/api/runs/{self.run_id}/events", headers=headers) as response:
            with self.tally.lock:
                self.tally.sse_connections += 1
            if response.status_code != 200:
                self.tally.error(f"SSE run {self.run_id}: HTTP {response.status_code}")
                time.sleep(1)
                return
            kind, data, event_id = "message", [], None
            for line in response.iter_lines():
                if self.give_up.is_set():
                    return
                if line.startswith("id:"):
                    event_id = int(line[3:])
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:])
                elif line == "" and data:
                    self._handle(kind, json.loads("\n".join(data)))
                    if event_id is not None:
                        self.last_id = event_id
                    if kind == "end":
                        self.ended = True
                        return
                    kind, data, event_id = "message", [], None

    def _handle(self, kind: str, data: dict[str, object]) -> None:
        self.connected.set()
        if kind != "metrics":
            return
        for key, series in data.items():
            if isinstance(series, dict):
                self.points.extend((key, int(step)) for step in series["step"])

    def result(self, expected: set[Point]) -> SseResult:
        counts = Counter(self.points)
        return SseResult(
            run_id=self.run_id,
            received=len(self.points),
            duplicates=sum(n - 1 for n in counts.values()),
            missing=len(expected - counts.keys()),
            unexpected=len(counts.keys() - expected),
            reconnects=max(0, self.reconnects),
            ended=self.ended,
        )


def run_load(
    url: str,
    *,
    runs: int = 8,
    sse_clients: int = 20,
    seconds: float = 60,
    iters_per_s: float = 100,
    post_every_s: float = 0.5,
    dashboards: int = 2,
    dashboard_every_s: float = 0.5,
    drain_timeout_s: float = 60,
) -> LoadResult:
    """Drive the API at ``url`` and return what happened (nothing is asserted here)."""
    tally = Tally()
    stop, give_up = threading.Event(), threading.Event()
    with httpx.Client(base_url=url, timeout=30) as http:
        run_ids, leases = [], {}
        for i in range(runs):
            reply = http.post("/api/runs", json={"name": f"load {i}", "tags": ["bench-load"], "external": True})
            reply.raise_for_status()
            run_ids.append(int(reply.json()["id"]))
            leases[run_ids[-1]] = str(reply.json()["lease"])
        tally.other_requests += runs

        streams = [SseClient(url, run_ids[i % runs], tally, give_up=give_up) for i in range(sse_clients)]
        for stream in streams:
            stream.start()
        for stream in streams:
            if not stream.connected.wait(30):
                tally.error(f"SSE run {stream.run_id}: no event within 30 s of connecting")

        posters = [
            Poster(url, run_id, tally, stop, lease=leases[run_id], iters_per_s=iters_per_s, post_every_s=post_every_s)
            for run_id in run_ids
        ]
        readers = [Dashboard(url, run_ids, tally, stop, every_s=dashboard_every_s, seed=i) for i in range(dashboards)]
        started = time.perf_counter()
        for thread in [*posters, *readers]:
            thread.start()
        stop.wait(seconds)
        stop.set()
        for thread in [*posters, *readers]:
            thread.join(60)
        elapsed = time.perf_counter() - started

        for run_id in run_ids:  # ends every stream once it has sent everything
            lease = {"X-Trainboard-Lease": leases[run_id]}
            reply = http.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
            tally.other_requests += 1
            if reply.status_code != 200:
                tally.error(f"POST status run {run_id}: HTTP {reply.status_code}")
        deadline = time.monotonic() + drain_timeout_s
        for stream in streams:
            stream.join(max(0.0, deadline - time.monotonic()))
        give_up.set()

    posted = {poster.run_id: poster.posted for poster in posters}
    return LoadResult(
        seconds=elapsed,
        runs=runs,
        points_posted=sum(len(points) for points in posted.values()),
        tally=tally,
        sse=[stream.result(posted[stream.run_id]) for stream in streams],
    )


def report(result: LoadResult) -> None:
    t = result.tally
    print(
        f"requests: {result.requests:,} in {result.seconds:.1f} s ({len(t.post_ms):,} metric posts, "
        f"{len(t.get_ms):,} GETs, {t.sse_connections} SSE connections, {t.other_requests} other); "
        f"errors: {len(t.errors)}"
    )
    for error in t.errors[:10]:
        print(f"  error: {error}")
    print(f"points posted: {result.points_posted:,} ({result.points_posted / result.seconds:,.0f} points/s)")
    rows = [("metric POST", t.post_ms), ("GET (all)", t.get_ms)]
    rows += [(f"  {kind}", values) for kind, values in sorted(t.get_ms_by_kind.items())]
    for name, values in rows:
        if values:
            print(
                f"{name:<20} latency ms: p50 {percentile(values, 50):7.1f}, p95 {percentile(values, 95):7.1f}, "
                f"p99 {percentile(values, 99):7.1f}, max {max(values):7.1f} (n={len(values):,})"
            )
    complete = sum(client.exactly_once for client in result.sse)
    reconnects = sum(client.reconnects for client in result.sse)
    received = sum(client.received for client in result.sse)
    print(
        f"SSE: {complete}/{len(result.sse)} clients received every point of their run exactly once "
        f"({received:,} points in all, {reconnects} reconnects)"
    )
    for client in result.sse:
        if not client.exactly_once:
            print(f"  run {client.run_id}: {client}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--sse", type=int, default=20, help="SSE clients, spread over the runs")
    parser.add_argument("--iters-per-s", type=float, default=100, help="iterations per second per run")
    parser.add_argument("--post-every", type=float, default=0.5, help="seconds between a run's posts")
    parser.add_argument("--dashboards", type=int, default=2, help="threads polling the dashboard's GETs")
    parser.add_argument("--postgres", action="store_true", help="a fresh Postgres database instead of SQLite")
    args = parser.parse_args()
    database = "Postgres" if args.postgres else "SQLite"
    banner(
        f"load: {args.runs} runs x {args.iters_per_s:g} it/s (2 points per iteration, a post every "
        f"{args.post_every:g} s), {args.sse} SSE clients, {args.dashboards} dashboards, {args.seconds:g} s, {database}"
    )
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        env: dict[str, str] = {}
        if args.postgres:
            database_url = stack.enter_context(postgres_database())
            if database_url is None:
                return 1
            env["DATABASE_URL"] = database_url
        api = stack.enter_context(running_stack(tmp, workers=0, extra_env=env))
        result = run_load(
            api.url,
            runs=args.runs,
            sse_clients=args.sse,
            seconds=args.seconds,
            iters_per_s=args.iters_per_s,
            post_every_s=args.post_every,
            dashboards=args.dashboards,
        )
    report(result)
    ok = not result.tally.errors and result.every_sse_client_got_every_point_once
    print("verdict: " + ("no errors, every SSE client got every point once" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
