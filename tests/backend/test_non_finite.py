"""NaN, infinities and "1e400" never break a write, a read, the live stream or a sweep's ranking, on either
database: a non-finite metric or summary value is stored as null, a non-finite sweep value is a 422."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from trainboard.settings import Settings

BASE = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 2}
# Python's json (and so the API) reads these literals; a browser's JSON.parse and Postgres do not.
RAW_BATCH = (
    b'{"points":[{"key":"loss","step":1,"value":Infinity}, {"key":"loss","step":2,"value":NaN},'
    b' {"key":"loss","step":3,"value":1e400}, {"key":"loss","step":4,"value":"1e400"},'
    b' {"key":"loss","step":5,"value":0.5}, {"key":"loss","step":6,"value":-Infinity}]}'
)
STORED = [None, None, None, None, 0.5, None]
RAW_SUMMARY = b'{"status":"succeeded","summary":{"best_valid_acc":Infinity,"gap":NaN,"deep":{"x":[1,-Infinity]}}}'
JSON_BODY = {"Content-Type": "application/json"}


def strict_json(body: str) -> Any:
    """json.loads as a browser parses: NaN and Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(body, parse_constant=refuse)


def writes(run: dict[str, Any]) -> dict[str, str]:
    """The headers a write of this attempt needs: its lease, when the API handed one out."""
    return {**JSON_BODY, "X-Trainboard-Lease": run["lease"]} if run.get("lease") else JSON_BODY


def external_run(client: TestClient) -> tuple[int, dict[str, str]]:
    run = client.post("/api/runs", json={"external": True}).json()
    return int(run["id"]), writes(run)


def claimed(client: TestClient, run_id: int) -> dict[str, str]:
    """Play the worker that takes a queued run (a sweep's): the headers of its writes."""
    reply = client.post(f"/api/runs/{run_id}/claim", json={"worker": "worker@test"})
    assert reply.status_code == 200, reply.text
    return writes(reply.json())


def stream_data(client: TestClient, run_id: int) -> list[tuple[str, Any]]:
    """Every event of a finished run's stream as (kind, data), each data line parsed strictly."""
    events = []
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                events.append((kind, strict_json(line[5:])))
                if kind == "end":
                    break
    return events


