"""A run spec too big for a worker's memory is refused at the door (TRAINBOARD_MAX_RUN_GB): runs, sweeps, presets."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.services.presets import PRESETS
from tests.conftest import LOCAL_URL
from trainboard.settings import Settings

# The issue's spec: over 200 GB of worker memory and a multi-GB checkpoint every epoch.
HUGE = {"dataset": "dogs-vs-cats", "model": {"arch": "vgg", "blocks": [1024]}, "batch_size": 4096}
# A model that fits at a small batch, but not at 4096 images a step.
WIDE = {"dataset": "dogs-vs-cats", "model": {"arch": "vgg", "blocks": [256, 256]}, "epochs": 1}


def _refusal(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "value_error"
    assert "GB" in error["msg"] and "TRAINBOARD_MAX_RUN_GB" in error["msg"]
    return error  # type: ignore[no-any-return]


def _nothing_stored(client: TestClient) -> None:
    assert client.get("/api/runs").json() == []
    assert client.get("/api/sweeps").json() == []


def test_the_issues_spec_is_refused_naming_the_model_and_nothing_is_stored(client: TestClient) -> None:
    error = _refusal(client.post("/api/runs", json=HUGE))
    assert error["loc"] == ["body", "model", "blocks"]
    assert "batch_size 4096" in error["msg"] and "even at batch_size 1" in error["msg"]
    _nothing_stored(client)


def test_a_batch_too_big_names_batch_size_and_the_largest_that_fits(client: TestClient) -> None:
    error = _refusal(client.post("/api/runs", json={**WIDE, "batch_size": 4096}))
    assert error["loc"] == ["body", "batch_size"]
    largest = int(error["msg"].rsplit("at most ", 1)[1].split()[0])
    assert client.post("/api/runs", json={**WIDE, "batch_size": largest}).status_code == 201
    assert client.post("/api/runs", json={**WIDE, "batch_size": largest + 1}).status_code == 422
    assert len(client.get("/api/runs").json()) == 1


def test_an_external_run_is_not_sized(client: TestClient) -> None:
    # no worker executes it: the user's own script trains whatever it trains
    assert client.post("/api/runs", json={**HUGE, "external": True}).status_code == 201


def test_a_grid_with_one_combination_too_big_stores_nothing(client: TestClient) -> None:
    body = {"name": "g", "base": WIDE, "grid": {"seed": [0, 1], "batch_size": [16, 64, 4096]}}
    error = _refusal(client.post("/api/sweeps", json=body))
    assert error["loc"] == ["body", "grid", "batch_size"]
    assert "4096" in error["msg"]
    _nothing_stored(client)


def test_a_base_too_big_names_the_base_field(client: TestClient) -> None:
    body = {"name": "g", "base": {**HUGE, "batch_size": 16}, "grid": {"seed": [0, 1]}}
    assert _refusal(client.post("/api/sweeps", json=body))["loc"] == ["body", "base", "model", "blocks"]
    body = {"name": "g", "base": {**WIDE, "batch_size": 16}, "grid": {"model.blocks": [[8], [1024]]}}
    assert _refusal(client.post("/api/sweeps", json=body))["loc"] == ["body", "grid", "model.blocks"]
    _nothing_stored(client)


def test_a_random_sweep_is_checked_draw_by_draw(client: TestClient) -> None:
    grid = {"batch_size": {"min": 16, "max": 4096, "integer": True, "log": True}}
    body = {"name": "r", "base": WIDE, "method": "random", "n": 30, "seed": 1, "grid": grid}
    assert _refusal(client.post("/api/sweeps", json=body))["loc"] == ["body", "grid", "batch_size"]
    _nothing_stored(client)


def test_the_limit_is_configurable(settings: Settings) -> None:
    spec = {**WIDE, "batch_size": 256, "device": "cpu"}  # about 6 GB; 0.6 GB at batch_size 16
    with TestClient(create_app(settings.model_copy(update={"max_run_gb": 2.0})), base_url=LOCAL_URL) as small:
        error = _refusal(small.post("/api/runs", json=spec))
        assert "the limit is 2 GB" in error["msg"]
        assert small.post("/api/runs", json={**spec, "batch_size": 16}).status_code == 201
    with TestClient(create_app(settings.model_copy(update={"max_run_gb": 400.0})), base_url=LOCAL_URL) as large:
        assert large.post("/api/runs", json=HUGE).status_code == 201


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"model": {"arch": "mlp", "hidden": [800, 800], "dropout": 0.5}, "batch_size": 4096},
        {"model": {"arch": "cnn", "norm": "dropout"}, "batch_size": 4096},
        {"dataset": "dogs-vs-cats", "model": {"arch": "vgg", "blocks": "shallow-fat"}, "optimizer": {"name": "adam"}},
        {"dataset": "dogs-vs-cats", "model": {"arch": "vgg", "blocks": "deep"}, "batch_size": 512},
    ],
    ids=["default", "mlp-4096", "cnn-4096", "shallow-fat-adam", "deep-512"],
)
def test_ordinary_specs_pass(client: TestClient, spec: dict[str, Any]) -> None:
    assert client.post("/api/runs", json=spec).status_code == 201


def test_every_preset_at_full_scale_passes_the_default_limit(client: TestClient) -> None:
    assert Settings.model_fields["max_run_gb"].default == 16.0
    for preset_id in PRESETS:
        response = client.post(f"/api/presets/{preset_id}", params={"scale": "full"})
        assert response.status_code == 201, (preset_id, response.text)
