"""Artifacts: uploads stream to disk under their own size limit, a refused one warns on the run's page, and what
is served can never run script on the dashboard's origin. Also the dashboard's own security headers and /docs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.conftest import LOCAL_URL
from tests.utils.leases import LEASE_HEADER
from trainboard.client import Client
from trainboard.settings import Settings
from worker.reporter import ApiReporter

MIB = 1024 * 1024
OCTET = {"content-type": "application/octet-stream"}


@pytest.fixture
def small(settings: Settings) -> Settings:
    """Limits small enough to cross in a test: 4 KiB for JSON bodies, 3 MiB for artifacts."""
    return settings.model_copy(update={"max_body_bytes": 4096, "max_artifact_bytes": 3 * MIB})


@pytest.fixture
def app(small: Settings) -> FastAPI:
    return create_app(small)


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=LOCAL_URL) as test_client:
        yield test_client


def new_run(api: TestClient) -> int:
    """An external run; ``api`` then sends its lease with every request, as the run's script would."""
    response = api.post("/api/runs", json={"external": True, "name": "artifacts"})
    assert response.status_code == 201, response.text
    api.headers[LEASE_HEADER] = response.json()["lease"]
    return int(response.json()["id"])


def run_folder(settings: Settings, run_id: int) -> Path:
    return settings.artifacts_dir / str(run_id)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def warnings_of(api: TestClient, run_id: int) -> list[str]:
    """The run's `warning` events, as its page receives them (cancelled first, so the stream ends)."""
    api.post(f"/api/runs/{run_id}/cancel")
    text = api.get(f"/api/runs/{run_id}/events").text
    messages = []
    for frame in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if lines.get("event") == "warning":
            messages.append(json.loads(lines["data"])["message"])
    return messages


# ---- streaming uploads, driven at the ASGI level to control when each chunk arrives -------------------------------


