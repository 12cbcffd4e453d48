"""A run's log: numbered lines in (idempotent, lease-checked, bounded) and out (from any line, live on the stream)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from backend.services import logs
from tests.utils.leases import claim, external_run
from tests.utils.sse import sse_events
from trainboard.limits import LOG_LINE_CUT_MARK, LOG_LINE_MAX_CHARS


def _post(client: TestClient, run_id: int, first_line: int, lines: list[str], lease: dict[str, str]) -> dict:
    reply = client.post(f"/api/runs/{run_id}/logs", json={"first_line": first_line, "lines": lines}, headers=lease)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _read(client: TestClient, run_id: int, **params: int) -> dict:
    reply = client.get(f"/api/runs/{run_id}/logs", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_lines_are_stored_in_order_and_read_from_any_offset(client: TestClient) -> None:
    run_id, lease = external_run(client)
    _post(client, run_id, 0, [f"line {n}" for n in range(5)], lease)
    _post(client, run_id, 5, ["ünïcode ✓", "", "epoch 3: loss=0.25"], lease)

    everything = _read(client, run_id)
    assert everything["lines"] == [*(f"line {n}" for n in range(5)), "ünïcode ✓", "", "epoch 3: loss=0.25"]
    assert (everything["offset"], everything["next_offset"], everything["total"]) == (0, 8, 8)
    assert everything["refused"] == 0

    middle = _read(client, run_id, offset=3, limit=2)
    assert middle["lines"] == ["line 3", "line 4"] and middle["next_offset"] == 5
    tail = _read(client, run_id, offset=-2)
    assert tail["lines"] == ["", "epoch 3: loss=0.25"] and tail["offset"] == 6
    caught_up = _read(client, run_id, offset=8)
    assert caught_up["lines"] == [] and caught_up["next_offset"] == 8


def test_a_retried_batch_never_duplicates_a_line(client: TestClient) -> None:
    run_id, lease = external_run(client)
    first = _post(client, run_id, 0, ["a", "b", "c"], lease)
    again = _post(client, run_id, 0, ["a", "b", "c"], lease)
    overlapping = _post(client, run_id, 2, ["c", "d"], lease)
    assert (first["accepted"], first["duplicates"]) == (3, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert (overlapping["accepted"], overlapping["duplicates"]) == (1, 1)
    assert _read(client, run_id)["lines"] == ["a", "b", "c", "d"]


def test_the_live_stream_carries_each_batchs_new_lines(client: TestClient) -> None:
    run_id, lease = external_run(client)
    _post(client, run_id, 0, ["hello", "<script>alert(1)</script>"], lease)
    _post(client, run_id, 0, ["hello", "<script>alert(1)</script>"], lease)  # a retry: no event
    _post(client, run_id, 2, ["bye"], lease)
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)

    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        events = [data for _, kind, data in sse_events(response.iter_lines()) if kind == "log"]
    assert [(e["first_line"], e["lines"]) for e in events] == [
        (0, ["hello", "<script>alert(1)</script>"]),
        (2, ["bye"]),
    ]


def test_a_long_line_is_cut_and_text_postgres_refuses_is_replaced(client: TestClient) -> None:
    run_id, lease = external_run(client)
    lines = ["x" * (LOG_LINE_MAX_CHARS + 500), "nul\x00byte", "lone \ud800 surrogate"]
    body = json.dumps({"first_line": 0, "lines": lines})  # ASCII JSON, as the senders write it: \\ud800 escaped
    reply = client.post(f"/api/runs/{run_id}/logs", content=body, headers={**lease, "Content-Type": "application/json"})
    assert reply.status_code == 200, reply.text
    long, nul, surrogate = _read(client, run_id)["lines"]
    assert long.startswith("x" * LOG_LINE_MAX_CHARS) and long.endswith(LOG_LINE_CUT_MARK)
    assert len(long) == LOG_LINE_MAX_CHARS + len(LOG_LINE_CUT_MARK)
    assert nul == "nul\ufffdbyte"
    assert surrogate.startswith("lone ") and surrogate.endswith(" surrogate") and "\ud800" not in surrogate


def test_a_full_log_refuses_later_lines_and_says_so(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_LOG_LINES", 5)
    run_id, lease = external_run(client)
    assert _post(client, run_id, 0, ["1", "2", "3"], lease)["full"] is False
    reply = _post(client, run_id, 3, ["4", "5", "6", "7"], lease)
    assert (reply["accepted"], reply["refused"], reply["full"]) == (2, 2, True)
    retried = _post(client, run_id, 3, ["4", "5", "6", "7"], lease)  # the same batch again counts nothing twice
    assert (retried["accepted"], retried["duplicates"], retried["refused"]) == (0, 2, 0)
    later = _post(client, run_id, 7, ["8"], lease)
    assert (later["accepted"], later["refused"], later["full"]) == (0, 1, True)

    page = _read(client, run_id)
    assert page["lines"] == ["1", "2", "3", "4", "5"]
    assert page["total"] == 5 and page["refused"] == 3
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        events = [data for _, kind, data in sse_events(response.iter_lines()) if kind == "log"]
    assert [e.get("refused") for e in events] == [None, 2], "the page hears once that the log is full"


def test_a_log_over_its_byte_limit_refuses_the_rest(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_LOG_BYTES", 10)
    run_id, lease = external_run(client)
    reply = _post(client, run_id, 0, ["12345", "6789", "too long now", "1"], lease)
    assert (reply["accepted"], reply["refused"], reply["full"]) == (2, 2, True)
    assert _read(client, run_id)["lines"] == ["12345", "6789"]


def test_only_the_attempt_holding_the_lease_writes(client: TestClient) -> None:
    run_id, lease = external_run(client)
    batch = {"first_line": 0, "lines": ["hi"]}
    missing = client.post(f"/api/runs/{run_id}/logs", json=batch)
    assert missing.status_code == 403 and "X-Trainboard-Lease" in missing.json()["detail"]
    stale = client.post(f"/api/runs/{run_id}/logs", json=batch, headers={"X-Trainboard-Lease": "not-the-lease"})
    assert stale.status_code == 409 and "stale or wrong lease" in stale.json()["detail"]

    assert _read(client, run_id)["lines"] == []

    client.post(f"/api/runs/{run_id}/status", json={"status": "failed", "error": "boom"}, headers=lease)
    traceback = {"first_line": 0, "lines": ["Traceback (most recent call last):", "RuntimeError: boom"]}
    after_the_outcome = client.post(f"/api/runs/{run_id}/logs", json=traceback, headers=lease)
    assert after_the_outcome.status_code == 200, "a failing run's last lines may come after its final status"
    assert _read(client, run_id)["lines"] == traceback["lines"]


def test_a_worker_writes_the_log_of_the_run_it_claimed(client: TestClient) -> None:
    run = client.post("/api/runs", json={"name": "built-in", "dataset": "mnist", "epochs": 1, "limit_train": 64})
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    lease = claim(client, run_id)
    _post(client, run_id, 0, ["epoch 1/1 valid_acc=0.5000"], lease)
    assert _read(client, run_id)["lines"] == ["epoch 1/1 valid_acc=0.5000"]


def test_bad_input_is_a_422_naming_the_field(client: TestClient) -> None:
    run_id, lease = external_run(client)
    cases = [
        ({"first_line": -1, "lines": ["x"]}, "first_line"),
        ({"first_line": 0, "lines": "x"}, "lines"),
        ({"first_line": 0, "lines": ["x"] * 1_001}, "lines"),
        ({"lines": ["x"]}, "first_line"),
    ]
    for body, field in cases:
        reply = client.post(f"/api/runs/{run_id}/logs", json=body, headers=lease)
        assert reply.status_code == 422, body
        assert field in str(reply.json()["detail"])
    assert client.get(f"/api/runs/{run_id}/logs", params={"limit": 0}).status_code == 422
    assert client.post("/api/runs/999999/logs", json={"first_line": 0, "lines": []}, headers=lease).status_code == 404
    assert client.get("/api/runs/999999/logs").status_code == 404
