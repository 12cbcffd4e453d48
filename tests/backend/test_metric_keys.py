"""`GET /api/runs/{id}/keys`: every key a run logged, sorted, with its point count and its last point."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.utils.leases import external_run

JSON_BODY = {"Content-Type": "application/json"}


def post(client: TestClient, run_id: int, headers: dict[str, str], points: list[dict[str, Any]]) -> dict[str, Any]:
    reply = client.post(f"/api/runs/{run_id}/metrics", json={"points": points}, headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def keys(client: TestClient, run_id: int) -> list[dict[str, Any]]:
    reply = client.get(f"/api/runs/{run_id}/keys")
    assert reply.status_code == 200, reply.text
    return list(reply.json())


def test_each_key_with_its_count_and_last_value_sorted_by_key(client: TestClient) -> None:
    run_id, headers = external_run(client, config={})
    assert keys(client, run_id) == []
    # a long series (several 1,024-step blocks), an epoch-level one, and keys that collations order differently
    post(client, run_id, headers, [{"key": "train/loss", "step": s, "value": 1 / (s + 1)} for s in range(2500)])
    post(client, run_id, headers, [{"key": "valid/acc", "step": e, "value": 0.5 + e / 10} for e in (1, 2, 3)])
    post(client, run_id, headers, [{"key": k, "step": 0, "value": 1.0} for k in ("train_a", "Train/b", "epoch")])
    # a batch that arrives late, with earlier steps: the last point stays the one at the highest step
    post(client, run_id, headers, [{"key": "valid/acc", "step": 0, "value": 0.1}])

    found = keys(client, run_id)
    assert [k["key"] for k in found] == ["Train/b", "epoch", "train/loss", "train_a", "valid/acc"]
    by_key = {k["key"]: k for k in found}
    assert by_key["train/loss"] == {"key": "train/loss", "count": 2500, "last_step": 2499, "last_value": 1 / 2500}
    assert by_key["valid/acc"] == {"key": "valid/acc", "count": 4, "last_step": 3, "last_value": 0.8}
    assert by_key["epoch"]["count"] == 1


def test_a_retried_batch_is_counted_once(client: TestClient) -> None:
    run_id, headers = external_run(client, config={})
    batch = [{"key": "loss", "step": s, "value": float(s)} for s in range(1100)]
    assert post(client, run_id, headers, batch)["accepted"] == 1100
    assert post(client, run_id, headers, batch)["duplicates"] == 1100
    # half old, half new
    assert post(client, run_id, headers, [*batch[-5:], {"key": "loss", "step": 1100, "value": -1.0}])["accepted"] == 1
    assert keys(client, run_id) == [{"key": "loss", "count": 1101, "last_step": 1100, "last_value": -1.0}]


def test_nan_points_count_and_a_nan_last_value_reads_as_null(client: TestClient) -> None:
    run_id, headers = external_run(client, config={})
    raw = (
        b'{"points":[{"key":"loss","step":0,"value":0.5},{"key":"loss","step":1,"value":NaN},'
        b'{"key":"gn","step":7,"value":Infinity}]}'
    )
    assert client.post(f"/api/runs/{run_id}/metrics", content=raw, headers={**headers, **JSON_BODY}).status_code == 200
    assert keys(client, run_id) == [
        {"key": "gn", "count": 1, "last_step": 7, "last_value": None},
        {"key": "loss", "count": 2, "last_step": 1, "last_value": None},
    ]


def test_keys_are_per_run_and_an_unknown_run_is_a_404(client: TestClient) -> None:
    first, headers_1 = external_run(client, config={})
    second, headers_2 = external_run(client, config={})
    post(client, first, headers_1, [{"key": "a", "step": 1, "value": 1.0}])
    post(client, second, headers_2, [{"key": "b", "step": 2, "value": 2.0}, {"key": "a", "step": 9, "value": 3.0}])
    assert keys(client, first) == [{"key": "a", "count": 1, "last_step": 1, "last_value": 1.0}]
    assert [k["key"] for k in keys(client, second)] == ["a", "b"]
    assert client.get("/api/runs/999/keys").status_code == 404
