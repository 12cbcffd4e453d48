"""The live stream: every event has an id, reconnecting with Last-Event-ID gets exactly what was missed."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from backend.api.routes import events as events_route
from backend.main import create_app
from tests.conftest import LOCAL_URL
from tests.utils.leases import external_run
from tests.utils.sse import sse_events
from trainboard.settings import Settings


def _read_all(client: TestClient, run_id: int, last_event_id: int | None = None) -> list[tuple[int, str, dict]]:
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    events = []
    with client.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events.extend(sse_events(response.iter_lines()))
    return events


def _finished_run(client: TestClient) -> int:
    run_id, lease = external_run(client)
    for epoch in (1, 2, 3):
        points = [{"key": "test_acc", "step": epoch, "value": epoch / 10}]
        client.post(f"/api/runs/{run_id}/metrics", json={"points": points}, headers=lease)
        client.post(f"/api/runs/{run_id}/status", json={"epoch": epoch}, headers=lease)
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded", "summary": {"best_epoch": 3}}, headers=lease)
    return run_id


def test_finished_run_replays_its_history(client: TestClient) -> None:
    run_id = _finished_run(client)
    events = _read_all(client, run_id)
    ids = [e[0] for e in events]
    assert ids == sorted(set(ids)), "ids are unique and increasing"
    metric_steps = [s for _, kind, data in events if kind == "metrics" for s in data["test_acc"]["step"]]
    assert metric_steps == [1, 2, 3]
    assert events[-1][1] == "status" and events[-1][2]["status"] == "succeeded"


def test_reconnect_with_last_event_id_gets_exactly_the_rest(client: TestClient) -> None:
    run_id = _finished_run(client)
    everything = _read_all(client, run_id)
    cut = everything[3][0]
    rest = _read_all(client, run_id, last_event_id=cut)
    assert rest == everything[4:]


def _loss_steps(events: list[tuple[int, str, dict]]) -> list[int]:
    return [step for _, kind, data in events if kind == "metrics" for step in data.get("loss", {}).get("step", [])]


@pytest.mark.parametrize("resume", ["Last-Event-ID", "after"])
def test_a_stream_cut_mid_run_resumes_with_exactly_the_missed_events(client: TestClient, resume: str) -> None:
    run_id, lease = external_run(client)

    def log(steps: range, epoch: int) -> None:
        points = [{"key": "loss", "step": step, "value": 1 / step} for step in steps]
        assert client.post(f"/api/runs/{run_id}/metrics", json={"points": points}, headers=lease).status_code == 200
        assert client.post(f"/api/runs/{run_id}/status", json={"epoch": epoch}, headers=lease).status_code == 200

    log(range(1, 11), epoch=1)
    seen: list[tuple[int, str, dict]] = []
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert response.status_code == 200
        live = sse_events(response.iter_lines())
        while not (seen and seen[-1][1] == "status" and seen[-1][2].get("epoch") == 1):
            seen.append(next(live))  # the history so far
        log(range(11, 21), epoch=2)  # posted while connected: comes over this connection
        while not (seen[-1][1] == "status" and seen[-1][2].get("epoch") == 2):
            seen.append(next(live))
    assert _loss_steps(seen) == list(range(1, 21))
    # the connection is cut while the run goes on; what is stored meanwhile waits in the database
    log(range(21, 31), epoch=3)
    log(range(31, 41), epoch=4)
    succeeded = {"status": "succeeded", "summary": {"best_epoch": 4}}
    assert client.post(f"/api/runs/{run_id}/status", json=succeeded, headers=lease).status_code == 200

    cut = seen[-1][0]
    if resume == "after":
        url, headers = f"/api/runs/{run_id}/events?after={cut}", {}
    else:
        url, headers = f"/api/runs/{run_id}/events", {"Last-Event-ID": str(cut)}
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        rest = list(sse_events(response.iter_lines()))
    everything = _read_all(client, run_id)
    ids = [event[0] for event in everything]
    assert ids == list(range(1, len(ids) + 1)), "a run's events are numbered 1, 2, 3, ... with no hole"
    assert [event[0] for event in rest] == ids[len(seen) :], (
        "the reconnect starts right after the cut: no repeat, no gap"
    )
    assert seen + rest == everything
    assert _loss_steps(rest) == list(range(21, 41))
    assert rest[-1][2]["status"] == "succeeded"


def test_a_quiet_stream_keeps_alive_between_far_apart_re_reads(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxies drop idle connections: keep-alives keep their pace when TRAINBOARD_STREAM_POLL_S is long."""
    monkeypatch.setattr(events_route, "KEEPALIVE_S", 0.3)
    app = create_app(settings.model_copy(update={"stream_poll_s": 600.0}))
    comments: list[str] = []
    with TestClient(app, base_url=LOCAL_URL) as client:
        run_id, lease = external_run(client)

        def read() -> None:
            with client.stream("GET", f"/api/runs/{run_id}/events") as response:
                for line in response.iter_lines():
                    comments.extend([line] if line.startswith(":") else [])
                    if line == "event: end":
                        return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 20
        while len(comments) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # the end wakes the stream at once, whatever the re-read interval
        client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
        reader.join(20)
    assert comments[:2] == [": keep-alive", ": keep-alive"], "no keep-alive while the stream waited for news"
