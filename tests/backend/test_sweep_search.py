"""Sweeps that learn, through the API: tpe proposals from reported scores, the budget and `parallel`, Optuna's
median pruner, and runs added to a running sweep.

The sweeps' runs are external (a script trains them): the test plays the script, claiming each run and finishing
it with a summary value (or a curve) computed from the run's own config, a fake objective with a known optimum.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from fastapi.testclient import TestClient

from backend.services.reaper import reap_stale_runs
from tests.backend.test_reaper_external import _age
from tests.utils.leases import claim

BASE = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}, "epochs": 3, "external": True}
OPTIMUM = 0.03  # the learning rate the fake objective likes best


def _sweep(client: TestClient, sweep_id: int) -> dict[str, Any]:
    reply = client.get(f"/api/sweeps/{sweep_id}")
    assert reply.status_code == 200, reply.text
    return reply.json()


def _lr(client: TestClient, run_id: int) -> float:
    return float(client.get(f"/api/runs/{run_id}").json()["spec"]["optimizer"]["lr"])


def _open(sweep: dict[str, Any]) -> list[int]:
    return sorted(r["run_id"] for r in sweep["results"] if r["status"] in ("queued", "running"))


def _finish(client: TestClient, run_id: int, summary: dict[str, Any], status: str = "succeeded") -> None:
    reply = client.post(
        f"/api/runs/{run_id}/status", json={"status": status, "summary": summary}, headers=claim(client, run_id)
    )
    assert reply.status_code == 200, reply.text


def _loss(lr: float) -> float:
    """Lowest at OPTIMUM, on a log scale: the minimize goal's objective."""
    return (math.log10(lr) - math.log10(OPTIMUM)) ** 2


def test_tpe_proposes_values_near_the_best_after_its_first_trials(client: TestClient) -> None:
    body = {
        "name": "tpe",
        "base": BASE,
        "method": "tpe",
        "n": 20,
        "parallel": 1,
        "seed": 7,
        "metric": "loss",
        "goal": "minimize",
        "grid": {"optimizer.lr": {"min": 1e-4, "max": 1.0, "log": True}},
    }
    sweep = client.post("/api/sweeps", json=body).json()
    assert len(sweep["runs"]) == 1  # parallel 1: one at a time
    tried: list[float] = []
    for _ in range(20):
        [run_id] = _open(_sweep(client, sweep["id"]))
        lr = _lr(client, run_id)
        tried.append(lr)
        _finish(client, run_id, {"loss": _loss(lr)})
    final = _sweep(client, sweep["id"])
    assert len(final["runs"]) == 20 and _open(final) == []  # the budget, and no more
    startup, learned = [_loss(x) for x in tried[:4]], [_loss(x) for x in tried[4:]]  # 20 // 5 random trials first
    assert statistics.median(learned) < statistics.median(startup) / 5  # TPE's proposals cluster near the best
    assert min(learned) < 0.05 < min(startup)  # within a factor 1.7 of the optimum, which random draws missed
    best = final["results"][0]
    assert best["best"] and best["score"] == min(_loss(lr) for lr in tried)
    assert final["metric"] == "loss" and final["goal"] == "minimize"


def test_same_seed_same_proposals(client: TestClient) -> None:
    body = {
        "base": BASE,
        "method": "tpe",
        "n": 3,
        "parallel": 3,
        "seed": 5,
        "grid": {"optimizer.lr": {"min": 1e-4, "max": 1.0, "log": True}, "batch_size": [16, 32, 64]},
    }
    first = client.post("/api/sweeps", json=body).json()["runs"]
    second = client.post("/api/sweeps", json=body).json()["runs"]
    assert [_lr(client, r) for r in first] == [_lr(client, r) for r in second]
    assert len({_lr(client, r) for r in first}) == 3  # three different proposals while none has finished


def test_random_sweep_with_parallel_launches_the_next_draw_when_a_run_ends(client: TestClient) -> None:
    body = {
        "base": BASE,
        "method": "random",
        "n": 5,
        "parallel": 2,
        "seed": 1,
        "grid": {"optimizer.lr": {"min": 1e-3, "max": 1e-1, "log": True}},
    }
    sweep = client.post("/api/sweeps", json=body).json()
    assert len(sweep["runs"]) == 2
    all_at_once = client.post("/api/sweeps", json={**body, "parallel": None}).json()["runs"]
    seen = [_lr(client, r) for r in sweep["runs"]]
    _finish(client, sweep["runs"][0], {"valid_acc": 0.5})
    after = _sweep(client, sweep["id"])
    assert len(after["runs"]) == 3 and len(_open(after)) == 2
    client.post(f"/api/runs/{_open(after)[0]}/cancel")  # a cancelled run leaves its place too
    after = _sweep(client, sweep["id"])
    assert len(after["runs"]) == 4 and len(_open(after)) == 2
    for run_id in _open(after):
        _finish(client, run_id, {}, status="failed")
    final = _sweep(client, sweep["id"])
    assert len(final["runs"]) == 5 and len(_open(final)) == 1  # the budget: 5, however many end
    seen = [_lr(client, r) for r in final["runs"]]
    assert seen == [_lr(client, r) for r in all_at_once]  # the same draws as without parallel, in order


