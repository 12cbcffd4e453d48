"""Hand-made ``test_predictions.bin`` files, uploaded to built-in runs as their worker would."""

from __future__ import annotations

from typing import Any, Protocol

from tests.utils.leases import claim
from trainboard import predictions_file

DIGITS = [str(d) for d in range(10)]
OCTET = {"Content-Type": "application/octet-stream"}


class _Http(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...

    def put(self, url: str, **kwargs: Any) -> Any: ...


def pixels_of(index: int, shape: tuple[int, int, int] = (4, 4, 1)) -> bytes:
    """A thumbnail whose every pixel is the example's index (mod 256): tests can tell which one they got."""
    return bytes([index % 256]) * (shape[0] * shape[1] * shape[2])


def predictions_blob(labels: list[int], preds: list[int], confidences: list[float], *, dataset: str = "mnist") -> bytes:
    """A predictions file with a thumbnail of every example ``preds`` gets wrong, as the worker stores them."""
    wrong = {i: pixels_of(i) for i, (p, y) in enumerate(zip(preds, labels, strict=True)) if p != y}
    return predictions_file.encode(
        dataset=dataset, classes=DIGITS, labels=labels, preds=preds, confidences=confidences,
        shape=(4, 4, 1), thumbnails=wrong,
    )  # fmt: skip


def finished_run_with(http: _Http, blob: bytes, *, name: str, prefix: str = "/api", **spec: Any) -> int:
    """A built-in run, claimed, given ``blob`` as its predictions and finished, as its worker would; its id."""
    body = {"name": name, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [8]}, "epochs": 1, "device": "cpu"}
    reply = http.post(f"{prefix}/runs", json={**body, **spec})
    assert reply.status_code == 201, reply.text
    run_id = int(reply.json()["id"])
    lease = claim(http, run_id, prefix=prefix)
    stored = http.put(
        f"{prefix}/runs/{run_id}/artifacts/{predictions_file.NAME}", content=blob, headers={**lease, **OCTET}
    )
    assert stored.status_code == 201, stored.text
    done = http.post(f"{prefix}/runs/{run_id}/status", json={"status": "succeeded"}, headers=lease)
    assert done.status_code == 200, done.text
    return run_id
