"""No cross-site writes and no DNS rebinding, in the default no-token mode too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from trainboard.settings import Settings


def test_unknown_host_names_are_refused(client: TestClient) -> None:
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "attacker.localhost.example"):
        response = client.get("/api/runs", headers={"Host": host})
        assert response.status_code == 400, host
        assert "TRAINBOARD_ALLOWED_HOSTS" in response.json()["detail"]
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400, "the dashboard too"
    for host in ("127.0.0.1:8000", "localhost:8000", "localhost", "[::1]:8000", "127.0.0.2"):
        assert client.get("/api/runs", headers={"Host": host}).status_code == 200, host


@pytest.fixture
def lab(settings: Settings) -> Iterator[TestClient]:
    lab_settings = settings.model_copy(update={"allowed_hosts": "trainboard.lab.example, gpu-box"})
    with TestClient(create_app(lab_settings), base_url="http://trainboard.lab.example") as test_client:
        yield test_client


def test_allowed_hosts_extend_loopback(lab: TestClient) -> None:
    assert lab.get("/api/runs").status_code == 200
    assert lab.get("/api/runs", headers={"Host": "GPU-BOX:8000"}).status_code == 200
    assert lab.get("/api/runs", headers={"Host": "other.lab.example"}).status_code == 400


def test_cross_site_writes_are_refused_and_change_nothing(client: TestClient) -> None:
    run_id = client.post("/api/runs", json={"epochs": 1}).json()["id"]
    foreign = [
        {"Origin": "https://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},  # another local app, another port: another origin
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"},
    ]
    for headers in foreign:
        response = client.post(f"/api/runs/{run_id}/cancel", headers=headers)
        assert response.status_code == 403, headers
        assert response.json()["detail"].startswith("cross-site request refused"), response.json()
        form = client.post(
            "/api/presets/fig1", params={"scale": "quick"}, content=b"a=1", headers={**headers, "content-type": "x"}
        )
        assert form.status_code == 403
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "queued"
    assert client.get("/api/sweeps").json() == []

    same = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    assert client.post(f"/api/runs/{run_id}/cancel", headers=same).json()["status"] == "cancelled"
    # Reads stay open to any page's <img>/fetch (the browser keeps their answers from a foreign page).
    assert client.get("/api/runs", headers={"Origin": "https://evil.example"}).status_code == 200


def test_scripts_without_browser_headers_still_write(client: TestClient) -> None:
    assert client.post("/api/runs", json={"epochs": 1}).status_code == 201
