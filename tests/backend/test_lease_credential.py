"""A command run's code gets the run's lease, never the worker's token: with tokens on, the lease alone lets it read
its own run and files and write its status, metrics, logs and artifacts, while it is the current lease; every other
use is refused (another run, another route, a stale lease, no lease), and launching one needs `admin` or `user`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.conftest import LOCAL_URL
from tests.utils.leases import LEASE_HEADER
from trainboard.settings import Settings

SECRETS = {"alice": ("user", "alice-secret-0123456789"), "viewer": ("read", "viewer-secret-0123456789")}
SECRETS["gpu1"] = ("worker", "gpu1-secret-0123456789ab")
COMMAND_RUN = {"name": "mine", "command": ["python", "train.py", "{lr}"], "config": {"lr": 0.1}}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[name][1]}"}


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    tokens = tmp_path / "tokens"
    tokens.write_text("".join(f"{name} {role} {secret}\n" for name, (role, secret) in SECRETS.items()))
    with TestClient(create_app(settings.model_copy(update={"tokens_file": tokens})), base_url=LOCAL_URL) as c:
        yield c


def claimed(api: TestClient) -> tuple[int, dict[str, str]]:
    """A command run launched by a user and claimed by the worker: its id and the lease header its code gets."""
    run = api.post("/api/runs", json=COMMAND_RUN, headers=bearer("alice")).json()
    reply = api.post(f"/api/runs/{run['id']}/claim", json={"worker": "gpu1"}, headers=bearer("gpu1"))
    assert reply.status_code == 200, reply.text
    return int(run["id"]), {LEASE_HEADER: reply.json()["lease"]}


def status_of(reply: Any) -> int:
    return int(reply.status_code)


def test_the_lease_alone_reads_the_run_and_writes_what_its_attempt_writes(api: TestClient) -> None:
    run_id, lease = claimed(api)
    run = api.get(f"/api/runs/{run_id}", headers=lease)
    assert run.status_code == 200 and run.json()["config"] == {"lr": 0.1}
    points = {"points": [{"key": "loss", "step": 0, "value": 1.5}]}
    assert status_of(api.post(f"/api/runs/{run_id}/metrics", json=points, headers=lease)) == 200
    logs = {"first_line": 0, "lines": ["hello"]}
    assert status_of(api.post(f"/api/runs/{run_id}/logs", json=logs, headers=lease)) == 200
    assert status_of(api.put(f"/api/runs/{run_id}/artifacts/ckpt.pt", content=b"weights", headers=lease)) in (200, 201)
    assert api.get(f"/api/runs/{run_id}/artifacts/ckpt.pt", headers=lease).content == b"weights"
    config = {"lr": 0.1, "added": True}
    reply = api.post(f"/api/runs/{run_id}/status", json={"config": config, "status": "succeeded"}, headers=lease)
    assert reply.status_code == 200, reply.text
    run = api.get(f"/api/runs/{run_id}", headers=bearer("viewer")).json()
    assert (run["status"], run["config"]) == ("succeeded", config)


def test_no_lease_and_no_token_is_refused(api: TestClient) -> None:
    run_id, _ = claimed(api)
    assert status_of(api.get(f"/api/runs/{run_id}")) == 401
    assert status_of(api.post(f"/api/runs/{run_id}/status", json={})) == 401


def test_the_lease_of_one_run_opens_no_other(api: TestClient) -> None:
    run_id, lease = claimed(api)
    other_id, _ = claimed(api)
    assert status_of(api.get(f"/api/runs/{other_id}", headers=lease)) == 401
    assert status_of(api.post(f"/api/runs/{other_id}/status", json={"status": "failed"}, headers=lease)) == 401
    points = {"points": [{"key": "loss", "step": 0, "value": 1.0}]}
    assert status_of(api.post(f"/api/runs/{other_id}/metrics", json=points, headers=lease)) == 401
    assert status_of(api.put(f"/api/runs/{other_id}/artifacts/x.bin", content=b"x", headers=lease)) == 401
    assert api.get(f"/api/runs/{other_id}", headers=bearer("viewer")).json()["status"] == "running"
    assert status_of(api.get(f"/api/runs/{run_id}", headers=lease)) == 200, "while its own run still opens"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/runs", None),
        ("GET", "/api/workers", None),
        ("GET", "/api/runs/{run}/events", None),
        ("POST", "/api/runs", COMMAND_RUN),
        ("POST", "/api/runs/{run}/cancel", None),
        ("POST", "/api/runs/{run}/claim", {"worker": "me"}),
        ("PATCH", "/api/runs/{run}", {"name": "renamed"}),
        ("DELETE", "/api/runs/{run}", None),
        ("POST", "/api/sweeps", {"base": COMMAND_RUN, "grid": {"lr": [1, 2]}}),
        ("PUT", "/api/workers/me", {"host": "h", "devices": ["cpu"], "queues": ["any"], "session": "s"}),
    ],
)
def test_the_lease_opens_no_other_route(api: TestClient, method: str, path: str, body: Any) -> None:
    run_id, lease = claimed(api)
    reply = api.request(method, path.format(run=run_id), json=body, headers=lease)
    assert reply.status_code == 403, reply.text
    assert "lease" in reply.json()["detail"] and "needs a token" in reply.json()["detail"]
    run = api.get(f"/api/runs/{run_id}", headers=bearer("viewer")).json()
    assert (run["name"], run["status"]) == ("mine", "running")


def test_a_stale_lease_is_refused_once_the_run_is_claimed_again(api: TestClient) -> None:
    run_id, lease = claimed(api)
    # The reaper's re-queue, as the database sees it, then another worker's claim: a new lease.
    app = api.app
    with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        from backend.models import Run

        run = session.get(Run, run_id)
        assert run is not None
        run.status, run.lease_hash = "queued", None
        session.commit()
    assert status_of(api.get(f"/api/runs/{run_id}", headers=lease)) == 401, "no current lease: the old one is stale"
    reply = api.post(f"/api/runs/{run_id}/claim", json={"worker": "gpu2"}, headers=bearer("gpu1"))
    new_lease = {LEASE_HEADER: reply.json()["lease"]}
    stale = api.post(f"/api/runs/{run_id}/status", json={"status": "failed"}, headers=lease)
    assert stale.status_code == 401 and "current lease" in stale.json()["detail"]
    assert status_of(api.get(f"/api/runs/{run_id}/artifacts/x.bin", headers=lease)) == 401
    assert status_of(api.get(f"/api/runs/{run_id}", headers=new_lease)) == 200
    assert api.get(f"/api/runs/{run_id}", headers=bearer("viewer")).json()["status"] == "running"


def test_a_token_still_decides_when_one_is_sent(api: TestClient) -> None:
    run_id, lease = claimed(api)
    reply = api.post(f"/api/runs/{run_id}/cancel", headers={**lease, **bearer("viewer")})
    assert reply.status_code == 403 and "viewer has role read" in reply.json()["detail"]


def test_users_may_launch_command_runs_and_readers_may_not(api: TestClient) -> None:
    assert status_of(api.post("/api/runs", json=COMMAND_RUN, headers=bearer("viewer"))) == 403
    assert status_of(api.post("/api/runs", json=COMMAND_RUN, headers=bearer("gpu1"))) == 403
    assert status_of(api.post("/api/runs", json=COMMAND_RUN, headers=bearer("alice"))) == 201
    sweep = {"base": COMMAND_RUN, "grid": {"lr": [1, 2]}}
    assert status_of(api.post("/api/sweeps", json=sweep, headers=bearer("viewer"))) == 403
    assert status_of(api.post("/api/sweeps", json=sweep, headers=bearer("alice"))) == 201


def test_run_is_not_a_role_a_token_can_have(tmp_path: Path) -> None:
    from backend.auth import TokensFileError, parse_tokens_file

    path = tmp_path / "tokens"
    path.write_text("sneaky run sneaky-secret-0123456789\n")
    with pytest.raises(TokensFileError, match="unknown role 'run'"):
        parse_tokens_file(path)
