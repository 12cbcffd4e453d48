"""Early termination of weak sweep runs, driven by a scripted stream of validation accuracies."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.services.early_termination import EarlyTermination, decide
from tests.utils.leases import claim

BASE = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}, "epochs": 10}


def _post(client: TestClient, run_id: int, epoch: int, acc: float, lease: dict[str, str]) -> dict:
    points = [{"key": "valid_acc", "step": epoch, "value": acc}]
    return client.post(f"/api/runs/{run_id}/metrics", json={"points": points}, headers=lease).json()


def test_median_rule_stops_the_run_below_the_median(client: TestClient) -> None:
    body = {"base": BASE, "grid": {"seed": [1, 2, 3, 4]}, "early_termination": {"method": "median", "min_epochs": 2}}
    sweep = client.post("/api/sweeps", json=body).json()
    accs = dict(zip(sweep["runs"], (0.9, 0.8, 0.7, 0.3), strict=True))
    leases = {run_id: claim(client, run_id, worker="w") for run_id in sweep["runs"]}
    for run_id in sweep["runs"]:
        assert _post(client, run_id, 1, accs[run_id], leases[run_id])["stop_requested"] is None, "not before min_epochs"
    replies = {run_id: _post(client, run_id, 2, accs[run_id], leases[run_id]) for run_id in sweep["runs"]}
    weakest = sweep["runs"][3]
    assert replies[weakest]["stop_requested"].startswith("median rule at epoch 2")
    assert all(replies[r]["stop_requested"] is None for r in sweep["runs"][:2])
    run = client.get(f"/api/runs/{weakest}").json()
    assert run["status"] == "running" and run["status_detail"].startswith("finishing early")
    # The worker finishes its epoch and reports success: a stopped run is never a failure.
    client.post(f"/api/runs/{weakest}/status", json={"status": "succeeded", "worker": "w", "summary": {
        "best_valid_acc": 0.3}}, headers=leases[weakest])  # fmt: skip
    done = client.get(f"/api/runs/{weakest}").json()
    assert done["status"] == "succeeded" and done["status_detail"].startswith("stopped early: median rule")
    results = client.get(f"/api/sweeps/{sweep['id']}").json()["results"]
    assert [r["stop_reason"] is not None for r in results if r["run_id"] == weakest] == [True]


def test_sweep_without_a_rule_never_stops_runs(client: TestClient) -> None:
    sweep = client.post("/api/sweeps", json={"base": BASE, "grid": {"seed": [1, 2, 3]}}).json()
    leases = {run_id: claim(client, run_id) for run_id in sweep["runs"]}
    for epoch in (1, 2, 3):
        for run_id, acc in zip(sweep["runs"], (0.9, 0.5, 0.1), strict=True):
            assert _post(client, run_id, epoch, acc, leases[run_id])["stop_requested"] is None


def test_successive_halving_keeps_the_top_third_at_each_rung() -> None:
    rule = EarlyTermination(method="asha", min_epochs=1, reduction_factor=3)
    scores = {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6, 5: 0.5, 6: 0.4}
    assert decide(rule, run_id=1, epoch=1, scores=scores) is None
    assert decide(rule, run_id=2, epoch=1, scores=scores) is None
    assert decide(rule, run_id=3, epoch=1, scores=scores) is not None
    assert decide(rule, run_id=6, epoch=3, scores=scores) is not None  # rungs at 1, 3, 9, ...
    assert decide(rule, run_id=6, epoch=2, scores=scores) is None  # not a rung
    assert decide(rule, run_id=3, epoch=1, scores={1: 0.9, 3: 0.1}) is None  # too few runs to judge yet
