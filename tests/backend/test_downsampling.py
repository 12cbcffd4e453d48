"""The two ways a downsampled read finds each bucket's extremes among raw points agree, NULLs and ties included."""

from __future__ import annotations

import random

from fastapi.testclient import TestClient

from backend.models import MetricPoint
from backend.services.metrics import _grouped_extremes, _ranked_extremes


def test_ranked_and_grouped_extremes_agree(client: TestClient) -> None:
    run_id = client.post("/api/runs", json={"external": True}).json()["id"]
    rng = random.Random(5)
    values: dict[int, float | None] = {s: round(rng.random(), 2) for s in range(1, 3001)}  # ties within buckets
    for s in range(400, 450):
        values[s] = None  # a bucket of NULLs only, and buckets mixing NULLs with numbers
    values[1234], values[2345] = 50.0, -50.0
    points = [{"key": "loss", "step": s, "value": v} for s, v in values.items()]
    assert client.post(f"/api/runs/{run_id}/metrics", json={"points": points}).status_code == 200

    in_range = [MetricPoint.run_id == run_id, MetricPoint.key == "loss", MetricPoint.step >= 1]
    found = {}
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        for width in (1, 7, 25, 300):
            found[width] = _ranked_extremes(session, in_range, width)
            assert found[width] == _grouped_extremes(session, in_range, width), width
    assert found[25][400 // 25] == (None, 400, None, 400), "a bucket of NULLs only: its first step"
    assert found[300][1234 // 300][2:] == (50.0, 1234) and found[300][2345 // 300][:2] == (-50.0, 2345)
