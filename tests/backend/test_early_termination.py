"""Early termination of weak sweep runs, driven by a scripted stream of validation accuracies.

A run is judged when it posts a `valid_acc` for an epoch, against the runs that have reached that epoch: the
outcome depends on the arrival order. Each scenario below is played in two orders, and every post's outcome is
asserted, with numbers for which the rule itself decides (a mean, a min or a max instead of the median, or a
wrong peer count, gives a different outcome somewhere).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.services.early_termination import EarlyTermination, decide
from tests.utils.leases import claim

BASE = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}, "epochs": 10}

# Best valid accuracy of runs 1..6 (the sweep's grid order) at epoch 2. Run 5 (0.78) is above the mean of its
# peers in order "ascending" (0.715) but below their median (0.83); run 3 (0.86) is below the best but above
# the median whenever it has enough peers.
MEDIAN_ACCS = {1: 0.90, 2: 0.80, 3: 0.86, 4: 0.30, 5: 0.78, 6: 0.88}

# (run, epoch, valid_acc posted, the stop reason the reply must carry: None for none). min_peers=2: the first
# two runs to reach an epoch are never judged. Stopped runs (4, 5) post no further epoch, as their workers finish
# the epoch and end. At epoch 3 run 6 posts 0.70: its best so far (0.88) is what its peers are judged against.
MEDIAN_ORDERS = {
    "ascending": [
        *[(run, 1, acc, None) for run, acc in MEDIAN_ACCS.items()],  # before min_epochs nobody is judged
        (1, 2, 0.90, None),  # no peer yet
        (2, 2, 0.80, None),  # one peer: too few, though below it
        (3, 2, 0.86, None),  # median of (0.90, 0.80) is 0.85
        (4, 2, 0.30, "median rule at epoch 2: 0.3000 < median 0.8600"),
        (5, 2, 0.78, "median rule at epoch 2: 0.7800 < median 0.8300"),
        (6, 2, 0.88, None),  # median of (0.90, 0.80, 0.86, 0.30, 0.78) is 0.80
        (3, 3, 0.86, None),
        (6, 3, 0.70, None),  # one peer
        (1, 3, 0.90, None),  # median of (0.86, 0.88) is 0.87
        (2, 3, 0.80, "median rule at epoch 3: 0.8000 < median 0.8800"),  # judged now that it has peers
    ],
    "interleaved": [
        *[(run, 1, acc, None) for run, acc in reversed(MEDIAN_ACCS.items())],
        (2, 2, 0.80, None),
        (1, 2, 0.90, None),
        (6, 2, 0.88, None),  # median of (0.80, 0.90) is 0.85
        (5, 2, 0.78, "median rule at epoch 2: 0.7800 < median 0.8800"),
        (4, 2, 0.30, "median rule at epoch 2: 0.3000 < median 0.8400"),
        (3, 2, 0.86, None),  # median of (0.80, 0.90, 0.88, 0.78, 0.30) is 0.80
        (6, 3, 0.70, None),
        (3, 3, 0.86, None),  # one peer
        (2, 3, 0.80, "median rule at epoch 3: 0.8000 < median 0.8700"),
        (1, 3, 0.90, None),  # median of (0.88, 0.86, 0.80) is 0.86
    ],
}
MEDIAN_STOPPED = {2: "epoch 3", 4: "epoch 2", 5: "epoch 2"}  # the same runs in both orders

# Successive halving, factor 2, from epoch 2: rungs at epochs 2 and 4; at a rung a run must be in the top half
# (at least the top 1) of the runs that reached it. Epochs 1 and 3 are not rungs.
ASHA_ORDERS = {
    "ascending": [
        (1, 1, 0.10, None),  # not a rung, however low
        (1, 2, 0.90, None),  # alone: fewer runs than the factor
        (2, 2, 0.60, "successive halving at epoch 2: not in the top 1 of 2"),
        (3, 2, 0.80, "successive halving at epoch 2: not in the top 1 of 3"),
        (4, 2, 0.85, None),  # top 2 of 4: 0.90, 0.85
        (4, 3, 0.85, None),  # not a rung
        (1, 3, 0.30, None),
        (1, 4, 0.87, None),  # alone at the rung
        (4, 4, 0.88, "successive halving at epoch 4: not in the top 1 of 2"),  # run 1's best so far is 0.90
    ],
    "descending": [
        (4, 2, 0.85, None),
        (3, 2, 0.80, "successive halving at epoch 2: not in the top 1 of 2"),
        (2, 2, 0.60, "successive halving at epoch 2: not in the top 1 of 3"),
        (1, 2, 0.90, None),  # top 2 of 4
        (1, 4, 0.87, None),  # alone at the rung (epoch 3 skipped: its points may arrive in any batch)
        (4, 4, 0.86, "successive halving at epoch 4: not in the top 1 of 2"),  # 0.86 < run 1's best, 0.90
    ],
}
ASHA_STOPPED = {2: "epoch 2", 3: "epoch 2", 4: "epoch 4"}  # the same runs in both orders


def _post(client: TestClient, run_id: int, epoch: int, acc: float, lease: dict[str, str]) -> dict:
    points = [{"key": "valid_acc", "step": epoch, "value": acc}]
    reply = client.post(f"/api/runs/{run_id}/metrics", json={"points": points}, headers=lease)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _play(client: TestClient, rule: dict, posts: list[tuple[int, int, float, str | None]], n_runs: int) -> dict:
    """Post the scripted accuracies; assert each reply's stop reason. Returns the sweep."""
    body = {"base": BASE, "grid": {"seed": list(range(1, n_runs + 1))}, "early_termination": rule}
    sweep = client.post("/api/sweeps", json=body).json()
    run_ids = dict(enumerate(sweep["runs"], start=1))
    leases = {run: claim(client, run_id, worker="w") for run, run_id in run_ids.items()}
    stopped: dict[int, str] = {}
    for run, epoch, acc, reason in posts:
        reply = _post(client, run_ids[run], epoch, acc, leases[run])
        assert reply["stop_requested"] == stopped.get(run, reason), f"run {run} posting epoch {epoch} ({acc})"
        if reason:
            stopped[run] = reason
    sweep["leases"] = {run_ids[run]: lease for run, lease in leases.items()}
    sweep["by_index"] = run_ids
    return sweep