async def put_chunks(app: FastAPI, path: str, chunks: AsyncIterator[bytes | None], *, lease: str) -> int:
    """PUT ``path`` with a body sent chunk by chunk; a None chunk is the client going away. The reply's status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/octet-stream"),
            (LEASE_HEADER.lower().encode(), lease.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    status: list[int] = []
    ended = False

    async def receive() -> dict[str, Any]:
        nonlocal ended
        if ended:
            await asyncio.sleep(3600)
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            ended = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if chunk is None:
            ended = True
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


def test_uploads_stream_to_a_temp_file_of_their_own(api: TestClient, app: FastAPI, small: Settings) -> None:
    run_id = new_run(api)
    lease = api.headers[LEASE_HEADER]
    folder = run_folder(small, run_id)
    path = f"/api/runs/{run_id}/artifacts/model.bin"
    halfway = asyncio.Event()
    resume = asyncio.Event()

    async def body(fill: bytes, pause: bool) -> AsyncIterator[bytes | None]:
        yield fill * MIB
        yield fill * MIB
        if pause:
            halfway.set()
            await resume.wait()
        yield fill * 100

    async def scenario() -> tuple[int, int, list[str]]:
        first = asyncio.create_task(put_chunks(app, path, body(b"a", pause=True), lease=lease))
        await halfway.wait()
        await asyncio.sleep(0.2)  # the second upload of the same name runs to its end meanwhile
        second = await put_chunks(app, path, body(b"b", pause=False), lease=lease)
        during = files_in(folder)
        sizes_on_disk = [(folder / name).stat().st_size for name in during if name.startswith(".")]
        resume.set()
        assert sizes_on_disk and min(sizes_on_disk) >= MIB, "the first upload's bytes are on disk, not in memory"
        return await first, second, during

    first, second, during = asyncio.run(scenario())
    assert (first, second) == (201, 201)
    temps = [name for name in during if name != "model.bin"]
    assert during.count("model.bin") == 1 and len(temps) == 1, during  # the first one's temp survived the second
    stored = (folder / "model.bin").read_bytes()
    assert stored == b"a" * (2 * MIB + 100), "the upload that finished last is the one stored, whole"
    assert files_in(folder) == ["model.bin"], "no temp file left behind"
    listed = api.get(f"/api/runs/{run_id}/artifacts").json()
    assert [(a["name"], a["size"]) for a in listed] == [("model.bin", 2 * MIB + 100)]


def test_an_interrupted_upload_leaves_nothing(api: TestClient, app: FastAPI, small: Settings) -> None:
    run_id = new_run(api)

    async def body() -> AsyncIterator[bytes | None]:
        yield b"x" * MIB
        yield b"x" * MIB
        yield None  # the client went away

    status = asyncio.run(
        put_chunks(app, f"/api/runs/{run_id}/artifacts/half.bin", body(), lease=api.headers[LEASE_HEADER])
    )
    assert status == 400
    assert files_in(run_folder(small, run_id)) == []
    assert api.get(f"/api/runs/{run_id}/artifacts").json() == []


def test_a_checkpoint_over_the_limit_is_refused_with_a_warning_on_the_run(api: TestClient, small: Settings) -> None:
    run_id = new_run(api)
    declared = 4 * MIB  # over the 3 MiB limit by its Content-Length: refused before a byte is read
    response = api.put(f"/api/runs/{run_id}/artifacts/checkpoint_last.pt", content=b"c" * declared, headers=OCTET)
    assert response.status_code == 413
    assert "checkpoint_last.pt" in response.json()["detail"]
    # no Content-Length (chunked): counted as it streams in, refused once past the limit
    chunks = iter([b"f" * MIB] * 4)
    response = api.put(f"/api/runs/{run_id}/artifacts/figure.png", content=chunks, headers=OCTET)
    assert response.status_code == 413
    assert files_in(run_folder(small, run_id)) == [], "nothing stored, no temp file left"
    checkpoint, figure = warnings_of(api, run_id)
    assert "checkpoint_last.pt (4.0 MiB)" in checkpoint and "3.0 MiB" in checkpoint
    assert "not stored" in checkpoint and "restarts from epoch 1" in checkpoint
    assert "figure.png" in figure and "not stored" in figure and "epoch 1" not in figure


def test_only_artifact_uploads_get_the_large_limit(api: TestClient, small: Settings) -> None:
    run_id = new_run(api)
    ten_kib = b"x" * 10_240  # over max_body_bytes (4 KiB), far under max_artifact_bytes (3 MiB)
    assert api.put(f"/api/runs/{run_id}/artifacts/ok.bin", content=ten_kib, headers=OCTET).status_code == 201
    for method, path in (("PUT", f"/api/runs/{run_id}"), ("PUT", "/api/runs"), ("POST", f"/api/runs/{run_id}/metrics")):
        response = api.request(method, path, content=ten_kib, headers={"content-type": "application/json"})
        assert response.status_code == 413, (method, path, response.status_code)


# ---- serving ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("fig.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("photo.jpeg", "image/jpeg"),
        ("anim.gif", "image/gif"),
        ("pic.webp", "image/webp"),
        ("misclassified.json", "application/json"),
    ],
)
def test_images_and_json_are_shown_inline(api: TestClient, name: str, media_type: str) -> None:
    run_id = new_run(api)
    assert api.put(f"/api/runs/{run_id}/artifacts/{name}", content=b"{}", headers=OCTET).status_code == 201
    response = api.get(f"/api/runs/{run_id}/artifacts/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert "content-disposition" not in response.headers
    assert_sandboxed(response.headers)


@pytest.mark.parametrize("name", ["report.html", "report.htm", "drawing.svg", "page.xhtml", "notes.txt", "x.pt", "js"])
def test_anything_else_is_a_download(api: TestClient, name: str) -> None:
    run_id = new_run(api)
    content = b"<html><script>localStorage.getItem('trainboard.token')</script></html>"
    assert api.put(f"/api/runs/{run_id}/artifacts/{name}", content=content, headers=OCTET).status_code == 201
    listed = api.get(f"/api/runs/{run_id}/artifacts").json()
    assert listed[0]["media_type"] == "application/octet-stream"
    response = api.get(f"/api/runs/{run_id}/artifacts/{name}")
    assert response.status_code == 200 and response.content == content
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert_sandboxed(response.headers)


def assert_sandboxed(headers: Any) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    policy = [part.strip() for part in headers["content-security-policy"].split(";")]
    assert "sandbox" in policy and "default-src 'none'" in policy


# ---- the dashboard's headers and /docs ------------------------------------------------------------------------------


def test_every_page_and_reply_carries_the_security_headers(api: TestClient) -> None:
    for url in ("/", "/api/health", "/api/runs", "/static/js/app.js", "/api/runs/999999"):
        headers = api.get(url).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "unsafe-eval" not in policy
        for directive in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
            assert directive in policy, (url, directive)
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_docs_pages_load_nothing_from_a_cdn(api: TestClient) -> None:
    for url in ("/docs", "/redoc"):
        response = api.get(url)
        assert response.status_code == 200
        page = response.text
        assert "cdn." not in page and "https://" not in page, page
        assert "'unsafe-inline'" not in response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        for asset in (part.split('"')[0] for part in page.split('="/vendor/')[1:]):
            served = api.get(f"/vendor/{asset}")
            assert served.status_code == 200, asset
            assert served.headers["content-type"].startswith(
                "text/css" if asset.endswith(".css") else "text/javascript"
            )


# ---- the worker's side: the checkpoint streams from disk, and a 413 is a skip, not a retry loop ------------------


def test_the_worker_streams_its_checkpoint_and_skips_one_too_large(
    api: TestClient, small: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = api.post("/api/runs", json={"external": True}).json()
    run_id = run["id"]
    client = Client(LOCAL_URL, token="")
    client.http = api
    client.lease = run.get("lease")  # the external run's writer, as a worker holds its claimed run's lease
    checkpoint = tmp_path / "checkpoint_last.pt"
    write_atomically(checkpoint, b"k" * (2 * MIB))
    read_whole: list[Path] = []
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read_whole.append(self) or read_bytes(self))
    stored = run_folder(small, run_id) / "checkpoint_last.pt"
    caplog.set_level(logging.WARNING, logger="worker.reporter")
    reporter = ApiReporter(client, run_id, worker_name="w@test", spool_dir=tmp_path / "spool", checkpoint=checkpoint)
    try:
        wait_for(lambda: stored.is_file() and stored.stat().st_size == 2 * MIB, "the first checkpoint is uploaded")
        write_atomically(checkpoint, b"K" * (4 * MIB))  # the next epoch's checkpoint is over the 3 MiB limit
        wait_for(lambda: any("checkpoint not uploaded" in r.getMessage() for r in caplog.records), "a 413 is logged")
        time.sleep(2.0)  # four more rounds of the sender: the same file is not sent again
    finally:
        reporter.close()
    assert checkpoint not in read_whole, "the checkpoint streams from disk, it is never read whole"
    skipped = [r for r in caplog.records if "checkpoint not uploaded" in r.getMessage()]
    assert len(skipped) == 1 and skipped[0].levelno == logging.WARNING
    assert reporter.api_up, "a 413 is not an outage: no backoff, no spooling"
    assert stored.read_bytes() == b"k" * (2 * MIB), "the stored checkpoint is still the last one that fit"
    assert len(warnings_of(api, run_id)) == 1


def write_atomically(path: Path, data: bytes) -> None:
    """As the training loop writes its checkpoints: a temp file, then a rename."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)
