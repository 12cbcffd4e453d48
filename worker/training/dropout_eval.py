"""fig3: a dropout MLP evaluated with the report's three inference schemes.

(i) no dropout, weights that read dropped units scaled by (1 - p);
(ii) N random dropout masks, average the pre-softmax outputs, then argmax;
(iii) N random dropout masks, average the softmax probabilities, then argmax.

PyTorch's ``nn.Dropout`` is *inverted* dropout: in training it keeps each unit with probability
1 - p and multiplies the kept ones by 1 / (1 - p). A net PyTorch trained with weights W is thus the
textbook dropout net (no rescaling in training) with weights W / (1 - p) on every layer that reads
dropped units. Scheme (i) multiplies those textbook weights by (1 - p), which gives back W: eval
mode *is* scheme (i). ``scale_scheme_model`` builds it explicitly anyway, so a test can check the
equivalence. Schemes (ii) and (iii) run the masks in train-mode dropout (same 1 / (1 - p) scale).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn

from worker.training.callbacks import Point
from worker.training.data import Data, Split
from worker.training.device import Accel

CHUNK = 2000


def scale_scheme_model(model: nn.Sequential) -> nn.Sequential:
    """Scheme (i): a copy of ``model`` without dropout, the weights after each dropout scaled by (1 - p)."""
    layers: list[nn.Module] = []
    keep = 1.0
    for layer in copy.deepcopy(model):
        if isinstance(layer, nn.Dropout):
            keep = 1.0 - layer.p
            continue
        if isinstance(layer, nn.Linear) and keep != 1.0:
            with torch.no_grad():
                textbook = layer.weight / keep  # the weights a non-inverted dropout net would have learned
                layer.weight.copy_(textbook * keep)
            keep = 1.0
        layers.append(layer)
    return nn.Sequential(*layers).eval()


def mask_sums(
    model: nn.Sequential, x: torch.Tensor, *, max_n: int, accel: Accel
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """For n = 1 .. max_n: (n, sum of logits, sum of softmax probabilities) over n random dropout masks.

    The layers before the first dropout do not depend on the mask, so they run once. Leaves the
    dropout layers in train mode: call ``model.eval()`` when done.
    """
    layers = list(model)
    first = next(i for i, layer in enumerate(layers) if isinstance(layer, nn.Dropout))
    prefix = nn.Sequential(*layers[:first]).eval()
    suffix = nn.Sequential(*layers[first:]).train()  # dropout on; an MLP has no BatchNorm to disturb
    with torch.no_grad():
        hidden = prefix(Data.inputs(x))
        logit_sum = prob_sum = torch.zeros((), device=x.device)
    for n in range(1, max_n + 1):
        with torch.no_grad(), accel.autocast():
            logits = suffix(hidden).float()
            logit_sum = logit_sum + logits
            prob_sum = prob_sum + logits.softmax(1)
        yield n, logit_sum, prob_sum


@torch.no_grad()
def mask_scheme_correct(
    model: nn.Sequential, split: Split, *, ns: list[int], seed: int, accel: Accel
) -> tuple[torch.Tensor, torch.Tensor]:
    """Correct counts of schemes (ii) and (iii) for each N in ``ns`` (sorted), from the first N of max(ns) masks."""
    torch.manual_seed(seed)
    rank = {n: i for i, n in enumerate(ns)}
    pre_correct = torch.zeros(len(ns), device=split.y.device)
    post_correct = torch.zeros(len(ns), device=split.y.device)
    for start in range(0, len(split), CHUNK):
        y = split.y[start : start + CHUNK]
        for n, logit_sum, prob_sum in mask_sums(model, split.x[start : start + CHUNK], max_n=ns[-1], accel=accel):
            if n in rank:
                pre_correct[rank[n]] += (logit_sum.argmax(1) == y).sum()
                post_correct[rank[n]] += (prob_sum.argmax(1) == y).sum()
    model.eval()
    return pre_correct, post_correct


@torch.no_grad()
def dropout_scheme_points(model: nn.Sequential, split: Split, *, ns: list[int], seed: int, accel: Accel) -> list[Point]:
    """Accuracy of the three schemes as fig3's points, step = N (scheme (i) repeated at each N)."""
    ns = sorted(set(ns))
    scaled = scale_scheme_model(model)
    scale_correct = torch.zeros((), device=split.y.device)
    for start in range(0, len(split), CHUNK):
        logits = scaled(Data.inputs(split.x[start : start + CHUNK]))
        scale_correct += (logits.argmax(1) == split.y[start : start + CHUNK]).sum()
    pre, post = mask_scheme_correct(model, split, ns=ns, seed=seed, accel=accel)
    n = max(len(split), 1)
    scale_acc, *rest = (torch.cat([scale_correct.view(1), pre, post]) / n).tolist()
    pre_acc, post_acc = rest[: len(ns)], rest[len(ns) :]
    points = [Point("dropout_scale_acc", k, scale_acc) for k in ns]
    points += [Point("dropout_presoftmax_acc", k, v) for k, v in zip(ns, pre_acc, strict=True)]
    points += [Point("dropout_postsoftmax_acc", k, v) for k, v in zip(ns, post_acc, strict=True)]
    return points
