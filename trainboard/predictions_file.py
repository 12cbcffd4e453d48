"""``test_predictions.bin``: a built-in run's test-set predictions at its best epoch, torch- and numpy-free.

The worker writes it (``worker/training/predictions.py``), the API reads it to say which test examples two runs
disagree on (``backend/services/example_diff.py``). Layout: the magic line, a little-endian uint32 header length,
a JSON header (dataset, number of examples, class names, thumbnail shape, the indices whose thumbnails follow), then
one zlib stream: uint16 true labels, uint16 predicted classes, uint8 confidences (softmax probability of the
predicted class x 255), each one per test example (5 bytes), and the uint8 pixels (H x W x C) of the examples the
run got wrong, at most ``MAX_THUMBNAILS`` of them: any example one run gets right and another wrong is among the
thumbnails of one of the two.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from array import array
from dataclasses import dataclass

NAME = "test_predictions.bin"
MAGIC = b"TBPRED1\n"
MAX_THUMBNAILS = 2000
THUMBNAIL_MAX_PX = 32


class PredictionsFileError(ValueError):
    """The bytes are not a predictions file this version reads."""


@dataclass(frozen=True)
class Predictions:
    """Per test example: its label, the predicted class and its confidence; thumbnails of some examples."""

    dataset: str
    classes: list[str]
    labels: list[int]
    preds: list[int]
    confidences: list[float]
    shape: tuple[int, int, int]  # thumbnail height, width, channels
    thumbnails: dict[int, bytes]  # test index -> H x W x C uint8 pixels

    def __len__(self) -> int:
        return len(self.labels)


def encode(
    *,
    dataset: str,
    classes: list[str],
    labels: list[int],
    preds: list[int],
    confidences: list[float],
    shape: tuple[int, int, int],
    thumbnails: dict[int, bytes],
) -> bytes:
    """The file's bytes; ``thumbnails`` maps test indices to H x W x C uint8 pixels of ``shape``."""
    n = len(labels)
    if len(preds) != n or len(confidences) != n:
        raise ValueError("labels, preds and confidences must have one entry per test example")
    indices = sorted(thumbnails)[:MAX_THUMBNAILS]
    header = {"dataset": dataset, "n": n, "classes": classes, "shape": list(shape), "thumbnails": indices}
    body = b"".join(
        [
            _le(array("H", labels)),
            _le(array("H", preds)),
            bytes(min(255, max(0, round(c * 255))) for c in confidences),
            *(thumbnails[i] for i in indices),
        ]
    )
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + struct.pack("<I", len(header_bytes)) + header_bytes + zlib.compress(body, 6)


def decode(blob: bytes) -> Predictions:
    """Read a file written by ``encode``; ``PredictionsFileError`` when it is not one."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        raise PredictionsFileError("not a trainboard predictions file")
    start = len(MAGIC) + 4
    (header_len,) = struct.unpack("<I", blob[len(MAGIC) : start])
    try:
        header = json.loads(blob[start : start + header_len])
        body = zlib.decompress(blob[start + header_len :])
        n, shape, indices = int(header["n"]), tuple(int(s) for s in header["shape"]), list(header["thumbnails"])
    except (ValueError, KeyError, TypeError, zlib.error) as error:
        raise PredictionsFileError(f"a damaged predictions file: {error}") from None
    size = shape[0] * shape[1] * shape[2] if len(shape) == 3 else -1
    if size < 0 or len(body) != 5 * n + size * len(indices):
        raise PredictionsFileError("a damaged predictions file: its body does not match its header")
    pixels = memoryview(body)[5 * n :]
    return Predictions(
        dataset=str(header["dataset"]),
        classes=[str(c) for c in header["classes"]],
        labels=_from_le(body[: 2 * n]),
        preds=_from_le(body[2 * n : 4 * n]),
        confidences=[b / 255 for b in body[4 * n : 5 * n]],
        shape=(shape[0], shape[1], shape[2]),
        thumbnails={int(i): bytes(pixels[k * size : (k + 1) * size]) for k, i in enumerate(indices)},
    )


def _le(values: array[int]) -> bytes:
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def _from_le(raw: bytes) -> list[int]:
    values = array("H")
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()
