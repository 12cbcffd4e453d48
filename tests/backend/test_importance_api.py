"""`GET /api/importance`: how much each varied config key matters for a metric across runs (PED-ANOVA)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.utils.leases import external_run


def script_run(client: TestClient, config: dict[str, Any], *, summary: dict[str, Any] | None = None) -> int:
    """A script's run with ``config``, finished with ``summary`` (its lease is used once, here)."""
    run_id, headers = external_run(client, config=config)
    if summary is not None:
        reply = client.post(
            f"/api/runs/{run_id}/status", json={"status": "succeeded", "summary": summary}, headers=headers
        )
        assert reply.status_code == 200, reply.text
    return run_id


def importance(client: TestClient, **query: str) -> Any:
    return client.get("/api/importance", params=query)


def lr_grid(client: TestClient) -> list[int]:
    """12 runs: the accuracy is set by the learning rate alone; batch size and optimizer only add a hair of noise."""
    ids = []
    for i, (lr, batch, optimizer) in enumerate(
        (lr, batch, optimizer) for lr in (0.001, 0.01, 0.1) for batch in (16, 64) for optimizer in ("sgd", "adam")
    ):
        acc = {0.001: 0.55, 0.01: 0.7, 0.1: 0.9}[lr] + 0.0001 * (i % 3)
        config = {"optimizer": {"lr": lr, "name": optimizer}, "batch_size": batch, "name": f"run {i}"}
        ids.append(script_run(client, config, summary={"best_valid_acc": acc}))
    return ids


def test_the_key_that_sets_the_metric_gets_most_of_the_importance(client: TestClient) -> None:
    ids = lr_grid(client)
    reply = importance(client, runs=",".join(map(str, ids)), metric="summary.best_valid_acc")
    assert reply.status_code == 200, reply.text
    found = reply.json()
    assert found["goal"] == "maximize" and found["runs"] == ids and found["skipped"] == []
    weights = found["importance"]
    # every varied key, and nothing that only names the run
    assert set(weights) == {"optimizer.lr", "optimizer.name", "batch_size"}
    assert list(weights)[0] == "optimizer.lr"
    assert weights["optimizer.lr"] > 0.8
    assert abs(sum(weights.values()) - 1) < 1e-6


def test_a_logged_key_counts_by_its_best_point_and_runs_without_it_are_skipped(client: TestClient) -> None:
    ids = []
    for wd, seed in ((wd, seed) for wd in (0.0, 0.5) for seed in (1, 2, 3)):
        run_id, headers = external_run(client, config={"wd": wd, "seed": seed})
        # loss falls to 0.1 with no weight decay and to 0.6 with it; the last point climbs back, the best stays
        losses = [1.0, 0.1 + wd + 0.001 * seed, 0.9]
        points = [{"key": "valid_loss", "step": s, "value": v} for s, v in enumerate(losses)]
        assert client.post(f"/api/runs/{run_id}/metrics", json={"points": points}, headers=headers).status_code == 200
        ids.append(run_id)
    silent = script_run(client, {"wd": 0.1, "seed": 4})
    reply = importance(client, runs=",".join(map(str, [*ids, silent])), metric="valid_loss")
    assert reply.status_code == 200, reply.text
    found = reply.json()
    assert found["goal"] == "minimize"
    assert found["skipped"] == [silent]
    assert max(found["importance"], key=found["importance"].get) == "wd"


def test_bad_input_is_a_422_that_says_what_is_wrong(client: TestClient) -> None:
    ids = lr_grid(client)[:4]
    runs = ",".join(map(str, ids))
    cases = {
        (f"{ids[0]}", "summary.best_valid_acc"): "between 3 and",
        (f"{ids[0]},{ids[1]}", "summary.best_valid_acc"): "between 3 and",
        (f"{runs},abc", "summary.best_valid_acc"): "runs: 'abc' is not a run id",
        (runs, "summary.nothing"): "only 0 of the runs have a value of 'summary.nothing'",
        (runs, "valid_acc"): "only 0 of the runs",
    }
    for (run_list, metric), message in cases.items():
        reply = importance(client, runs=run_list, metric=metric)
        assert reply.status_code == 422, (run_list, metric, reply.text)
        assert message in reply.json()["detail"], reply.json()
    # the same config everywhere: nothing to rank
    same = [script_run(client, {"lr": 0.1}, summary={"best_valid_acc": v}) for v in (0.1, 0.2, 0.3)]
    reply = importance(client, runs=",".join(map(str, same)), metric="summary.best_valid_acc")
    assert reply.status_code == 422 and "no config key varies" in reply.json()["detail"]
    assert importance(client, runs=runs, metric="summary.best_valid_acc", goal="sideways").status_code == 422
    missing = importance(client, runs=f"{runs},999999", metric="summary.best_valid_acc")
    assert missing.status_code == 404 and "no run 999999" in missing.json()["detail"]
