"""Live: how long from posting a point to seeing it, on the SSE stream vs by polling GET metrics every second.

    .venv/bin/python bench/bench_live.py [--points 50] [--poll-s 1.0]

Against a real `trainboard api` process on loopback. One thread follows `GET /api/runs/{id}/events`
(Server-Sent Events) on its own connection; another polls `GET /api/runs/{id}/metrics?keys=loss` every
--poll-s seconds, the way a dashboard without a stream would (MLflow's UI refreshes every 30 s; 1 s is a far
kinder baseline). The main thread posts one point at a time at random intervals (50-250 ms, so the poller's
phase does not line up), and each observer notes when it first sees each step. Latency = first seen - just
before the POST was sent, so it includes the POST itself. Both observers watch the same points in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import banner, percentile, running_stack, summary  # noqa: E402


class SseWatcher(threading.Thread):
    def __init__(self, url: str, run_id: int) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id = url, run_id
        self.seen: dict[int, float] = {}
        self.connected = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with (
            httpx.Client(base_url=self.url, timeout=None) as http,
            http.stream("GET", f"/api/runs/{self.run_id}/events") as response,
        ):
            kind, data = "message", []
            for line in response.iter_lines():
                now = time.perf_counter()
                if self.stop.is_set():
                    return
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "":
                    if data:
                        self.connected.set()  # the replay of the run's first status event arrived
                        if kind == "metrics":
                            for step in json.loads("\n".join(data)).get("loss", {}).get("step", []):
                                self.seen.setdefault(step, now)
                    kind, data = "message", []


class Poller(threading.Thread):
    def __init__(self, url: str, run_id: int, period_s: float) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id, self.period_s = url, run_id, period_s
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            next_poll = time.perf_counter()
            while not self.stop.is_set():
                body = http.get(f"/api/runs/{self.run_id}/metrics", params={"keys": "loss"}).json()
                now = time.perf_counter()
                for step in body.get("loss", {}).get("step", []):
                    self.seen.setdefault(step, now)
                next_poll += self.period_s
                self.stop.wait(max(0.0, next_poll - time.perf_counter()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--poll-s", type=float, default=1.0)
    args = parser.parse_args()
    banner(f"live: {args.points} points posted one by one -> SSE stream vs polling every {args.poll_s:g} s")
    rng = random.Random(7)

    with (
        tempfile.TemporaryDirectory(prefix="bench-live-") as tmp,
        running_stack(Path(tmp), workers=0) as stack,
        httpx.Client(base_url=stack.url, timeout=30) as http,
    ):
        run = http.post("/api/runs", json={"name": "bench-live", "external": True}).json()
        run_id = run["id"]
        http.headers["X-Trainboard-Lease"] = run["lease"]  # this client plays the run's script
        sse = SseWatcher(stack.url, run_id)
        sse.start()
        if not sse.connected.wait(10):
            raise RuntimeError("the event stream sent nothing in 10 s")
        poller = Poller(stack.url, run_id, args.poll_s)
        poller.start()
        http.post(f"/api/runs/{run_id}/metrics", json={"points": []})  # warm the connection

        sent: dict[int, float] = {}
        answered: dict[int, float] = {}
        for step in range(args.points):
            time.sleep(rng.uniform(0.05, 0.25))
            sent[step] = time.perf_counter()
            reply = http.post(
                f"/api/runs/{run_id}/metrics", json={"points": [{"key": "loss", "step": step, "value": 1.0}]}
            )
            reply.raise_for_status()
            answered[step] = time.perf_counter()
        deadline = time.perf_counter() + 10
        while (len(sse.seen) < args.points or len(poller.seen) < args.points) and time.perf_counter() < deadline:
            time.sleep(0.05)
        sse.stop.set()
        poller.stop.set()
        http.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"})  # ends the stream
        sse.join(5)
        poller.join(5)

    assert len(sse.seen) == args.points, f"the stream delivered {len(sse.seen)} of {args.points} points"
    assert len(poller.seen) == args.points, f"polling saw {len(poller.seen)} of {args.points} points"
    sse_ms = [(sse.seen[s] - sent[s]) * 1000 for s in sent]
    poll_ms = [(poller.seen[s] - sent[s]) * 1000 for s in sent]
    post_ms = [(answered[s] - sent[s]) * 1000 for s in sent]
    sse_p95 = percentile(sse_ms, 95)
    print(f"SSE stream, post -> received, ms:            {summary(sse_ms)}, mean {statistics.mean(sse_ms):.1f}")
    print(f"polling every {args.poll_s:g} s, post -> seen, ms: {summary(poll_ms)}, mean {statistics.mean(poll_ms):.1f}")
    print(f"  of which the POST round trip itself, ms:   {summary(post_ms)}")
    print(
        f"SSE p95 {sse_p95:.1f} ms, target < 100 ms: {'MET' if sse_p95 < 100 else 'NOT MET'}; "
        f"ratio polling mean / SSE mean: {statistics.mean(poll_ms) / statistics.mean(sse_ms):.1f}x "
        f"(polling p95 / SSE p95: {percentile(poll_ms, 95) / sse_p95:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
