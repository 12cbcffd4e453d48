"""The test set's predictions at the best epoch as ``test_predictions.bin`` (format: ``trainboard/predictions_file``),
so the dashboard can show which test examples one run gets wrong and another right."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainboard import predictions_file
from worker.training.data import Data
from worker.training.device import Accel
from worker.training.evaluate import predict

Artifact = tuple[str, bytes, str]  # name, data, media type


def test_predictions(model: nn.Module, data: Data, *, accel: Accel) -> Artifact:
    """Predicted class and confidence of every test example, and thumbnails of the ones the model gets wrong."""
    probs = predict(model, data.test, accel=accel).softmax(1)
    confidence, pred = probs.max(1) if len(data.test) else (torch.empty(0), torch.empty(0, dtype=torch.long))
    labels = data.test.y
    wrong = (pred != labels).nonzero().flatten()[: predictions_file.MAX_THUMBNAILS]
    pixels = _thumbnails(Data.pixels(data.test.x[wrong]))
    blob = predictions_file.encode(
        dataset=data.name,
        classes=list(data.classes),
        labels=labels.tolist(),
        preds=pred.tolist(),
        confidences=confidence.tolist(),
        shape=(int(pixels.shape[1]), int(pixels.shape[2]), int(pixels.shape[3])),
        thumbnails={int(i): bytes(p.numpy().tobytes()) for i, p in zip(wrong.tolist(), pixels, strict=True)},
    )
    return predictions_file.NAME, blob, "application/octet-stream"


def _thumbnails(x: torch.Tensor) -> torch.Tensor:
    """uint8 N x C x H x W images as N x H x W x C on the CPU, shrunk (by area) to fit ``THUMBNAIL_MAX_PX``."""
    n, c, h, w = x.shape
    limit = predictions_file.THUMBNAIL_MAX_PX
    if max(h, w) > limit:
        size = (max(1, h * limit // max(h, w)), max(1, w * limit // max(h, w)))
        if n == 0:
            return torch.empty(0, *size, c, dtype=torch.uint8)
        x = F.interpolate(x.float(), size=size, mode="area").round().clamp(0, 255).to(torch.uint8)
    return x.cpu().permute(0, 2, 3, 1).contiguous()