def test_a_cancelled_sweep_launches_nothing_more(client: TestClient) -> None:
    body = {"base": BASE, "method": "random", "n": 4, "parallel": 1, "grid": {"batch_size": [16, 32]}}
    sweep = client.post("/api/sweeps", json=body).json()
    [run_id] = sweep["runs"]
    lease = claim(client, run_id)
    client.post(f"/api/sweeps/{sweep['id']}/cancel")
    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
    after = _sweep(client, sweep["id"])
    assert after["runs"] == [run_id] and after["stopped"]


def test_add_runs_grows_a_grid_and_a_tpe_budget(client: TestClient) -> None:
    grid = client.post("/api/sweeps", json={"base": BASE, "grid": {"batch_size": [16, 32]}}).json()
    reply = client.post(f"/api/sweeps/{grid['id']}/runs", json={"grid": {"batch_size": [32, 64, 128]}})
    assert reply.status_code == 201, reply.text
    grown = reply.json()
    assert len(grown["runs"]) == 4  # 32 was there already
    assert sorted(r["values"]["batch_size"] for r in grown["results"]) == [16, 32, 64, 128]
    assert grown["spec"]["grid"]["batch_size"] == [16, 32, 64, 128]

    body = {"base": BASE, "method": "tpe", "n": 2, "grid": {"optimizer.lr": {"min": 0.001, "max": 0.1}}}
    tpe = client.post("/api/sweeps", json=body).json()
    assert len(tpe["runs"]) == 2
    grown = client.post(f"/api/sweeps/{tpe['id']}/runs", json={"n": 3}).json()
    assert len(grown["runs"]) == 5 and grown["spec"]["n"] == 5


def test_add_runs_refuses_what_does_not_fit_naming_the_field(client: TestClient) -> None:
    grid = client.post("/api/sweeps", json={"base": BASE, "grid": {"batch_size": [16, 32]}}).json()
    wrong = [
        ({"n": 2}, ["body", "n"]),  # a grid grows by values
        ({"grid": {"seed": [1, 2]}}, ["body", "grid", "seed"]),  # not a key of the sweep
        ({"grid": {"batch_size": [-1]}}, ["body", "grid", "batch_size"]),  # a run that could not start
        ({}, ["body"]),
    ]
    for body, loc in wrong:
        reply = client.post(f"/api/sweeps/{grid['id']}/runs", json=body)
        assert reply.status_code == 422, body
        assert reply.json()["detail"][0]["loc"] == loc, reply.text
    assert len(_sweep(client, grid["id"])["runs"]) == 2
    assert client.post("/api/sweeps/999/runs", json={"n": 1}).status_code == 404


def test_tpe_sweep_needs_a_budget_and_a_space(client: TestClient) -> None:
    no_n = client.post("/api/sweeps", json={"base": BASE, "method": "tpe", "grid": {"seed": [1, 2]}})
    assert no_n.status_code == 422 and "n" in no_n.text
    no_int = {"min": 1.2, "max": 1.8, "integer": True}
    empty = client.post("/api/sweeps", json={"base": BASE, "method": "tpe", "n": 2, "grid": {"batch_size": no_int}})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "grid", "batch_size"]
    goal = client.post("/api/sweeps", json={"base": BASE, "method": "tpe", "n": 2, "goal": "up", "grid": {"seed": [1]}})
    assert goal.status_code == 422 and "goal" in goal.text


def test_tpe_asks_again_when_a_proposal_breaks_the_bases_rules(client: TestClient) -> None:
    """A tpe space may hold runs the base's cross-field rules refuse (dropout_schemes needs model.dropout > 0) that
    the random draws checking it at creation missed: such a proposal is not launched, TPE proposes another, and
    the sweep goes on to its budget instead of stopping."""
    base = {**BASE, "dropout_schemes": [2]}
    body = {"base": base, "method": "tpe", "n": 4, "parallel": 1, "metric": "loss", "goal": "minimize"}
    body["grid"] = {"model.dropout": [0.0, 0.5], "optimizer.lr": {"min": 1e-3, "max": 1e-1, "log": True}}
    for seed in range(100):  # the first seed whose four draws at creation all miss dropout 0
        reply = client.post("/api/sweeps", json={**body, "seed": seed})
        if reply.status_code == 201:
            break
        assert reply.status_code == 422 and "dropout_schemes" in reply.text
    sweep = reply.json()
    for _ in range(4):
        [run_id] = _open(_sweep(client, sweep["id"]))
        spec = client.get(f"/api/runs/{run_id}").json()["spec"]
        assert spec["model"]["dropout"] == 0.5
        _finish(client, run_id, {"loss": _loss(spec["optimizer"]["lr"])})
    final = _sweep(client, sweep["id"])
    assert len(final["runs"]) == 4 and _open(final) == [] and not final["stopped"]


