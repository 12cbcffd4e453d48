"""`GET /runs/{a}/diff/{b}`: the test examples B fixed and broke, from the predictions both runs stored; the
thumbnails; and a clear 4xx for pairs that cannot be compared. On SQLite and on the real Postgres."""

from __future__ import annotations

import io
import struct
import zlib

from fastapi.testclient import TestClient

from tests.utils.leases import external_run
from tests.utils.predictions import finished_run_with, pixels_of, predictions_blob

LABELS = [7, 2, 1, 0, 4, 1, 4, 9]
PREDS_A = [1, 2, 1, 6, 4, 1, 9, 9]  # wrong at 0, 3, 6
PREDS_B = [7, 2, 7, 0, 4, 1, 9, 4]  # wrong at 2, 6, 7
CONF_A = [0.93, 0.8, 0.7, 0.51, 0.9, 0.99, 0.6, 0.85]
CONF_B = [0.88, 0.9, 0.66, 0.95, 0.97, 0.99, 0.5, 0.7]


def _pair(client: TestClient) -> tuple[int, int]:
    a = finished_run_with(client, predictions_blob(LABELS, PREDS_A, CONF_A), name="no decay")
    b = finished_run_with(
        client, predictions_blob(LABELS, PREDS_B, CONF_B), name="decay", optimizer={"weight_decay": 1e-4}
    )
    return a, b


def test_fixed_and_broken_examples_with_both_predictions(client: TestClient) -> None:
    a, b = _pair(client)
    reply = client.get(f"/api/runs/{a}/diff/{b}")
    assert reply.status_code == 200, reply.text
    diff = reply.json()
    assert (diff["dataset"], diff["n"], diff["acc_a"], diff["acc_b"]) == ("mnist", 8, 5 / 8, 5 / 8)
    assert diff["fixed"]["count"] == 2 and diff["broken"]["count"] == 2
    # most confidently wrong first: A was surer of example 0 (0.93) than of example 3 (0.51)
    assert [e["index"] for e in diff["fixed"]["examples"]] == [0, 3]
    assert [e["index"] for e in diff["broken"]["examples"]] == [7, 2]
    first = diff["fixed"]["examples"][0]
    assert first == {
        "index": 0, "label": "7", "pred_a": "1", "conf_a": 0.93, "pred_b": "7", "conf_b": 0.88,
        "image": f"/api/runs/{a}/test-images/0.png",
    }  # fmt: skip
    assert diff["broken"]["examples"][0]["image"] == f"/api/runs/{b}/test-images/7.png"

    swapped = client.get(f"/api/runs/{b}/diff/{a}").json()
    assert [e["index"] for e in swapped["fixed"]["examples"]] == [7, 2]

    page = client.get(f"/api/runs/{a}/diff/{b}", params={"limit": 1, "offset": 1}).json()
    assert page["fixed"]["count"] == 2 and [e["index"] for e in page["fixed"]["examples"]] == [3]


def test_thumbnails_are_the_stored_pixels_as_png(client: TestClient) -> None:
    a, b = _pair(client)
    image = client.get(f"/api/runs/{a}/test-images/3.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert _png_pixels(image.content) == (4, 4, pixels_of(3))
    right = client.get(f"/api/runs/{a}/test-images/1.png")
    assert right.status_code == 404 and "no thumbnail of test example 1" in right.json()["detail"]


def test_pairs_that_cannot_be_compared_are_a_clear_4xx(client: TestClient) -> None:
    a, _ = _pair(client)
    other = finished_run_with(
        client,
        predictions_blob(LABELS, PREDS_B, CONF_B, dataset="fashion-mnist"),
        name="fashion",
        dataset="fashion-mnist",
    )
    reply = client.get(f"/api/runs/{a}/diff/{other}")
    assert reply.status_code == 422 and "fashion-mnist" in reply.json()["detail"] and "same test set" in reply.text

    queued = int(client.post("/api/runs", json={"name": "waiting", "dataset": "mnist", "epochs": 1}).json()["id"])
    reply = client.get(f"/api/runs/{a}/diff/{queued}")
    assert reply.status_code == 409 and f"run {queued} has no test predictions" in reply.json()["detail"]

    script, _ = external_run(client, name="script")
    reply = client.get(f"/api/runs/{script}/diff/{a}")
    assert reply.status_code == 422 and "only built-in runs" in reply.json()["detail"]

    assert client.get(f"/api/runs/{a}/diff/{a}").status_code == 422
    assert client.get(f"/api/runs/{a}/diff/999999").status_code == 404
    assert client.get(f"/api/runs/{a}/diff/0").status_code == 422


def _png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw gray pixels of a filter-0 8-bit gray PNG."""
    stream = io.BytesIO(png[8:])
    width = height = 0
    data = b""
    while chunk := stream.read(8):
        length, kind = struct.unpack(">I4s", chunk)
        body = stream.read(length)
        stream.read(4)
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            data += body
    rows = zlib.decompress(data)
    return width, height, b"".join(rows[y * (width + 1) + 1 : (y + 1) * (width + 1)] for y in range(height))
