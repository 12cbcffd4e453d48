"""Playing the worker or the script in tests: runs whose writes carry their attempt's lease."""

from __future__ import annotations

from typing import Any, Protocol

LEASE_HEADER = "X-Trainboard-Lease"


class _Http(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...


def lease_headers(run: dict[str, Any]) -> dict[str, str]:
    """The header that lets a write through for the attempt whose claim (or creation) reply is ``run``."""
    return {LEASE_HEADER: run["lease"]}


def external_run(http: _Http, prefix: str = "/api", **spec: Any) -> tuple[int, dict[str, str]]:
    """Create an external run; returns its id and the headers its writes need."""
    reply = http.post(f"{prefix}/runs", json={**spec, "external": True})
    assert reply.status_code == 201, reply.text
    run = reply.json()
    return int(run["id"]), lease_headers(run)


def claim(http: _Http, run_id: int, worker: str = "worker@test", prefix: str = "/api") -> dict[str, str]:
    """Claim a queued run as ``worker``; returns the headers this attempt's writes need."""
    reply = http.post(f"{prefix}/runs/{run_id}/claim", json={"worker": worker})
    assert reply.status_code == 200, reply.text
    return lease_headers(reply.json())