def test_tpe_proposals_over_the_memory_cap_are_not_launched(client: TestClient) -> None:
    """The cap on a run's estimated memory (TRAINBOARD_MAX_RUN_GB, 16 GB here) holds for tpe proposals too, not
    only for the random draws that check the space at creation: a wide VGG at batch 4,096 never runs."""
    base = {"dataset": "dogs-vs-cats", "model": {"arch": "vgg", "blocks": [256, 256]}, "epochs": 1}
    body = {"base": base, "method": "tpe", "n": 6, "grid": {"batch_size": [16, 4096]}}
    for seed in range(1000):  # the first seed whose six draws at creation all miss batch 4,096
        reply = client.post("/api/sweeps", json={**body, "seed": seed})
        if reply.status_code == 201:
            break
        assert reply.status_code == 422 and "TRAINBOARD_MAX_RUN_GB" in reply.text
    runs = reply.json()["runs"]
    assert len(runs) == 6  # no parallel: the whole budget asked of TPE at once
    assert all(client.get(f"/api/runs/{run_id}").json()["spec"]["batch_size"] == 16 for run_id in runs)


def _post_point(client: TestClient, run_id: int, lease: dict[str, str], step: int, value: float) -> dict[str, Any]:
    reply = client.post(
        f"/api/runs/{run_id}/metrics", json={"points": [{"key": "score", "step": step, "value": value}]}, headers=lease
    )
    assert reply.status_code == 200, reply.text
    return client.get(f"/api/runs/{run_id}").json()


def test_optuna_median_pruner_stops_a_run_worse_than_the_finished_ones(client: TestClient) -> None:
    body = {
        "base": BASE,
        "grid": {"seed": [1, 2, 3, 4]},
        "metric": "score",
        "early_termination": {"method": "optuna-median", "min_epochs": 2, "min_peers": 2},
    }
    runs = client.post("/api/sweeps", json=body).json()["runs"]
    leases = {run_id: claim(client, run_id) for run_id in runs}
    good, fine, bad, late = runs
    for run_id, curve in ((good, [0.5, 0.8, 0.9]), (fine, [0.4, 0.6, 0.7])):
        for step, value in enumerate(curve, start=1):
            assert _post_point(client, run_id, leases[run_id], step, value)["stop_requested"] is None
        client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=leases[run_id])
    # before min_epochs nobody is judged, however low
    assert _post_point(client, bad, leases[bad], 1, 0.1)["stop_requested"] is None
    stopped = _post_point(client, bad, leases[bad], 2, 0.2)["stop_requested"]
    assert stopped and stopped.startswith("optuna median pruner at step 2: score 0.2")  # median there: 0.7
    assert _post_point(client, late, leases[late], 1, 0.45)["stop_requested"] is None
    assert _post_point(client, late, leases[late], 2, 0.75)["stop_requested"] is None  # above the median


def test_a_run_the_reaper_fails_leaves_its_place_to_the_next(client: TestClient) -> None:
    body = {"base": BASE, "method": "random", "n": 3, "parallel": 1, "grid": {"batch_size": [16, 32]}}
    sweep = client.post("/api/sweeps", json=body).json()
    [silent] = sweep["runs"]
    _age(client, silent, 3600)
    state = client.app.state  # type: ignore[attr-defined]
    assert reap_stale_runs(
        state.sessionmaker,
        celery=state.celery,
        max_run_gb=state.settings.max_run_gb,
        stale_after_s=20,
        external_timeout_s=180,
    ) == [silent]
    after = _sweep(client, sweep["id"])
    assert len(after["runs"]) == 2 and _open(after) == [max(after["runs"])]


def test_the_sweeps_list_names_the_best_run_by_the_sweeps_metric(client: TestClient) -> None:
    body = {"base": BASE, "grid": {"batch_size": [16, 32, 64]}, "metric": "loss", "goal": "minimize"}
    sweep = client.post("/api/sweeps", json=body).json()
    for run_id, loss in zip(sweep["runs"], (0.4, 0.2, 0.3), strict=True):
        _finish(client, run_id, {"loss": loss, "best_valid_acc": loss})  # the best accuracy is not the best loss
    [listed] = client.get("/api/sweeps").json()
    assert listed["best_run_id"] == sweep["runs"][1] == _sweep(client, sweep["id"])["best_run_id"]
