"""Curating runs and sweeps: rename, retag, notes and archive through PATCH; DELETE takes a run's rows and files
with it and frees their space; bad input is a 422 naming the field; a read-only token may do none of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from backend.main import create_app
from backend.models import MetricPoint, MetricRollup, MetricSeries, RunEvent, RunLog, RunLogLine
from tests.conftest import LOCAL_URL
from tests.utils.leases import external_run
from tests.utils.sse import sse_events
from trainboard.settings import Settings

OCTET = {"content-type": "application/octet-stream"}


def _patch(client: TestClient, run_id: int, **body: Any) -> dict[str, Any]:
    reply = client.patch(f"/api/runs/{run_id}", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _finished_run(client: TestClient, *, points: int = 10, **spec: Any) -> tuple[int, dict[str, str]]:
    """An external run with ``points`` loss points, two log lines and an artifact, finished (succeeded)."""
    run_id, lease = external_run(client, name=spec.pop("name", "curated"), config={"lr": 0.1}, **spec)
    batch = {"points": [{"key": "loss", "step": step, "value": 1.0 / (step + 1)} for step in range(points)]}
    for start in range(0, points, 10_000):
        chunk = {"points": batch["points"][start : start + 10_000]}
        assert client.post(f"/api/runs/{run_id}/metrics", json=chunk, headers=lease).status_code == 200
    logs = {"first_line": 0, "lines": ["epoch 1", "epoch 2"]}
    assert client.post(f"/api/runs/{run_id}/logs", json=logs, headers=lease).status_code == 200
    image = b"\x89PNG" + b"x" * 2048
    put = client.put(f"/api/runs/{run_id}/artifacts/filters.png", content=image, headers=OCTET | lease)
    assert put.status_code == 201, put.text
    done = client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
    assert done.status_code == 200, done.text
    return run_id, lease


def _listed(client: TestClient, **params: Any) -> list[int]:
    reply = client.get("/api/runs", params=params)
    assert reply.status_code == 200, reply.text
    return [run["id"] for run in reply.json()]


def test_patch_renames_retags_annotates_and_shows_it_on_the_stream(client: TestClient) -> None:
    run_id, lease = external_run(client, name="before", tags=["old"], config={})

    assert _patch(client, run_id, name="  after  ")["name"] == "after"
    assert _patch(client, run_id, tags=["fig5", "best", "fig5"])["tags"] == ["fig5", "best"]
    note = "# Why\n**lr 0.1** diverged <script>alert(1)</script>"
    shown = _patch(client, run_id, notes=note)
    assert (shown["name"], shown["tags"], shown["notes"], shown["archived"]) == ("after", ["fig5", "best"], note, False)
    assert shown["spec"]["tags"] == ["old"], "the spec keeps what the run was launched with"

    again = client.get(f"/api/runs/{run_id}").json()
    assert (again["name"], again["tags"], again["notes"]) == ("after", ["fig5", "best"], note)
    assert _listed(client, tag="fig5") == [run_id]
    assert _listed(client, tag="old") == []

    client.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        edited = [data for _, kind, data in sse_events(response.iter_lines()) if kind == "edited"]
    assert [e["name"] for e in edited] == ["after", "after", "after"]
    assert edited[-1]["tags"] == ["fig5", "best"] and edited[-1]["notes"] == note


def test_a_patch_that_changes_nothing_adds_no_event(client: TestClient) -> None:
    run_id, _ = external_run(client, name="same", config={})
    seq = client.get(f"/api/runs/{run_id}").json()["event_seq"]
    _patch(client, run_id, name="same")
    assert client.get(f"/api/runs/{run_id}").json()["event_seq"] == seq


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": ""}, "name", "at least 1"),
        ({"name": "   "}, "name", "blank"),
        ({"name": "n" * 201}, "name", "at most 200"),
        ({"tags": ["ok", ""]}, "tags", "at least 1"),
        ({"tags": ["x" * 65]}, "tags", "at most 64"),
        ({"tags": [f"t{i}" for i in range(33)]}, "tags", "at most 32"),
        ({"tags": ["a,b"]}, "tags", "comma"),
        ({"notes": "é" * 40_000}, "notes", "65,536 bytes"),
        ({"archived": "maybe"}, "archived", "boolean"),
        ({"status": "succeeded"}, "status", "not permitted"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client: TestClient, body: dict[str, Any], field: str, words: str) -> None:
    run_id, _ = external_run(client, name="kept", config={})
    reply = client.patch(f"/api/runs/{run_id}", json=body)
    assert reply.status_code == 422, reply.text
    problems = reply.json()["detail"]
    assert any(p["loc"][:2] == ["body", field] and words in p["msg"] for p in problems), problems
    assert client.get(f"/api/runs/{run_id}").json()["name"] == "kept"


def test_archived_runs_are_hidden_by_default_and_restorable(client: TestClient) -> None:
    kept, _ = external_run(client, name="kept", config={})
    shelved, _ = external_run(client, name="shelved", config={})

    assert _patch(client, shelved, archived=True)["archived"] is True
    assert _listed(client) == [kept]
    assert client.get("/api/runs").headers["X-Total-Count"] == "1"
    assert _listed(client, archived="true") == [shelved]
    assert _listed(client, archived="all") == [shelved, kept]
    assert client.get(f"/api/runs/{shelved}").status_code == 200, "an archived run is still there"
    assert client.get("/api/runs", params={"archived": "yes"}).status_code == 422

    _patch(client, shelved, archived=False)
    assert _listed(client) == [shelved, kept]


def test_delete_takes_every_row_and_file_and_the_run_is_gone(client: TestClient, settings: Settings) -> None:
    run_id, _ = _finished_run(client, points=300)
    other, _ = _finished_run(client, points=5)
    folder = settings.artifacts_dir / str(run_id)
    assert (folder / "filters.png").is_file()

    reply = client.delete(f"/api/runs/{run_id}")
    assert reply.status_code == 204 and reply.content == b""

    assert client.get(f"/api/runs/{run_id}").status_code == 404
    assert client.get(f"/api/runs/{run_id}/metrics").status_code == 404
    assert client.get(f"/api/runs/{run_id}/artifacts/filters.png").status_code == 404
    assert client.delete(f"/api/runs/{run_id}").status_code == 404
    assert not folder.exists(), "the run's artifact folder is gone from the disk"
    assert _row_counts(settings, run_id) == dict.fromkeys([*_ROW_TABLES, "metric_points"], 0)
    assert all(n > 0 for n in _row_counts(settings, other).values()), "the other run keeps everything"
    assert (settings.artifacts_dir / str(other) / "filters.png").is_file()
    assert _listed(client, archived="all") == [other]


_ROW_TABLES = {"metric_series": MetricSeries, "metric_rollups": MetricRollup, "run_events": RunEvent}
_ROW_TABLES |= {"run_log_lines": RunLogLine, "run_logs": RunLog}


def _row_counts(settings: Settings, run_id: int) -> dict[str, int]:
    """The run's rows in every table; ``metric_points`` counts its points and any point left without a series."""
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            counts = {
                name: conn.scalar(select(func.count()).select_from(table).where(table.run_id == run_id)) or 0
                for name, table in _ROW_TABLES.items()
            }
            series = select(MetricSeries.id).where(MetricSeries.run_id == run_id)
            orphans = ~MetricPoint.series_id.in_(select(MetricSeries.id))
            counts["metric_points"] = (
                conn.scalar(
                    select(func.count()).select_from(MetricPoint).where(MetricPoint.series_id.in_(series) | orphans)
                )
                or 0
            )
            return counts
    finally:
        engine.dispose()


