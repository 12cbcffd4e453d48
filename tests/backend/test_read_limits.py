"""One request cannot make the server do unbounded work: repeated or too many keys, an omitted max_points on a long
series, an unpaged sweeps list, a huge offset, a multi-megabyte summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from backend.services import metrics as metrics_service

BASE = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 2}


def writes(run: dict[str, Any]) -> dict[str, str]:
    """The headers a write of this attempt needs: its lease, when the API handed one out."""
    return {"X-Trainboard-Lease": run["lease"]} if run.get("lease") else {}


def external_run(client: TestClient) -> tuple[int, dict[str, str]]:
    run = client.post("/api/runs", json={"external": True}).json()
    return int(run["id"]), writes(run)


def post_series(
    client: TestClient, run_id: int, headers: dict[str, str], values: list[float], key: str = "loss"
) -> None:
    for start in range(0, len(values), 10_000):
        points = [{"key": key, "step": s, "value": values[s]} for s in range(start, min(start + 10_000, len(values)))]
        assert client.post(f"/api/runs/{run_id}/metrics", json={"points": points}, headers=headers).status_code == 200


@contextmanager
def counted_statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the API runs meanwhile."""
    engine = client.app.state.sessionmaker.kw["bind"]  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_key_named_400_times_is_read_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id, headers = external_run(client)
    post_series(client, run_id, headers, [1.0, 2.0, 3.0])
    reads: list[str] = []
    real = metrics_service.read_series

    def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append(kwargs["key"])
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics_service, "read_series", counting)
    reply = client.get(f"/api/runs/{run_id}/metrics", params={"keys": ",".join(["loss"] * 399 + ["acc"])})
    assert reply.status_code == 200
    assert list(reply.json()) == ["loss", "acc"] and reply.json()["loss"]["value"] == [1.0, 2.0, 3.0]
    assert reads == ["loss", "acc"]


def test_more_than_64_distinct_keys_is_a_422_naming_keys(client: TestClient) -> None:
    run_id, _ = external_run(client)
    ok = client.get(f"/api/runs/{run_id}/metrics", params={"keys": ",".join(f"k{i}" for i in range(64))})
    assert ok.status_code == 200 and len(ok.json()) == 64
    refused = client.get(f"/api/runs/{run_id}/metrics", params={"keys": ",".join(f"k{i}" for i in range(65))})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "keys"] and "64" in refused.json()["detail"][0]["msg"]


def test_an_omitted_max_points_returns_at_most_10000_points_a_key(client: TestClient) -> None:
    run_id, headers = external_run(client)
    values = [1.0] * 25_000
    values[12_345] = 99.0  # a spike the downsampled series keeps
    post_series(client, run_id, headers, values)
    post_series(client, run_id, headers, [0.5] * 300, key="acc")
    everything = client.get(f"/api/runs/{run_id}/metrics").json()
    assert len(everything["loss"]["step"]) <= 10_000
    assert 99.0 in everything["loss"]["value"] and everything["loss"]["step"][0] == 0
    assert everything["acc"] == {"step": list(range(300)), "value": [0.5] * 300}, "a short series comes back whole"
    window = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss", "start": 10_000, "end": 19_999}).json()
    assert window["loss"]["step"] == list(range(10_000, 20_000)), "a window of 10,000 steps has every point"


def test_sweeps_come_in_pages_with_a_total(client: TestClient) -> None:
    ids = [
        client.post("/api/sweeps", json={"name": f"s{i}", "base": BASE, "grid": {"seed": [1, 2]}}).json()["id"]
        for i in range(3)
    ]
    preset = client.post("/api/presets/fig3", params={"scale": "quick"}).json()["id"]
    first = client.get("/api/sweeps", params={"limit": 2})
    assert [s["id"] for s in first.json()] == [preset, ids[2]] and first.headers["X-Total-Count"] == "4"
    rest = client.get("/api/sweeps", params={"limit": 2, "offset": 2}).json()
    assert [s["id"] for s in rest] == [ids[1], ids[0]]
    assert len(rest[0]["runs"]) == 2 and rest[0]["status_counts"] == {"queued": 2} and rest[0]["best_run_id"] is None
    assert [s["id"] for s in client.get("/api/sweeps", params={"preset": "any"}).json()] == [preset]
    assert [s["id"] for s in client.get("/api/sweeps", params={"preset": "fig3"}).json()] == [preset]
    assert client.get("/api/sweeps", params={"preset": "fig1"}).json() == []


def test_listing_sweeps_costs_the_same_for_3_sweeps_as_for_1(client: TestClient) -> None:
    def launch() -> None:
        client.post("/api/sweeps", json={"name": "s", "base": BASE, "grid": {"seed": [1, 2, 3]}})

    launch()
    with counted_statements(client) as one:
        client.get("/api/sweeps")
    launch()
    launch()
    with counted_statements(client) as three:
        listed = client.get("/api/sweeps").json()
    assert len(listed) == 3 and all(len(s["runs"]) == 3 for s in listed)
    assert len(three) == len(one), three


@pytest.mark.parametrize("path", ["/api/runs", "/api/sweeps"])
@pytest.mark.parametrize(("param", "value"), [("offset", 2**63), ("offset", 10**9 + 1), ("limit", 1001), ("limit", 0)])
def test_list_paging_is_bounded(client: TestClient, path: str, param: str, value: int) -> None:
    reply = client.get(path, params={param: value})
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["query", param]
    assert client.get(path, params={"offset": 10**9}).status_code == 200


@pytest.mark.parametrize(
    ("summary", "why"),
    [
        ({"blob": "x" * 17_000}, "16384 bytes"),
        ({f"k{i}": i for i in range(257)}, "256 keys"),
        ({"deep": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}, "16 levels"),
    ],
)
def test_an_oversized_summary_is_a_422_naming_summary(client: TestClient, summary: dict[str, Any], why: str) -> None:
    run_id, headers = external_run(client)
    reply = client.post(f"/api/runs/{run_id}/status", json={"summary": summary}, headers=headers)
    assert reply.status_code == 422
    error = reply.json()["detail"][0]
    assert error["loc"] == ["body", "summary"] and why in error["msg"]
    assert client.get(f"/api/runs/{run_id}").json()["summary"] is None
    fits = {"blob": "x" * 13_000, **{f"k{i}": i for i in range(200)}}
    assert client.post(f"/api/runs/{run_id}/status", json={"summary": fits}, headers=headers).status_code == 200