def test_non_finite_points_are_stored_as_null_and_the_rest_kept(client: TestClient) -> None:
    run_id, headers = external_run(client)
    reply = client.post(f"/api/runs/{run_id}/metrics", content=RAW_BATCH, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["accepted"] == 6
    for params in ({"keys": "loss"}, {}):
        read = client.get(f"/api/runs/{run_id}/metrics", params=params)
        assert strict_json(read.text)["loss"] == {"step": [1, 2, 3, 4, 5, 6], "value": STORED}
    downsampled = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss", "max_points": 2})
    assert 0.5 in strict_json(downsampled.text)["loss"]["value"]


@pytest.mark.parametrize(
    ("values", "stored"),
    [
        (b'[Infinity, NaN, 1e400, "1e400", 0.5, -Infinity]', STORED),
        (b"[null, Infinity, 0.25, NaN, null, 1.5]", [None, None, 0.25, None, None, 1.5]),
        (b"[0.5, 1.5, 2.5, 3.5, 4.5, 5.5]", [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]),
    ],
)
def test_non_finite_values_sent_as_arrays_are_stored_as_null(
    client: TestClient, values: bytes, stored: list[float | None]
) -> None:
    run_id, headers = external_run(client)
    body = b'{"series": {"loss": {"step": [1, 2, 3, 4, 5, 6], "value": ' + values + b"}}}"
    reply = client.post(f"/api/runs/{run_id}/metrics", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    read = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss"})
    assert strict_json(read.text)["loss"] == {"step": [1, 2, 3, 4, 5, 6], "value": stored}


@pytest.mark.parametrize("shape", ["points", "arrays"])
def test_an_infinite_point_never_hides_the_spike_next_to_it_in_a_chart(client: TestClient, shape: str) -> None:
    """Stored as null, an infinity is no bucket's maximum: the finite spike beside it still shows."""
    run_id, headers = external_run(client)
    values = {100: "Infinity", 101: "5.0"}
    if shape == "points":
        points = ",".join(f'{{"key":"loss","step":{s},"value":{values.get(s, "1.0")}}}' for s in range(1, 257))
        body = f'{{"points":[{points}]}}'
    else:
        steps = ",".join(str(s) for s in range(1, 257))
        numbers = ",".join(values.get(s, "1.0") for s in range(1, 257))
        body = f'{{"series":{{"loss":{{"step":[{steps}],"value":[{numbers}]}}}}}}'
    client.post(f"/api/runs/{run_id}/metrics", content=body.encode(), headers=headers)
    chart = strict_json(client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss", "max_points": 8}).text)
    assert 5.0 in chart["loss"]["value"], chart


def test_every_frame_of_the_live_stream_is_strict_json(client: TestClient) -> None:
    run_id, headers = external_run(client)
    client.post(f"/api/runs/{run_id}/metrics", content=RAW_BATCH, headers=headers)
    assert client.post(f"/api/runs/{run_id}/status", content=RAW_SUMMARY, headers=headers).status_code == 200
    events = stream_data(client, run_id)
    metrics = [data for kind, data in events if kind == "metrics"]
    assert metrics and metrics[0]["loss"] == {"step": [1, 2, 3, 4, 5, 6], "value": STORED}
    final = [data for kind, data in events if kind == "status"][-1]
    assert final["status"] == "succeeded" and final["summary"]["best_valid_acc"] is None


def test_non_finite_summary_values_become_null(client: TestClient) -> None:
    run_id, headers = external_run(client)
    reply = client.post(f"/api/runs/{run_id}/status", content=RAW_SUMMARY, headers=headers)
    assert reply.status_code == 200, reply.text
    expected = {"best_valid_acc": None, "gap": None, "deep": {"x": [1, None]}}
    assert strict_json(client.get(f"/api/runs/{run_id}").text)["summary"] == expected
    assert strict_json(client.get("/api/runs").text)[0]["summary"] == expected


def test_an_infinite_accuracy_never_wins_a_sweep(client: TestClient) -> None:
    sweep = client.post("/api/sweeps", json={"name": "inf", "base": BASE, "grid": {"seed": [1, 2]}}).json()
    cheat, honest = sweep["runs"]
    raw = {cheat: b"Infinity", honest: b"0.5"}
    for run_id, acc in raw.items():
        body = b'{"status":"succeeded","summary":{"best_valid_acc":' + acc + b"}}"
        reply = client.post(f"/api/runs/{run_id}/status", content=body, headers=claimed(client, run_id))
        assert reply.status_code == 200, reply.text
    detail = strict_json(client.get(f"/api/sweeps/{sweep['id']}").text)
    assert [row["run_id"] for row in detail["results"] if row["best"]] == [honest]
    assert detail["best_run_id"] == honest
    assert strict_json(client.get("/api/sweeps").text)[0]["best_run_id"] == honest


@pytest.mark.parametrize(
    ("grid", "named"),
    [
        (b'{"optimizer.lr": {"min": 0.001, "max": Infinity}}', "max"),
        (b'{"optimizer.lr": {"min": NaN, "max": 0.1}}', "min"),
        (b'{"optimizer.lr": {"min": 0.001, "max": "1e400"}}', "max"),
        (b'{"optimizer.lr": {"min": -1e308, "max": 1e308}}', "max - min"),
        (b'{"optimizer.lr": [0.1, Infinity]}', "optimizer.lr: value 2"),
        (b'{"seed": [1, NaN]}', "seed: value 2"),
    ],
)
def test_a_non_finite_sweep_value_is_a_422_naming_the_field(client: TestClient, grid: bytes, named: str) -> None:
    body = b'{"base": ' + json.dumps(BASE).encode() + b', "method": "random", "n": 2, "grid": ' + grid + b"}"
    reply = client.post("/api/sweeps", content=body, headers=JSON_BODY)
    assert reply.status_code == 422, reply.text
    errors = reply.json()["detail"]
    assert any(e["loc"][:2] == ["body", "grid"] and named in f"{e['loc']} {e['msg']}" for e in errors), errors
    assert client.get("/api/sweeps").json() == []


def test_a_non_finite_sweep_base_is_a_422(client: TestClient) -> None:
    body = b'{"base": {"optimizer": {"lr": Infinity}}, "grid": {"seed": [1]}}'
    reply = client.post("/api/sweeps", content=body, headers=JSON_BODY)
    assert reply.status_code == 422
    assert "optimizer.lr" in reply.text and reply.json()["detail"][0]["loc"][:2] == ["body", "base"]


def test_rows_of_older_versions_holding_infinity_still_read_as_json(client: TestClient, settings: Settings) -> None:
    """SQLite kept infinities that older versions let through (Postgres refused them): every read and the stream
    must still be valid JSON."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("only SQLite could store them")
    run_id, headers = external_run(client)
    client.post(
        f"/api/runs/{run_id}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 1.0}]}, headers=headers
    )
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded", "summary": {"acc": 1}}, headers=headers)
    engine = client.app.state.sessionmaker.kw["bind"]  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(text("UPDATE metric_points SET value = 9e999"))
        conn.execute(text("""UPDATE runs SET summary = '{"acc": Infinity}', best_valid_acc = 9e999"""))
        conn.execute(
            text("""UPDATE run_events SET data = '{"loss": {"step": [1], "value": [Infinity]}}'
                             WHERE kind = 'metrics'""")
        )
    assert strict_json(client.get(f"/api/runs/{run_id}/metrics").text) == {"loss": {"step": [1], "value": [None]}}
    assert strict_json(client.get(f"/api/runs/{run_id}").text)["summary"] == {"acc": None}
    assert strict_json(client.get("/api/runs").text)[0]["summary"] == {"acc": None}
    metrics = [data for kind, data in stream_data(client, run_id) if kind == "metrics"]
    assert metrics[0]["loss"]["value"] == [None]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("metrics", b'{"points":[{"key":"loss","step":NaN,"value":1.0}]}', ["body", "points", 0, "step"]),
        ("status", b'{"progress":Infinity}', ["body", "progress"]),
    ],
)
def test_a_refused_non_finite_field_is_a_422_in_valid_json(
    client: TestClient, path: str, body: bytes, field: list[Any]
) -> None:
    run_id, headers = external_run(client)
    reply = client.post(f"/api/runs/{run_id}/{path}", content=body, headers=headers)
    assert reply.status_code == 422
    assert [error["loc"] for error in strict_json(reply.text)["detail"]] == [field]
