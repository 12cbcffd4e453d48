"""TRAINBOARD_TOKEN: every /api route but /health needs the bearer token; SSE takes it as ?token=."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from trainboard.settings import Settings

TOKEN = "s3cret-token"


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    secured_settings = settings.model_copy(update={"token": __import__("pydantic").SecretStr(TOKEN)})
    with TestClient(create_app(secured_settings)) as client:
        yield client


def test_routes_need_the_token(secured: TestClient) -> None:
    assert secured.get("/api/health").status_code == 200
    assert secured.get("/api/runs").status_code == 401
    assert secured.post("/api/runs", json={}).status_code == 401
    assert secured.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = secured.post("/api/runs", json={"external": True}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 201


def test_event_stream_accepts_token_in_query(secured: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    run_id = secured.post("/api/runs", json={"external": True}, headers=auth).json()["id"]
    secured.post(f"/api/runs/{run_id}/status", json={"status": "succeeded"}, headers=auth)
    assert secured.get(f"/api/runs/{run_id}/events").status_code == 401
    with secured.stream("GET", f"/api/runs/{run_id}/events", params={"token": TOKEN}) as response:
        assert response.status_code == 200


def test_api_refuses_open_bind_without_token() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-m", "trainboard.cli", "api", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TRAINBOARD_TOKEN" in result.stderr
