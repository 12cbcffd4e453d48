"""Every run has a config: an external run's is any JSON mapping its script sent (bounded), a built-in run's is its
spec; a script's run can replace its config while it lives, with its lease, through its status report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from backend.main import create_app
from tests.conftest import LOCAL_URL
from tests.utils.leases import LEASE_HEADER, claim
from trainboard.settings import Settings

CONFIG = {
    "lr": 0.003,
    "optimizer": {"name": "adamw", "betas": [0.9, 0.999], "schedule": {"warmup": 500, "kind": "cosine"}},
    "layers": [{"width": 256, "act": "gelu"}, {"width": 10, "act": None}],
    "amp": True,
    "data_dir": "/data/imagenet — ünïcode",
    "seed": None,
}
JSON_BODY = {"Content-Type": "application/json"}


def script_run(client: TestClient, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """What `trainboard.init(name=..., config=..., tags=...)` posts; returns the creation reply (with the lease)."""
    reply = client.post("/api/runs", json={"external": True, "config": config, **fields})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def nested(depth: int) -> dict[str, Any]:
    """A mapping ``depth`` levels deep: {"a": {"a": ... {} }}."""
    node: dict[str, Any] = {}
    for _ in range(depth - 1):
        node = {"a": node}
    return node


def error_at(reply: Any) -> tuple[int, list[str], str]:
    detail = reply.json()["detail"][0]
    return reply.status_code, detail["loc"], detail["msg"]


def test_a_scripts_config_comes_back_as_sent_on_the_run_and_in_the_list(client: TestClient) -> None:
    created = script_run(client, CONFIG, name="resnet sweep", tags=["mine", "v2"])
    assert created["config"] == CONFIG
    run = client.get(f"/api/runs/{created['id']}").json()
    assert run["config"] == CONFIG
    assert run["name"] == "resnet sweep" and run["external"] and run["status"] == "running"
    # readers of `spec` (the dashboard) still find the run's name and tags there
    assert run["spec"]["tags"] == ["mine", "v2"] and run["spec"]["name"] == "resnet sweep"
    [listed] = client.get("/api/runs", params={"tag": "v2"}).json()
    assert listed["id"] == created["id"] and listed["config"] == CONFIG

    unnamed = script_run(client, {})
    assert unnamed["config"] == {} and unnamed["name"] == "external run"


def test_a_config_over_64_kib_or_16_levels_is_a_422_naming_config(client: TestClient) -> None:
    status, loc, msg = error_at(client.post("/api/runs", json={"external": True, "config": {"x": "y" * 70_000}}))
    assert (status, loc) == (422, ["body", "config"]) and "at most 65536 bytes" in msg
    status, loc, msg = error_at(client.post("/api/runs", json={"external": True, "config": nested(17)}))
    assert (status, loc) == (422, ["body", "config"]) and "16 levels" in msg
    assert client.get("/api/runs").json() == [], "nothing was stored"

    # just inside both bounds
    assert script_run(client, nested(16))["config"] == nested(16)
    big = {"x": "y" * (65_536 - len('{"x":""}'))}
    assert script_run(client, big)["config"] == big


def test_a_config_must_be_a_json_mapping_of_an_external_run(client: TestClient) -> None:
    for config in ([1, 2], "lr=0.1", 3):
        status, loc, _ = error_at(client.post("/api/runs", json={"external": True, "config": config}))
        assert (status, loc) == (422, ["body", "config"]), config
    status, loc, msg = error_at(client.post("/api/runs", json={"config": {"lr": 0.1}}))
    assert (status, loc) == (422, ["body", "config"]) and '"external": true' in msg
    # a free-form run is not also a spec of the built-in loop
    status, loc, _ = error_at(client.post("/api/runs", json={"external": True, "config": {}, "dataset": "mnist"}))
    assert (status, loc) == (422, ["body", "dataset"])
    assert client.get("/api/runs").json() == []


def test_nan_and_infinity_in_a_config_are_stored_as_null(client: TestClient) -> None:
    body = b'{"external": true, "config": {"lr": NaN, "clip": Infinity, "deep": {"x": [1, -Infinity]}, "ok": 2.5}}'
    reply = client.post("/api/runs", content=body, headers=JSON_BODY)
    assert reply.status_code == 201, reply.text
    expected = {"lr": None, "clip": None, "deep": {"x": [1, None]}, "ok": 2.5}
    assert reply.json()["config"] == expected
    text = client.get(f"/api/runs/{reply.json()['id']}").text
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["config"] == expected


def test_the_old_external_form_a_full_spec_still_works(client: TestClient) -> None:
    spec = {"external": True, "name": "old script", "dataset": "mnist", "model": {"arch": "cnn"}, "epochs": 3}
    run = client.post("/api/runs", json=spec).json()
    assert run["external"] and run["spec"]["model"]["arch"] == "cnn" and run["spec"]["epochs"] == 3
    assert run["config"] == run["spec"]
    bare = client.post("/api/runs", json={"external": True})
    assert bare.status_code == 201 and bare.json()["config"]["dataset"] == "mnist"
    # and an unknown key is still refused there, naming it
    status, loc, _ = error_at(client.post("/api/runs", json={"external": True, "depth": 50}))
    assert (status, loc) == (422, ["body", "depth"])


def test_a_built_in_runs_config_is_its_spec_and_cannot_change(client: TestClient) -> None:
    spec = {"dataset": "mnist", "model": {"arch": "mlp", "hidden": [32]}, "optimizer": {"lr": 0.05}, "epochs": 2}
    run = client.post("/api/runs", json=spec).json()
    assert run["config"] == run["spec"] and run["config"]["optimizer"]["lr"] == 0.05
    assert client.get("/api/runs").json()[0]["config"] == run["spec"]
    headers = claim(client, run["id"])
    refused = client.post(f"/api/runs/{run['id']}/status", json={"config": {"lr": 1}}, headers=headers)
    assert refused.status_code == 409 and "config" in refused.json()["detail"]
    assert client.get(f"/api/runs/{run['id']}").json()["config"] == run["spec"]

    sweep = client.post("/api/sweeps", json={"name": "s", "base": spec, "grid": {"optimizer.lr": [0.01, 0.1]}}).json()
    runs = client.get("/api/runs", params={"sweep_id": sweep["id"]}).json()
    assert sorted(r["config"]["optimizer"]["lr"] for r in runs) == [0.01, 0.1]
    assert all(r["config"] == r["spec"] for r in runs)


def test_only_the_runs_current_attempt_replaces_its_config(client: TestClient) -> None:
    run = script_run(client, {"lr": 0.1})
    url = f"/api/runs/{run['id']}/status"
    new = {"lr": 0.05, "epochs": 20}

    assert client.post(url, json={"config": new}).status_code == 403, "no lease"
    assert client.post(url, json={"config": new}, headers={LEASE_HEADER: "not-the-lease"}).status_code == 409
    assert client.get(f"/api/runs/{run['id']}").json()["config"] == {"lr": 0.1}

    owner = {LEASE_HEADER: run["lease"]}
    reply = client.post(url, json={"config": new}, headers=owner)
    assert reply.status_code == 200 and reply.json()["config"] == new, "the whole config is replaced"
    assert client.get(f"/api/runs/{run['id']}").json()["config"] == new
    status, loc, _ = error_at(client.post(url, json={"config": nested(17)}, headers=owner))
    assert (status, loc) == (422, ["body", "config"])
    status, loc, _ = error_at(client.post(url, json={"config": {"x": "y" * 70_000}}, headers=owner))
    assert (status, loc) == (422, ["body", "config"])

    assert client.post(url, json={"status": "succeeded"}, headers=owner).status_code == 200
    late = client.post(url, json={"config": {"lr": 9}}, headers=owner)
    assert late.json()["config"] == new, "a finished run keeps the config it finished with"
    assert client.get(f"/api/runs/{run['id']}").json()["config"] == new


def test_a_read_only_token_cannot_replace_a_config_even_with_the_lease(settings: Settings, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("me user user-secret-0123456789\nviewer read viewer-secret-0123456789\n")
    app = create_app(settings.model_copy(update={"tokens_file": tokens}))
    with TestClient(app, base_url=LOCAL_URL) as client:
        me, viewer = ({"Authorization": f"Bearer {s}-secret-0123456789"} for s in ("user", "viewer"))
        run = client.post("/api/runs", json={"external": True, "config": {"a": 1}}, headers=me).json()
        lease = {LEASE_HEADER: run["lease"]}
        url = f"/api/runs/{run['id']}/status"
        assert client.post(url, json={"config": {"a": 2}}, headers={**viewer, **lease}).status_code == 403
        assert client.post(url, json={"config": {"a": 3}}, headers={**me, **lease}).json()["config"] == {"a": 3}
