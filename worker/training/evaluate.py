"""Evaluation in eval mode without gradients: logits over a split, then its loss and accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from worker.training.data import Data, Split
from worker.training.device import Accel


@torch.no_grad()
def predict(model: nn.Module, split: Split, *, accel: Accel) -> torch.Tensor:
    """float32 logits (N x classes) for every image of ``split``, on its device."""
    was_training = model.training
    model.eval()
    chunks = []
    for start in range(0, len(split), accel.eval_batch):
        x = accel.prepare_input(Data.inputs(split.x[start : start + accel.eval_batch]))
        with accel.autocast():
            chunks.append(model(x).float())
    model.train(was_training)
    if not chunks:
        return torch.empty(0, 0, device=split.y.device)
    return torch.cat(chunks)


def evaluate(model: nn.Module, split: Split, *, accel: Accel) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (a fraction in [0, 1]) of ``model`` on ``split``."""
    if len(split) == 0:
        return float("nan"), float("nan")
    logits = predict(model, split, accel=accel)
    loss = F.cross_entropy(logits, split.y)
    acc = (logits.argmax(1) == split.y).float().mean()
    loss_value, acc_value = torch.stack([loss, acc]).tolist()
    return loss_value, acc_value