def _assert_outcomes(client: TestClient, sweep: dict, expected: dict[int, str]) -> None:
    """Every run of the sweep: stopped at the expected epoch by the rule, or still running untouched."""
    for run, run_id in sweep["by_index"].items():
        detail = client.get(f"/api/runs/{run_id}").json()
        assert detail["status"] == "running", run
        if run in expected:
            assert detail["stop_requested"] is not None and f"at {expected[run]}:" in detail["stop_requested"], run
            assert detail["status_detail"].startswith("finishing early: "), run
        else:
            assert detail["stop_requested"] is None, f"run {run}: {detail['stop_requested']}"
            assert not (detail["status_detail"] or "").startswith("finishing early"), run


@pytest.mark.parametrize("order", list(MEDIAN_ORDERS))
def test_median_rule_stops_exactly_the_runs_below_the_median_of_their_peers(client: TestClient, order: str) -> None:
    rule = {"method": "median", "min_epochs": 2, "min_peers": 2}
    sweep = _play(client, rule, MEDIAN_ORDERS[order], n_runs=6)
    _assert_outcomes(client, sweep, MEDIAN_STOPPED)

    # A stopped run's worker finishes its epoch and reports success: a stopped run is never a failure.
    weakest = sweep["by_index"][4]
    summary = {"best_valid_acc": 0.3}
    done = client.post(
        f"/api/runs/{weakest}/status",
        json={"status": "succeeded", "worker": "w", "summary": summary},
        headers=sweep["leases"][weakest],
    )
    assert done.status_code == 200, done.text
    run = client.get(f"/api/runs/{weakest}").json()
    assert run["status"] == "succeeded" and run["status_detail"].startswith("stopped early: median rule at epoch 2")
    results = {r["run_id"]: r["stop_reason"] for r in client.get(f"/api/sweeps/{sweep['id']}").json()["results"]}
    assert {run for run, run_id in sweep["by_index"].items() if results[run_id]} == set(MEDIAN_STOPPED)


@pytest.mark.parametrize("order", list(ASHA_ORDERS))
def test_successive_halving_stops_the_runs_outside_the_top_at_each_rung(client: TestClient, order: str) -> None:
    rule = {"method": "asha", "min_epochs": 2, "reduction_factor": 2}
    sweep = _play(client, rule, ASHA_ORDERS[order], n_runs=4)
    _assert_outcomes(client, sweep, ASHA_STOPPED)


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
