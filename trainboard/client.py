"""A small HTTP client for the trainboard API, used by the CLI, the workers and users' scripts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from trainboard.settings import Settings

LEASE_HEADER = "X-Trainboard-Lease"

RETRIED_4XX = frozenset({408, 429})


class ApiError(RuntimeError):
    """The API answered with an error; the message carries its explanation."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"HTTP {status_code}: {format_detail(detail)}")
        self.status_code = status_code
        self.detail = detail

    @property
    def refused(self) -> bool:
        """A 4xx other than 408 (request timeout) and 429 (too many requests): the API will never take this
        request, so sending it again is pointless. 408 and 429 say "not now", like a 5xx, and are retried."""
        return self.status_code < 500 and self.status_code not in RETRIED_4XX


def format_detail(detail: Any) -> str:
    """Turn FastAPI's validation errors into "field: message" lines a person can act on."""
    if isinstance(detail, list):
        lines = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p not in ("body",))
                lines.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                lines.append(str(item))
        return "; ".join(lines)
    return str(detail)


class Client:
    """``Client(url, token)``; both default to TRAINBOARD_API_URL / TRAINBOARD_TOKEN from the environment.

    ``lease`` (from ``claim`` or an external run's creation) goes with every request in ``X-Trainboard-Lease``:
    a client that writes for one attempt of one run holds that run's lease.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = 30.0, *, lease: str | None = None
    ) -> None:
        settings = Settings() if url is None or token is None else None
        self.url = (url or (settings.resolved_api_url if settings else "")).rstrip("/")
        if token is None and settings is not None and settings.token is not None:
            token = settings.token.get_secret_value()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.lease = lease

    @property
    def lease(self) -> str | None:
        """The run's lease this client writes with, or None."""
        return self.http.headers.get(LEASE_HEADER)

    @lease.setter
    def lease(self, lease: str | None) -> None:
        if lease:
            self.http.headers[LEASE_HEADER] = lease
        else:
            self.http.headers.pop(LEASE_HEADER, None)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"/api{path}", **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, detail)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def create_run(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/runs", json=spec)  # type: ignore[no-any-return]

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self.request("GET", f"/runs/{run_id}")  # type: ignore[no-any-return]

    def list_runs(self, **params: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/runs", params=params)  # type: ignore[no-any-return]

    def cancel(self, run_id: int) -> dict[str, Any]:
        return self.request("POST", f"/runs/{run_id}/cancel")  # type: ignore[no-any-return]

    def claim(self, run_id: int, worker: str, *, gpus: list[str] | None = None) -> dict[str, Any]:
        """Take a queued run, holding ``gpus`` of the worker's: the reply is the run with this attempt's ``lease``
        (set ``client.lease`` to it)."""
        body: dict[str, Any] = {"worker": worker, "gpus": gpus or []}
        return self.request("POST", f"/runs/{run_id}/claim", json=body)  # type: ignore[no-any-return]

    def report_status(self, run_id: int, **fields: Any) -> dict[str, Any]:
        return self.request("POST", f"/runs/{run_id}/status", json=fields)  # type: ignore[no-any-return]

    def post_points(self, run_id: int, points: list[dict[str, Any]]) -> dict[str, Any]:
        return self.request("POST", f"/runs/{run_id}/metrics", json={"points": points})  # type: ignore[no-any-return]

    def post_encoded_points(self, run_id: int, body: bytes) -> dict[str, Any]:
        """``post_points`` for a body already encoded as JSON (``{"points": [...]}``), as the senders build it."""
        return self.request(  # type: ignore[no-any-return]
            "POST", f"/runs/{run_id}/metrics", content=body, headers={"Content-Type": "application/json"}
        )

    def metrics(self, run_id: int, keys: list[str] | None = None, **params: Any) -> dict[str, Any]:
        if keys:
            params["keys"] = ",".join(keys)
        return self.request("GET", f"/runs/{run_id}/metrics", params=params)  # type: ignore[no-any-return]

    def put_artifact(self, run_id: int, name: str, data: bytes) -> dict[str, Any]:
        return self.request(  # type: ignore[no-any-return]
            "PUT",
            f"/runs/{run_id}/artifacts/{name}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def put_artifact_file(self, run_id: int, name: str, path: Path) -> dict[str, Any]:
        """Upload the file at ``path`` as an artifact, streamed from disk in chunks (never read whole into
        memory), with its Content-Length, so a server that takes less answers 413 before it is sent."""
        with path.open("rb") as file:
            return self.request(  # type: ignore[no-any-return]
                "PUT",
                f"/runs/{run_id}/artifacts/{name}",
                content=file,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)},
            )

    def download_artifact(self, run_id: int, name: str, dest: Path) -> Path:
        """Save the artifact ``name`` to ``dest``, streamed (written to a temporary file beside it, then renamed:
        ``dest`` is either the whole file or untouched). ApiError 404 when the run has no such artifact."""
        partial = dest.with_name(f".{dest.name}.part")
        with self.http.stream("GET", f"/api/runs/{run_id}/artifacts/{name}") as response:
            if response.status_code >= 400:
                response.read()
                try:
                    detail = response.json().get("detail", response.text)
                except ValueError:
                    detail = response.text
                raise ApiError(response.status_code, detail)
            with partial.open("wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)
        partial.replace(dest)
        return dest

    def create_sweep(self, sweep: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/sweeps", json=sweep)  # type: ignore[no-any-return]

    def with_lease(self, lease: str | None, *, timeout: float = 30.0) -> Client:
        """Another client to the same API, with the same token and its own connection, that writes with ``lease``.

        A thread that sends in the background takes one of these, so it never shares an httpx client with its
        caller, and it alone holds the run's lease.
        """
        return Client(
            self.url,
            token=self._bearer_token() or "",
            timeout=timeout,
            lease=lease,
        )

    def _bearer_token(self) -> str | None:
        header = self.http.headers.get("authorization", "")
        return header[7:] if header.lower().startswith("bearer ") else None

    def events(self, run_id: int, last_event_id: int = 0) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
        """Follow a run's live stream: yields (id, event, data) until the run has finished."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id else {}
        with self.http.stream("GET", f"/api/runs/{run_id}/events", headers=headers, timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(response.status_code, response.json().get("detail"))
            event_id: int | None = None
            kind = "message"
            data: list[str] = []
            for line in response.iter_lines():
                if line == "":
                    if data:
                        yield event_id, kind, json.loads("\n".join(data))
                        if kind == "end":
                            return
                    kind, data = "message", []
                elif line.startswith("id:"):
                    event_id = int(line[3:].strip())
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
