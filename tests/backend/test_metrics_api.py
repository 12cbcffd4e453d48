"""Metric ingestion and reading, as workers and scripts use it."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.backend.test_non_finite import stream_data
from tests.utils.leases import external_run

SPEC = {"name": "m"}


def _run(client: TestClient) -> int:
    """An external run; the test client plays its script, sending the run's lease with every request."""
    run_id, lease = external_run(client, **SPEC)
    client.headers.update(lease)
    return run_id


def test_retried_batch_never_duplicates(client: TestClient) -> None:
    run_id = _run(client)
    batch = {"points": [{"key": "loss", "step": s, "value": 1.0 / s} for s in range(1, 101)]}
    first = client.post(f"/api/runs/{run_id}/metrics", json=batch).json()
    again = client.post(f"/api/runs/{run_id}/metrics", json=batch).json()
    assert (first["accepted"], first["duplicates"]) == (100, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 100)
    series = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss"}).json()["loss"]
    assert series["step"] == list(range(1, 101))
    assert series["value"][0] == 1.0


def test_series_by_key_and_all_keys(client: TestClient) -> None:
    run_id = _run(client)
    points = [{"key": "test_acc", "step": e, "value": 0.9 + e / 100} for e in (1, 2, 3)]
    points += [{"key": "loss", "step": 5, "value": 0.5}, {"key": "loss", "step": 1, "value": 2.0}]
    client.post(f"/api/runs/{run_id}/metrics", json={"points": points})
    everything = client.get(f"/api/runs/{run_id}/metrics").json()
    assert set(everything) == {"loss", "test_acc"}
    assert everything["loss"] == {"step": [1, 5], "value": [2.0, 0.5]}
    only = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "test_acc"}).json()
    assert list(only) == ["test_acc"] and len(only["test_acc"]["step"]) == 3


def test_downsampling_keeps_a_one_step_spike(client: TestClient) -> None:
    run_id = _run(client)
    points = [{"key": "loss", "step": s, "value": 1.0} for s in range(1, 5001)]
    points[3210]["value"] = 99.0
    client.post(f"/api/runs/{run_id}/metrics", json={"points": points})
    series = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss", "max_points": 200}).json()["loss"]
    assert len(series["step"]) <= 200
    assert max(series["value"]) == 99.0
    zoomed = client.get(
        f"/api/runs/{run_id}/metrics", params={"keys": "loss", "max_points": 200, "start": 3200, "end": 3300}
    ).json()["loss"]
    assert zoomed["step"] == list(range(3200, 3301))


def test_non_finite_values_are_kept_as_null(client: TestClient) -> None:
    run_id = _run(client)
    client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"key": "loss", "step": 1, "value": None}]})
    assert client.get(f"/api/runs/{run_id}/metrics").json()["loss"]["value"] == [None]


def test_bad_points_are_422(client: TestClient) -> None:
    run_id = _run(client)
    bad = client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"key": "", "step": -1, "value": 1}]})
    assert bad.status_code == 422
    fields = {tuple(err["loc"][-1:]) for err in bad.json()["detail"]}
    assert {("key",), ("step",)} <= fields


def test_a_body_that_is_not_json_is_a_422_that_does_not_echo_it(client: TestClient) -> None:
    run_id = _run(client)
    body = b'{"points": [' + b"x" * 100_000
    bad = client.post(f"/api/runs/{run_id}/metrics", content=body, headers={"content-type": "application/json"})
    assert bad.status_code == 422
    [error] = bad.json()["detail"]
    assert error["loc"] == ["body"] and error["type"] == "json_invalid"
    assert len(bad.content) < 1_000  # the 100 KB body is not sent back


def test_a_422_names_a_huge_bad_field_in_a_short_reply(client: TestClient) -> None:
    run_id = _run(client)
    url = f"/api/runs/{run_id}/metrics"
    huge_key = "k" * 1_000_000  # refused by the key's length limit; the error names it by its first characters
    bad = client.post(url, json={"series": {huge_key: {"step": [1], "value": [1.0]}}})
    assert bad.status_code == 422 and len(bad.content) < 2_000, len(bad.content)
    assert bad.json()["detail"][0]["loc"][:2] == ["body", "series"]
    assert bad.json()["detail"][0]["loc"][2].startswith("kkkk")
    misaligned = client.post(url, json={"series": {"loss": {"step": list(range(9_000)), "value": [1.0]}}})
    assert misaligned.status_code == 422 and len(misaligned.content) < 2_000, len(misaligned.content)
    assert "one value per step" in misaligned.text
    long_list = client.post(url, json={"points": [{"key": "loss", "step": [0] * 5_000, "value": 1}]})
    assert long_list.status_code == 422 and len(long_list.content) < 2_000, len(long_list.content)
    assert long_list.json()["detail"][0]["loc"][:4] == ["body", "points", 0, "step"]


def test_metrics_reply_tells_a_worker_its_run_was_cancelled(client: TestClient) -> None:
    run_id = _run(client)
    client.post(f"/api/runs/{run_id}/cancel")
    reply = client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"key": "loss", "step": 1, "value": 1}]})
    assert reply.json()["status"] == "cancelled"


