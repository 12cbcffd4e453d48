"""Sweeps and presets through the API: expansion, random draws, caps, results ordering."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.services.sweeps import MAX_SWEEP_RUNS
from tests.utils.leases import claim

BASE = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "epochs": 2}


def test_grid_makes_the_cartesian_product(client: TestClient) -> None:
    body = {"name": "g", "base": BASE, "grid": {"model.hidden": [[16], [32], [64]], "batch_size": [16, 32]}}
    sweep = client.post("/api/sweeps", json=body).json()
    assert len(sweep["runs"]) == 6
    specs = [client.get(f"/api/runs/{rid}").json()["spec"] for rid in sweep["runs"]]
    assert sorted((s["model"]["hidden"][0], s["batch_size"]) for s in specs) == sorted(
        (h, b) for h in (16, 32, 64) for b in (16, 32)
    )
    assert all(s["epochs"] == 2 for s in specs)


def test_random_sweep_draws_n_runs_within_ranges(client: TestClient) -> None:
    body = {
        "base": BASE,
        "method": "random",
        "n": 5,
        "seed": 3,
        "grid": {"optimizer.lr": {"min": 1e-4, "max": 1e-1, "log": True}, "batch_size": [16, 64]},
    }
    sweep = client.post("/api/sweeps", json=body).json()
    specs = [client.get(f"/api/runs/{rid}").json()["spec"] for rid in sweep["runs"]]
    assert len(specs) == 5
    assert all(1e-4 <= s["optimizer"]["lr"] <= 1e-1 and s["batch_size"] in (16, 64) for s in specs)
    assert len({s["optimizer"]["lr"] for s in specs}) == 5


def test_sweep_over_the_cap_is_refused(client: TestClient) -> None:
    body = {"base": BASE, "grid": {"seed": list(range(100)), "batch_size": [8, 16, 32]}}
    response = client.post("/api/sweeps", json=body)
    assert response.status_code == 422
    assert str(MAX_SWEEP_RUNS) in response.text and "grid" in response.json()["detail"][0]["loc"]
    assert client.get("/api/runs").json() == []


def test_invalid_grid_value_names_the_key(client: TestClient) -> None:
    response = client.post("/api/sweeps", json={"base": BASE, "grid": {"optimizer.lr": [0.1, -1]}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "grid", "optimizer.lr"]


def test_every_bad_grid_value_is_named_with_its_field(client: TestClient) -> None:
    grid = {"optimizer.lr": [0.01, "abc", -1], "model.arch": ["mlp", "vgg"]}
    response = client.post("/api/sweeps", json={"base": BASE, "grid": grid})
    assert response.status_code == 422
    errors = response.json()["detail"]
    messages = [e["msg"] for e in errors]
    assert "optimizer.lr = 'abc': Input should be a valid number, unable to parse string as a number" in messages
    assert "optimizer.lr = -1: Input should be greater than 0" in messages
    assert [e["loc"] for e in errors if e["msg"].startswith("optimizer.lr")] == [["body", "grid", "optimizer.lr"]] * 2
    # a rule across fields names the combination that breaks it, in the user's words, not as a Python dict
    across = [m for m in messages if "blocks halve" in m]
    rule = "model.blocks: 5 blocks halve a 28x28 mnist image 5 times, to nothing: use at most 4 blocks"
    assert across == [f"with optimizer.lr = 0.01, model.arch = 'vgg': {rule}"]
    assert not any("{" in m or "run " in m for m in messages)
    assert client.get("/api/runs").json() == []


def test_results_sorted_by_best_valid_acc_with_best_marked(client: TestClient) -> None:
    sweep = client.post("/api/sweeps", json={"base": BASE, "grid": {"batch_size": [8, 16, 32]}}).json()
    for run_id, acc in zip(sweep["runs"], (0.7, 0.9, 0.8), strict=True):
        client.post(
            f"/api/runs/{run_id}/status",
            json={"status": "succeeded", "summary": {"best_valid_acc": acc, "best_epoch": 1, "n_params": 10}},
            headers=claim(client, run_id),
        )
    detail = client.get(f"/api/sweeps/{sweep['id']}").json()
    assert [row["best_valid_acc"] for row in detail["results"]] == [0.9, 0.8, 0.7]
    assert [row["best"] for row in detail["results"]] == [True, False, False]
    assert detail["results"][0]["values"] == {"batch_size": 16}
    assert detail["best_run_id"] == sweep["runs"][1]


def test_cancel_sweep_cancels_unfinished_runs(client: TestClient) -> None:
    sweep = client.post("/api/sweeps", json={"base": BASE, "grid": {"batch_size": [8, 16]}}).json()
    lease = claim(client, sweep["runs"][0])
    client.post(f"/api/runs/{sweep['runs'][0]}/status", json={"status": "succeeded", "summary": {}}, headers=lease)
    client.post(f"/api/sweeps/{sweep['id']}/cancel")
    statuses = [client.get(f"/api/runs/{r}").json()["status"] for r in sweep["runs"]]
    assert statuses == ["succeeded", "cancelled"]


def test_presets_list_all_seven_figures(client: TestClient) -> None:
    presets = client.get("/api/presets").json()
    assert [p["id"] for p in presets] == [f"fig{i}" for i in range(1, 8)]
    assert all(p["title"] for p in presets)
    fig1 = presets[0]
    assert fig1["n_runs"] == 2 and set(fig1["scales"]) == {"full", "quick"}
    assert fig1["scales"]["quick"]["epochs"] < fig1["scales"]["full"]["epochs"]


def test_presets_are_documented_with_their_fields(client: TestClient) -> None:
    """The API docs describe what GET /presets returns, field by field, not as an untyped object."""
    schema = client.get("/openapi.json").json()
    reply = schema["paths"]["/api/presets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    preset = schema["components"]["schemas"][reply["items"]["$ref"].rsplit("/", 1)[1]]
    assert {"id", "title", "description", "n_runs", "grid", "scales"} <= set(preset["properties"])


def test_fig5_preset_launches_the_reports_grid(client: TestClient) -> None:
    sweep = client.post("/api/presets/fig5").json()
    specs = [client.get(f"/api/runs/{rid}").json()["spec"] for rid in sweep["runs"]]
    configs = sorted((s["model"]["blocks"], s["batch_size"]) for s in specs)
    assert configs == sorted((b, n) for b in ("shallow", "shallow-fat", "deep") for n in (4, 8, 16, 32, 64))
    assert {(s["optimizer"]["name"], s["epochs"], s["dataset"]) for s in specs} == {("adam", 25, "dogs-vs-cats")}


def test_fig1_quick_scale_is_shorter(client: TestClient) -> None:
    sweep = client.post("/api/presets/fig1", params={"scale": "quick"}).json()
    specs = [client.get(f"/api/runs/{rid}").json()["spec"] for rid in sweep["runs"]]
    assert sorted(s["optimizer"]["weight_decay"] for s in specs)[0] == 0.0
    assert all(s["epochs"] < 100 and s["limit_train"] for s in specs)
    assert client.post("/api/presets/fig9").status_code == 404
