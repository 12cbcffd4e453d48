"""Who gets in: blank and short tokens, every route behind the token, roles from a tokens file, the token in a
URL only for the live stream, and the check made before a byte of the body is read."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from backend.auth import TokensFileError, parse_tokens_file
from backend.main import create_app
from tests.conftest import LOCAL_URL
from trainboard.settings import Settings

TOKEN = "s3cret-token-0123456789"
SECRETS = {
    "root": ("admin", "admin-secret-0123456789"),
    "alice": ("user", "alice-secret-0123456789"),
    "viewer": ("read", "viewer-secret-0123456789"),
    "gpu1": ("worker", "gpu1-secret-0123456789ab"),
}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"token": SecretStr(TOKEN)})), base_url=LOCAL_URL) as c:
        yield c


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    lines = ["# name role secret", *(f"{name} {role} {secret}" for name, (role, secret) in SECRETS.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def with_roles(settings: Settings, tokens_file: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"tokens_file": tokens_file})), base_url=LOCAL_URL) as c:
        yield c


def _api_calls(app: object) -> list[tuple[str, str]]:
    """(method, path) of every /api operation the app documents, with its path parameters filled in."""
    paths = app.openapi()["paths"]  # type: ignore[attr-defined]
    calls = []
    for path, operations in paths.items():
        filled = re.sub(r"\{(\w+)\}", lambda m: "fig1" if m.group(1) == "preset_id" else "1", path)
        calls += [(method.upper(), filled) for method in operations if path.startswith("/api")]
    return calls


def test_blank_or_spaced_token_is_no_token() -> None:
    assert Settings(token="").token is None
    assert Settings(token="   ").token is None


def test_short_token_is_refused_with_how_to_make_one() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(token="short-token")
    assert "at least 16" in str(raised.value)
    assert "secrets.token_urlsafe" in str(raised.value)
    assert "short-token" not in str(raised.value), "the refused token is not echoed"


def test_open_bind_with_a_blank_token_is_refused(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TRAINBOARD_TOKEN": " "}
    result = subprocess.run(
        [sys.executable, "-m", "trainboard.cli", "api", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TRAINBOARD_TOKEN" in result.stderr


def test_every_api_route_but_health_needs_the_token(secured: TestClient) -> None:
    calls = _api_calls(secured.app)
    assert len(calls) >= 15, calls
    for method, path in calls:
        response = secured.request(method, path)
        if path == "/api/health":
            assert response.status_code == 200
        else:
            assert response.status_code == 401, f"{method} {path} -> {response.status_code}"
            assert response.headers["www-authenticate"] == "Bearer"
    assert secured.get("/api/runs", headers=bearer(TOKEN)).status_code == 200


def test_an_empty_or_wrong_token_never_matches(secured: TestClient) -> None:
    for header in ("Bearer ", "Bearer  ", "Bearer wrong-token-0123456789", "Basic " + TOKEN, TOKEN):
        assert secured.get("/api/runs", headers={"Authorization": header}).status_code == 401, header
    run_id = secured.post("/api/runs", json={"external": True}, headers=bearer(TOKEN)).json()["id"]
    assert secured.get(f"/api/runs/{run_id}/events", params={"token": ""}).status_code == 401


def test_token_in_the_url_only_opens_the_live_stream(secured: TestClient) -> None:
    run_id = secured.post("/api/runs", json={"external": True}, headers=bearer(TOKEN)).json()["id"]
    secured.post(f"/api/runs/{run_id}/cancel", headers=bearer(TOKEN))
    assert secured.get(f"/api/runs/{run_id}/events").status_code == 401
    with secured.stream("GET", f"/api/runs/{run_id}/events", params={"token": TOKEN}) as response:
        assert response.status_code == 200
    for path in ("/api/runs", f"/api/runs/{run_id}", f"/api/runs/{run_id}/metrics", "/api/sweeps", "/api/me"):
        assert secured.get(path, params={"token": TOKEN}).status_code == 401, path
    assert secured.post("/api/runs", params={"token": TOKEN}, json={"external": True}).status_code == 401


def test_roles_decide_what_a_token_may_do(with_roles: TestClient) -> None:
    admin, alice, viewer, gpu = (bearer(SECRETS[n][1]) for n in ("root", "alice", "viewer", "gpu1"))
    assert with_roles.get("/api/me", headers=alice).json() == {"name": "alice", "role": "user", "auth": "tokens_file"}

    refused = with_roles.post("/api/runs", json={"epochs": 1}, headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "viewer has role read: launching runs needs role admin or user"
    assert with_roles.post("/api/runs", json={"epochs": 1}, headers=gpu).status_code == 403
    assert with_roles.post("/api/presets/fig1", params={"scale": "quick"}, headers=viewer).status_code == 403
    assert with_roles.post("/api/sweeps", json={}, headers=gpu).status_code == 403
    more = with_roles.post("/api/sweeps/1/runs", json={"n": 1}, headers=viewer)
    assert more.json()["detail"] == "viewer has role read: adding runs to sweeps needs role admin or user"
    assert with_roles.post("/api/sweeps/1/runs", json={"n": 1}, headers=alice).status_code == 404  # let through
    assert with_roles.get("/api/runs", headers=viewer).json() == [], "nothing was stored by the refused launches"

    run = with_roles.post("/api/runs", json={"epochs": 1}, headers=alice)
    assert run.status_code == 201
    run_id = run.json()["id"]
    assert with_roles.get(f"/api/runs/{run_id}", headers=viewer).status_code == 200
    assert with_roles.post(f"/api/runs/{run_id}/cancel", headers=viewer).status_code == 403
    assert with_roles.post(f"/api/runs/{run_id}/cancel", headers=gpu).status_code == 403
    assert with_roles.get(f"/api/runs/{run_id}", headers=viewer).json()["status"] == "queued"
    assert with_roles.post(f"/api/runs/{run_id}/claim", json={"worker": "w"}, headers=alice).status_code == 403
    assert with_roles.post(f"/api/runs/{run_id}/claim", json={"worker": "w"}, headers=viewer).status_code == 403
    # Refused for the role, not only for the missing lease (which would be a 403 too).
    posted = with_roles.post(f"/api/runs/{run_id}/metrics", json={"points": []}, headers=viewer)
    assert posted.status_code == 403 and "posting metrics needs role" in posted.json()["detail"]
    uploaded = with_roles.put(f"/api/runs/{run_id}/artifacts/a.png", content=b"x", headers=viewer)
    assert uploaded.status_code == 403 and "uploading artifacts needs role" in uploaded.json()["detail"]
    assert with_roles.post(f"/api/runs/{run_id}/cancel", headers=admin).json()["status"] == "cancelled"


def test_the_token_is_checked_before_the_body_is_read(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, token=SecretStr(TOKEN)))
    reads = 0

    async def receive() -> dict[str, object]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "PUT",
        "path": "/api/runs/1/artifacts/big.bin",
        "raw_path": b"/api/runs/1/artifacts/big.bin",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-length", str(2**30).encode())],
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5555),
        "http_version": "1.1",
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 401
    assert reads == 0, "not one byte of the body was read"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("bob user short", "at least 16"),
        ("bob owner bob-secret-0123456789", "unknown role 'owner'"),
        ("bob user", "expected 'name role secret'"),
    ],
)
def test_bad_tokens_file_lines_are_refused_naming_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# comment\nok user ok-secret-0123456789ab\n{line}\n")
    with pytest.raises(TokensFileError, match=f"line 3: .*{re.escape(message)}"):
        parse_tokens_file(path)
    path.write_text("a user same-secret-0123456789\nb read same-secret-0123456789\n")
    with pytest.raises(TokensFileError, match="line 2: 'b' has the same secret as 'a'"):
        parse_tokens_file(path)


def test_api_with_a_bad_tokens_file_does_not_start(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("alice admin tiny\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TRAINBOARD_TOKENS_FILE": str(tokens)}
    result = subprocess.run(
        [sys.executable, "-m", "trainboard.cli", "api", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "line 1" in result.stderr and "at least 16" in result.stderr
    assert "tiny" not in result.stderr


def test_only_a_worker_or_admin_token_registers_a_worker(with_roles: TestClient) -> None:
    admin, alice, viewer, gpu = (bearer(SECRETS[n][1]) for n in ("root", "alice", "viewer", "gpu1"))
    beat = {"host": "box", "devices": ["cpu", "cuda"], "gpus": ["H200"], "queues": ["any", "cuda"], "session": "s"}
    refused = with_roles.put("/api/workers/gpu-1", json=beat, headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "viewer has role read: registering workers needs role admin or worker"
    assert with_roles.put("/api/workers/gpu-1", json=beat, headers=alice).status_code == 403
    assert with_roles.get("/api/workers", headers=viewer).json()["workers"] == [], "nothing was stored"
    assert with_roles.put("/api/workers/gpu-1", json=beat, headers=gpu).status_code == 200
    assert with_roles.put("/api/workers/cpu-1", json={**beat, "queues": ["any"]}, headers=admin).status_code == 200
    listed = with_roles.get("/api/workers", headers=viewer).json()
    assert [(w["name"], w["online"]) for w in listed["workers"]] == [("cpu-1", True), ("gpu-1", True)]
