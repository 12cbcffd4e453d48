"""The API's memory while uploads stream in: a real `trainboard api` process with a token, watched from outside.

Unauthenticated uploads are refused before their body is read, so eight parallel 1 GiB PUTs cost the API nothing;
an authenticated 500 MB upload goes to disk as it arrives, so the API's memory stays flat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.utils.stack import Stack, running_stack
from trainboard.client import Client

TOKEN = "upload-memory-test-token-0123456789abcdef"
MIB = 1024 * 1024
GIB = 1024 * MIB
CHUNK = b"\0" * MIB  # one buffer sent again and again: the test itself never holds a large body


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("uploads"), workers=0, extra_env={"TRAINBOARD_TOKEN": TOKEN}) as live:
        yield live


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakRss:
    """The largest resident size of a process, sampled every 20 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


class Body:
    """``total`` bytes generated chunk by chunk; ``sent`` is how much the server let through."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < self.total:
            chunk = CHUNK[: self.total - self.sent]
            yield chunk
            self.sent += len(chunk)


def put(url: str, body: Body, headers: dict[str, str]) -> str:
    """The reply's status, or "closed" when the server ended the connection without one."""
    timeout = httpx.Timeout(20.0)
    length = {"Content-Type": "application/octet-stream", "Content-Length": str(body.total)}
    try:
        return str(httpx.put(url, content=iter(body), headers={**headers, **length}, timeout=timeout).status_code)
    except httpx.TransportError:
        return "closed"


def test_unauthenticated_uploads_are_refused_before_their_body_is_read(stack: Stack) -> None:
    api = stack.processes["api"]
    url = f"{stack.url}/api/runs/1/artifacts/checkpoint_last.pt"
    bodies = [Body(GIB) for _ in range(8)]
    started = time.monotonic()
    with PeakRss(api.pid) as rss, ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda body: put(url, body, {}), bodies))
    took = time.monotonic() - started
    assert all(outcome in ("401", "closed") for outcome in outcomes), outcomes
    assert max(body.sent for body in bodies) < GIB // 4, [body.sent // MIB for body in bodies]
    assert took < 30, f"refusing 8 uploads took {took:.1f} s"
    assert rss.peak < 300 * MIB, f"the API reached {rss.peak / MIB:.0f} MiB"


def test_an_authenticated_500_mb_upload_streams_with_flat_memory(stack: Stack) -> None:
    api = stack.processes["api"]
    client = Client(stack.url, token=TOKEN, timeout=60)
    run = client.create_run({"external": True, "name": "upload-memory"})
    client.lease = run.get("lease")  # the external run's writer holds its lease
    path = f"/api/runs/{run['id']}/artifacts/big.bin"
    client.http.put(path, content=b"warm-up", headers={"Content-Type": "application/octet-stream"})
    baseline = rss_bytes(api.pid)
    body = Body(500 * MIB)
    started = time.monotonic()
    with PeakRss(api.pid) as rss:
        response = client.http.put(
            path,
            content=iter(body),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(body.total)},
        )
    took = time.monotonic() - started
    assert response.status_code == 201, response.text
    assert response.json()["size"] == 500 * MIB
    assert (stack.home / "artifacts" / str(run["id"]) / "big.bin").stat().st_size == 500 * MIB
    assert rss.peak - baseline < 50 * MIB, f"the API grew by {(rss.peak - baseline) / MIB:.0f} MiB"
    assert took < 45, f"500 MB took {took:.1f} s"
    client.close()