def test_deleting_on_sqlite_gives_the_space_back(client: TestClient, settings: Settings) -> None:
    if not settings.sqlalchemy_url.startswith("sqlite"):
        pytest.skip("Postgres frees space by autovacuum, on its own schedule")
    run_id, _ = _finished_run(client, points=40_000)
    before = _sqlite_pages(settings)
    assert client.delete(f"/api/runs/{run_id}").status_code == 204
    after = _sqlite_pages(settings)
    assert after["freelist_count"] == 0, "no freed page is left in the file"
    assert after["page_count"] < before["page_count"] * 0.6, (before, after)


def _sqlite_pages(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return {p: int(conn.exec_driver_sql(f"PRAGMA {p}").scalar() or 0) for p in ("page_count", "freelist_count")}
    finally:
        engine.dispose()


def test_a_running_run_is_refused_until_cancelled(client: TestClient) -> None:
    run_id, _ = external_run(client, name="busy", config={})
    reply = client.delete(f"/api/runs/{run_id}")
    assert reply.status_code == 409
    assert "running" in reply.json()["detail"] and "cancel it first" in reply.json()["detail"]
    assert client.get(f"/api/runs/{run_id}").status_code == 200

    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 200
    assert client.delete(f"/api/runs/{run_id}").status_code == 204


def test_unknown_run_is_a_404(client: TestClient) -> None:
    assert client.patch("/api/runs/999", json={"name": "x"}).status_code == 404
    assert client.delete("/api/runs/999").status_code == 404


def _sweep(client: TestClient) -> dict[str, Any]:
    body = {"name": "grid", "base": {"external": True, "epochs": 1}, "grid": {"batch_size": [16, 32]}}
    reply = client.post("/api/sweeps", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_a_sweep_is_renamed_annotated_archived_with_its_runs_and_deleted(client: TestClient) -> None:
    sweep = _sweep(client)
    sweep_id, run_ids = sweep["id"], sweep["runs"]
    edited = client.patch(f"/api/sweeps/{sweep_id}", json={"name": "renamed", "notes": "*lr* grid"}).json()
    assert (edited["name"], edited["notes"], edited["archived"]) == ("renamed", "*lr* grid", False)
    assert client.patch(f"/api/sweeps/{sweep_id}", json={"name": ""}).json()["detail"][0]["loc"] == ["body", "name"]

    assert client.patch(f"/api/sweeps/{sweep_id}", json={"archived": True}).json()["archived"] is True
    assert [s["id"] for s in client.get("/api/sweeps").json()] == []
    assert [s["id"] for s in client.get("/api/sweeps", params={"archived": "true"}).json()] == [sweep_id]
    assert _listed(client) == [], "archiving a sweep archives its runs"
    client.patch(f"/api/sweeps/{sweep_id}", json={"archived": False})
    assert sorted(_listed(client)) == run_ids

    refused = client.delete(f"/api/sweeps/{sweep_id}")
    assert refused.status_code == 409
    assert all(f"#{run_id}" in refused.json()["detail"] for run_id in run_ids)
    assert client.post(f"/api/sweeps/{sweep_id}/cancel").status_code == 200
    assert client.delete(f"/api/sweeps/{sweep_id}").status_code == 204
    assert client.get(f"/api/sweeps/{sweep_id}").status_code == 404
    assert all(client.get(f"/api/runs/{run_id}").status_code == 404 for run_id in run_ids)


READ_SECRET = "viewer-secret-0123456789"
USER_SECRET = "alice-secret-0123456789"


@pytest.fixture
def with_roles(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"viewer read {READ_SECRET}\nalice user {USER_SECRET}\n")
    with TestClient(create_app(settings.model_copy(update={"tokens_file": tokens})), base_url=LOCAL_URL) as c:
        yield c


def test_a_read_token_may_not_curate_and_a_user_token_may(with_roles: TestClient) -> None:
    user = {"Authorization": f"Bearer {USER_SECRET}"}
    reader = {"Authorization": f"Bearer {READ_SECRET}"}
    run = with_roles.post("/api/runs", json={"external": True, "name": "r", "config": {}}, headers=user).json()
    assert with_roles.post(f"/api/runs/{run['id']}/cancel", headers=user).status_code == 200
    sweep = with_roles.post(
        "/api/sweeps", json={"name": "s", "base": {"external": True}, "grid": {"seed": [1]}}, headers=user
    ).json()

    for method, path in (("PATCH", f"/api/runs/{run['id']}"), ("PATCH", f"/api/sweeps/{sweep['id']}")):
        refused = with_roles.request(method, path, json={"name": "x"}, headers=reader)
        assert refused.status_code == 403 and "editing" in refused.json()["detail"], refused.text
    for path in (f"/api/runs/{run['id']}", f"/api/sweeps/{sweep['id']}"):
        refused = with_roles.delete(path, headers=reader)
        assert refused.status_code == 403 and "deleting" in refused.json()["detail"], refused.text

    assert with_roles.patch(f"/api/runs/{run['id']}", json={"name": "x"}, headers=user).json()["name"] == "x"
    assert with_roles.delete(f"/api/runs/{run['id']}", headers=user).status_code == 204