def test_long_series_keeps_spike_and_dip_at_their_own_steps(client: TestClient) -> None:
    run_id = _run(client)
    values = {s: 1.0 + (s % 7) / 100 for s in range(1, 20_001)}
    values[12_345], values[3_001] = 99.0, -5.0
    steps = sorted(values)
    for chunk in range(0, len(steps), 5_000):  # rollups are folded batch by batch
        points = [{"key": "loss", "step": s, "value": values[s]} for s in steps[chunk : chunk + 5_000]]
        client.post(f"/api/runs/{run_id}/metrics", json={"points": points})
    series = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss", "max_points": 40}).json()["loss"]
    assert len(series["step"]) <= 40
    assert series["step"] == sorted(series["step"])
    by_step = dict(zip(series["step"], series["value"], strict=True))
    assert by_step[12_345] == 99.0 and by_step[3_001] == -5.0
    zoom = client.get(
        f"/api/runs/{run_id}/metrics", params={"keys": "loss", "max_points": 20, "start": 1_500, "end": 9_000}
    ).json()["loss"]
    assert len(zoom["step"]) <= 20 and min(zoom["step"]) >= 1_500 and max(zoom["step"]) <= 9_000
    assert -5.0 in zoom["value"] and 99.0 not in zoom["value"]


def test_a_batch_overlapping_stored_points_stores_and_streams_only_its_new_ones(client: TestClient) -> None:
    """Half of a batch already stored (a retry that grew): the stored values stay, the stream sends each point
    once, in the event of the batch that stored it (the events name steps; the points are read back)."""
    run_id = _run(client)
    first = [{"key": k, "step": s, "value": s * 1.0} for s in range(1, 51) for k in ("loss", "acc")]
    second = [{"key": k, "step": s, "value": -s * 1.0} for s in range(75, 25, -1) for k in ("acc", "loss", "lr")]
    assert client.post(f"/api/runs/{run_id}/metrics", json={"points": first}).json()["accepted"] == 100
    reply = client.post(f"/api/runs/{run_id}/metrics", json={"points": second}).json()
    assert (reply["accepted"], reply["duplicates"]) == (100, 50)
    loss = client.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss"}).json()["loss"]
    assert loss == {
        "step": list(range(1, 76)),
        "value": [float(s) for s in range(1, 51)] + [-s * 1.0 for s in range(51, 76)],
    }
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"})
    metrics = [data for kind, data in stream_data(client, run_id) if kind == "metrics"]
    assert len(metrics) == 2
    assert (
        metrics[0]["loss"]
        == metrics[0]["acc"]
        == {"step": list(range(1, 51)), "value": [s * 1.0 for s in range(1, 51)]}
    )
    assert metrics[1]["loss"] == {"step": list(range(51, 76)), "value": [-s * 1.0 for s in range(51, 76)]}
    assert metrics[1]["lr"] == {"step": list(range(26, 76)), "value": [-s * 1.0 for s in range(26, 76)]}


def test_a_batch_per_key_as_arrays_is_stored_as_the_get_returns_it(client: TestClient) -> None:
    """The shape the senders post: what a GET returned can be posted back as it is."""
    run_id = _run(client)
    batch = {
        "points": [{"key": "acc", "step": 1, "value": 0.5}],
        "series": {
            "loss": {"step": [3, 1, 2, 3], "value": [0.3, 1.0, float("nan"), 0.25]},
            "acc": {"step": [2], "value": [0.75]},
        },
    }
    body = json.dumps(batch).encode()  # NaN as Python writes it, as a script's json.dumps would
    reply = client.post(
        f"/api/runs/{run_id}/metrics", content=body, headers={"content-type": "application/json"}
    ).json()
    assert (reply["accepted"], reply["duplicates"]) == (5, 1)  # step 3 of loss twice: the later value is kept
    stored = client.get(f"/api/runs/{run_id}/metrics").json()
    assert stored == {
        "acc": {"step": [1, 2], "value": [0.5, 0.75]},
        "loss": {"step": [1, 2, 3], "value": [1.0, None, 0.25]},  # NaN as null, as one by one
    }
    again = client.post(f"/api/runs/{run_id}/metrics", json={"series": stored}).json()
    assert (again["accepted"], again["duplicates"]) == (0, 5)


def test_bad_arrays_are_422_naming_the_key_and_the_field(client: TestClient) -> None:
    run_id = _run(client)
    url = f"/api/runs/{run_id}/metrics"

    def error_at(batch: dict[str, object]) -> list[tuple[object, ...]]:
        bad = client.post(url, json=batch)
        assert bad.status_code == 422, bad.text
        return [tuple(err["loc"]) for err in bad.json()["detail"]]

    assert error_at({"series": {"loss": {"step": [1, -2], "value": [1.0, 2.0]}}}) == [
        ("body", "series", "loss", "step", 1)
    ]
    misaligned = client.post(url, json={"series": {"loss": {"step": [1, 2], "value": [1.0]}}})
    assert misaligned.status_code == 422 and "one value per step" in misaligned.text
    assert error_at({"series": {"bad key": {"step": [1], "value": [1.0]}}})[0][:3] == ("body", "series", "bad key")
    too_many = {"points": [{"key": "a", "step": s, "value": 1} for s in range(6_000)],
                "series": {"b": {"step": list(range(5_000)), "value": [1.0] * 5_000}}}  # fmt: skip
    refused = client.post(url, json=too_many)
    assert refused.status_code == 422 and "at most 10,000 points" in refused.text
    assert client.get(url).json() == {}, "nothing of a refused batch is stored"
