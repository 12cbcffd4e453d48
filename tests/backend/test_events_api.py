"""The live stream: every event has an id, reconnecting with Last-Event-ID gets exactly what was missed."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.utils.leases import external_run


def _read_all(client: TestClient, run_id: int, last_event_id: int | None = None) -> list[tuple[int, str, dict]]:
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    events = []
    with client.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id, kind = None, None
        for line in response.iter_lines():
            if line.startswith("id:"):
                event_id = int(line[3:])
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:") and kind != "end":
                events.append((event_id, kind, json.loads(line[5:])))
            elif line.startswith("data:"):
                break
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
