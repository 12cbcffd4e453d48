"""The runs REST API as a script would use it, on SQLite and on the real Postgres."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.utils.leases import claim, lease_headers

MLP = {"name": "report mlp", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [800, 800]}, "epochs": 3}


def test_create_then_get_run(client: TestClient) -> None:
    created = client.post("/api/runs", json=MLP)
    assert created.status_code == 201
    run = created.json()
    assert run["status"] == "queued"
    assert run["name"] == "report mlp"
    fetched = client.get(f"/api/runs/{run['id']}").json()
    assert fetched["spec"]["model"]["hidden"] == [800, 800]
    assert fetched["spec"]["optimizer"] == {"name": "sgd", "lr": 0.02, "weight_decay": 0.0}


def test_invalid_spec_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/runs", json={**MLP, "optimizer": {"name": "sgd", "lr": -1}})
    assert response.status_code == 422
    locations = [err["loc"] for err in response.json()["detail"]]
    assert ["body", "optimizer", "lr"] in locations


def test_unknown_key_is_refused(client: TestClient) -> None:
    response = client.post("/api/runs", json={**MLP, "epoch": 3})
    assert response.status_code == 422
    assert ["body", "epoch"] in [err["loc"] for err in response.json()["detail"]]


def test_vgg_blocks_must_leave_something_of_the_image(client: TestClient) -> None:
    response = client.post("/api/runs", json={"model": {"arch": "vgg"}, "dataset": "mnist"})  # deep: 5 blocks
    assert response.status_code == 422
    assert "model.blocks: 5 blocks halve a 28x28 mnist image" in response.text and "at most 4 blocks" in response.text
    fits = {"model": {"arch": "vgg", "blocks": [8, 16, 32, 64]}, "dataset": "mnist", "epochs": 1}
    assert client.post("/api/runs", json=fits).status_code == 201
    assert client.post("/api/runs", json={"model": {"arch": "vgg"}, "dataset": "cifar10"}).status_code == 201


def _refusal(client: TestClient, spec: dict) -> list[tuple[list, str]]:
    response = client.post("/api/runs", json={**MLP, **spec})
    assert response.status_code == 422, response.text
    return [(err["loc"], err["msg"]) for err in response.json()["detail"]]


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", ".hidden", "", "x" * 65, "name with space", "c:\\x", "a\nb"])
def test_a_folder_dataset_needs_one_safe_folder_name(client: TestClient, name: str) -> None:
    [(loc, msg)] = _refusal(client, {"dataset": f"folder:{name}"})
    assert loc == ["body", "dataset"] and "folder:NAME" in msg


def test_the_new_datasets_are_taken_and_an_unknown_one_is_named(client: TestClient) -> None:
    for dataset in ("fashion-mnist", "cifar10", "folder:flowers-102_v2.small"):
        created = client.post("/api/runs", json={**MLP, "dataset": dataset})
        assert created.status_code == 201, created.text
        assert created.json()["spec"]["dataset"] == dataset
    [(loc, msg)] = _refusal(client, {"dataset": "imagenet"})
    assert loc == ["body", "dataset"] and "'imagenet' is not a dataset" in msg and "'cifar10'" in msg


def test_image_size_has_bounds_and_applies_to_image_folders_only(client: TestClient) -> None:
    folder = {"dataset": "folder:flowers"}
    for size in (7, 257, 1.5):
        [(loc, _)] = _refusal(client, {**folder, "image_size": size})
        assert loc == ["body", "image_size"]
    created = client.post("/api/runs", json={**MLP, **folder, "image_size": 8})
    assert created.status_code == 201 and created.json()["spec"]["image_size"] == 8
    assert client.post("/api/runs", json={**MLP, "dataset": "dogs-vs-cats", "image_size": 256}).status_code == 201
    [(_, msg)] = _refusal(client, {"dataset": "cifar10", "image_size": 48})
    assert msg.startswith("Value error, image_size: cifar10 images are 32x32")


def test_unknown_run_is_404(client: TestClient) -> None:
    assert client.get("/api/runs/999").status_code == 404
    assert client.post("/api/runs/999/cancel").status_code == 404
    assert client.get("/api/runs/999/metrics").status_code == 404
    assert client.get("/api/runs/999/events").status_code == 404
    assert client.post("/api/runs/999/metrics", json={"points": []}).status_code == 404


def test_list_filters_sorts_and_pages(client: TestClient) -> None:
    for i in range(5):
        client.post("/api/runs", json={**MLP, "name": f"run-{i}", "tags": ["even" if i % 2 == 0 else "odd"]})
    page = client.get("/api/runs", params={"limit": 2})
    assert page.headers["X-Total-Count"] == "5"
    assert [r["name"] for r in page.json()] == ["run-4", "run-3"]
    even = client.get("/api/runs", params={"tag": "even", "sort": "name", "order": "asc"}).json()
    assert [r["name"] for r in even] == ["run-0", "run-2", "run-4"]
    assert [r["name"] for r in client.get("/api/runs", params={"q": "run-3"}).json()] == ["run-3"]


def test_cancel_is_final(client: TestClient) -> None:
    run = client.post("/api/runs", json=MLP).json()
    lease = claim(client, run["id"], worker="w1")
    cancelled = client.post(f"/api/runs/{run['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    # A worker reporting afterwards learns the run was cancelled; it cannot revive it.
    reply = client.post(f"/api/runs/{run['id']}/status", json={"progress": 0.5}, headers=lease).json()
    assert reply["status"] == "cancelled"
    assert client.post(f"/api/runs/{run['id']}/status", json={"status": "running"}, headers=lease).status_code == 409
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "cancelled"


def test_worker_reports_lifecycle(client: TestClient) -> None:
    run_id = client.post("/api/runs", json=MLP).json()["id"]
    running = client.post(f"/api/runs/{run_id}/claim", json={"worker": "cpu@box"}).json()
    assert running["status"] == "running" and running["worker"] == "cpu@box" and running["attempts"] == 1
    lease = lease_headers(running)
    summary = {
        "n_params": 1276810,
        "best_epoch": 2,
        "best_valid_acc": 0.97,
        "test_acc_at_best": 0.96,
        "gen_gap": 0.01,
        "duration_s": 12.5,
    }
    done = client.post(
        f"/api/runs/{run_id}/status", json={"status": "succeeded", "summary": summary}, headers=lease
    ).json()
    assert done["status"] == "succeeded" and done["summary"] == summary and done["finished_at"]
    best = client.get("/api/runs", params={"sort": "best_valid_acc"}).json()
    assert best[0]["id"] == run_id


def test_external_run_is_not_queued(client: TestClient) -> None:
    run = client.post("/api/runs", json={**MLP, "external": True}).json()
    assert run["status"] == "running" and run["external"] is True
    assert run["lease"], "the script that creates it is its only attempt"


def test_health_reports_database(client: TestClient) -> None:
    configured = client.app.state.settings.database_url
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["database"] == ("postgresql" if configured.startswith("postgresql") else "sqlite"), configured
    assert body["broker"] == "sqlite (embedded)"


def test_cuda_run_says_it_waits_for_a_gpu_worker(client: TestClient) -> None:
    beat = {"host": "box", "devices": ["cpu", "cuda"], "queues": ["any", "cuda"], "session": "s"}
    assert client.put("/api/workers/gpu-1", json=beat).status_code == 200
    run = client.post("/api/runs", json={**MLP, "device": "cuda"}).json()
    assert run["queue"] == "cuda"
    assert run["status_detail"] == "waiting for a GPU (cuda) worker"
    assert client.post("/api/runs", json=MLP).json()["status_detail"] == "waiting for a worker"
