"""Property-based fuzzing of the whole REST API from its own OpenAPI document: no input may cause a 5xx."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from backend.db import migrate
from backend.main import create_app
from tests.conftest import LOCAL_URL
from trainboard.settings import Settings

FUZZ_EXAMPLES = 30


def test_no_input_causes_a_server_error(tmp_path: Path) -> None:
    home = tmp_path / "fuzz"
    # schemathesis calls the app as "testserver": the host name this test's API is told it is reached by.
    settings_ = Settings(home=home, data_dir=home / "data", allowed_hosts="testserver")
    migrate(settings_.sqlalchemy_url)
    # A live stream of an unfinished run never ends by design: it is tested on its own, not fuzzed.
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings_)).exclude(path_regex=r"/events$")
    tried: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            tried.append(case.method)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
            )

        check()
    print(f"fuzz cases tried: {len(tried)}")
    assert len(tried) > 100


def test_path_traversal_in_artifact_names_is_refused(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings_ = Settings(home=tmp_path, data_dir=tmp_path / "data")
    migrate(settings_.sqlalchemy_url)
    (tmp_path / "secret.txt").write_text("secret")
    with TestClient(create_app(settings_), base_url=LOCAL_URL) as client:
        run_id = client.post("/api/runs", json={"external": True}).json()["id"]
        for name in ("..%2F..%2Fsecret.txt", "%2E%2E", ".hidden", "a%2Fb"):
            assert client.get(f"/api/runs/{run_id}/artifacts/{name}").status_code == 404
            assert client.put(f"/api/runs/{run_id}/artifacts/{name}", content=b"x").status_code in (404, 422)
        assert not (tmp_path / "artifacts" / str(run_id)).exists()


def test_oversized_body_is_413(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings_ = Settings(home=tmp_path, data_dir=tmp_path / "data", max_body_bytes=4096)
    migrate(settings_.sqlalchemy_url)
    with TestClient(create_app(settings_), base_url=LOCAL_URL) as client:
        response = client.post(
            "/api/runs", content=b"{" + b" " * 10_000 + b"}", headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        # A chunked body has no Content-Length to check: its bytes are counted as they arrive.
        chunks = iter([b'{"name": "', b"x" * 3000, b"y" * 3000, b'"}'])
        response = client.post("/api/runs", content=chunks, headers={"content-type": "application/json"})
        assert response.status_code == 413, response.text
        assert client.get("/api/runs").json() == [], "nothing was stored"
        assert (
            client.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"}).status_code
            == 422
        )
