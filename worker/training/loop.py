"""One training epoch over device tensors, with per-step tracking that never syncs per step.

``train_loss`` and ``train_acc`` are running averages over the epoch's minibatches, measured in
train mode while the weights change (dropout active), as Keras reports them: they cost nothing
extra. The report instead re-evaluated the training set after each epoch; ``run.train`` does that
once, in eval mode, for the best epoch's weights, to compute the summary's generalization gap.

Per step the loop keeps references to the loss, the logits and the per-parameter squared norms
(device tensors) and hands them to the callback every ``FLUSH_EVERY`` steps with a single host
sync, which is also when it polls ``callback.should_abort()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from trainboard.spec import OptimizerSpec
from worker.training.callbacks import Callback, Point
from worker.training.data import Data, Split, augment
from worker.training.device import Accel
from worker.training.errors import Aborted
from worker.training.sgd_in_backward import SGDInBackward

FLUSH_EVERY = 50


def make_optimizer(spec: OptimizerSpec, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """sgd, momentum (SGD, momentum 0.9) or adam (torch defaults but ``lr = spec.lr``).

    ``weight_decay`` is passed to the optimizer, i.e. an L2 penalty added to the gradient. Adam uses
    the spec's learning rate too; the report's "Adam defaults" is ``optimizer.lr = 0.001``.
    The fused implementations update all parameters in one kernel, which on the CPU is several times
    faster for Adam and momentum than the default per-parameter loop (docs/BENCHMARKS.md, §7), while
    plain SGD's single ``add_`` per parameter is already as fast, so it keeps the default.
    """
    params = list(params)
    fused = params[0].device.type == "cuda" or spec.name != "sgd"
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay, fused=fused)
    momentum = 0.9 if spec.name == "momentum" else 0.0
    return torch.optim.SGD(params, lr=spec.lr, momentum=momentum, weight_decay=spec.weight_decay, fused=fused)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Minibatches per epoch; a last batch of a single example is dropped (BatchNorm cannot train on it)."""
    steps = -(-n // batch_size)
    return steps - 1 if n > 1 and n % batch_size == 1 else steps


@dataclass
class BestEpoch:
    """The best validation accuracy so far, and early stopping after ``patience`` epochs without a better one."""

    patience: int | None
    epoch: int = 0
    valid_acc: float = float("-inf")
    since: int = 0

    def update(self, epoch: int, valid_acc: float) -> bool:
        """Record an epoch; True when it is the new best."""
        if valid_acc > self.valid_acc:
            self.epoch, self.valid_acc, self.since = epoch, valid_acc, 0
            return True
        self.since += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.since >= self.patience


class StepTracker:
    """Per-step ``loss`` and ``param_norm`` (L2 norm of all parameters after the update).

    Also accumulates the epoch's running train loss and accuracy.
    """

    def __init__(self, params: Iterable[torch.Tensor], callback: Callback, *, every: int = FLUSH_EVERY) -> None:
        self.params = [p.detach() for p in params]
        self.callback = callback
        self.every = every
        # On the CPU a BLAS dot per parameter is about twice as fast as _foreach_norm; on CUDA
        # _foreach_norm is one fused kernel.
        self._vectors = _flat_views(self.params) if self.params[0].device.type == "cpu" else None
        self._steps: list[int] = []
        self._sizes: list[int] = []
        self._losses: list[torch.Tensor] = []
        self._norms: list[list[torch.Tensor]] = []
        self._logits: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._loss_sum = self._correct = 0.0
        self._seen = 0

    @property
    def squared_norms(self) -> bool:
        """True when it sums per-parameter squared norms (CPU), as ``SGDInBackward`` hands them over."""
        return self._vectors is not None

    def step(
        self,
        step: int,
        loss: torch.Tensor,
        logits: torch.Tensor,
        labels: torch.Tensor,
        squared_norms: list[torch.Tensor] | None = None,
    ) -> None:
        """Record one update (no host sync); flushes every ``every`` steps.

        ``squared_norms``: the parameters' squared norms when the update already took them (SGD in backward).
        """
        assert squared_norms is None or self.squared_norms
        self._norms.append(self.param_norms() if squared_norms is None else squared_norms)
        self._steps.append(step)
        self._sizes.append(labels.shape[0])
        self._losses.append(loss.detach())
        self._logits.append(logits.detach())
        self._labels.append(labels)
        if len(self._steps) >= self.every:
            self.flush()

    def param_norms(self) -> list[torch.Tensor]:
        """Per-parameter squared norms (CPU dot products) or norms (CUDA _foreach_norm), not yet reduced."""
        if self._vectors is not None:
            return [torch.dot(v, v) for v in self._vectors]
        return list(torch._foreach_norm(self.params))

    def flush(self) -> None:
        """Send pending points to the callback (one host sync), then poll ``should_abort``."""
        if self._steps:
            # one stack for every step's per-parameter tensors (a kernel launch each counts on a GPU)
            per_param = torch.stack([t for norms in self._norms for t in norms]).view(len(self._norms), -1).float()
            dots = self._vectors is not None  # squared norms from dot products, else norms
            norms = per_param.sum(1).sqrt() if dots else torch.linalg.vector_norm(per_param, dim=1)
            correct = (torch.cat(self._logits).argmax(1) == torch.cat(self._labels)).sum().float()
            values = torch.cat([torch.stack(self._losses).float(), norms, correct.view(1)]).tolist()
            k = len(self._steps)
            self._loss_sum += sum(v * n for v, n in zip(values[:k], self._sizes, strict=True))
            self._correct += values[-1]
            self._seen += sum(self._sizes)
            points = [Point("loss", s, v) for s, v in zip(self._steps, values[:k], strict=True)]
            points += [Point("param_norm", s, v) for s, v in zip(self._steps, values[k : 2 * k], strict=True)]
            for pending in (self._steps, self._sizes, self._losses, self._norms, self._logits, self._labels):
                pending.clear()
            self.callback.on_points(points)
        if self.callback.should_abort():
            raise Aborted("the run was asked to stop")

    def end_epoch(self) -> tuple[float, float]:
        """Flush, then return the epoch's running (train_loss, train_acc) and start a new epoch."""
        self.flush()
        seen = max(self._seen, 1)
        result = (self._loss_sum / seen, self._correct / seen)
        self._loss_sum = self._correct = 0.0
        self._seen = 0
        return result


def _flat_views(params: list[torch.Tensor]) -> list[torch.Tensor] | None:
    """1-D views of every parameter (order inside one does not matter for a norm), or None if one has none."""
    views = []
    for p in params:
        if p.is_contiguous():
            views.append(p.view(-1))
        elif p.dim() == 4 and p.is_contiguous(memory_format=torch.channels_last):
            views.append(p.permute(0, 2, 3, 1).view(-1))
        else:
            return None
    return views


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    *,
    batch_size: int,
    seed: int,
    first_step: int,
    augmentation: bool,
    accel: Accel,
    tracker: StepTracker,
) -> tuple[float, float]:
    """One pass over ``split`` in a seeded random order; returns the running (train_loss, train_acc).

    ``seed`` fixes this epoch's order, dropout masks and augmentation, so a run resumed from a
    checkpoint repeats the epochs an uninterrupted run would have done (exactly, on the CPU).
    Plain SGD on the CPU steps inside ``backward()`` (``SGDInBackward``: the same arithmetic, in cache).
    """
    model.train()
    torch.manual_seed(seed)
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    order = order[: steps_per_epoch(len(split), batch_size) * batch_size].to(accel.device, non_blocking=True)
    crops = torch.Generator(device=accel.device).manual_seed(seed) if augmentation else None
    in_backward = SGDInBackward(optimizer) if tracker.squared_norms and SGDInBackward.applies(optimizer) else None
    with in_backward or contextlib.nullcontext():
        for i, idx in enumerate(order.split(batch_size)):
            x = split.x.index_select(0, idx)
            if crops is not None:
                x = augment(x, generator=crops)
            x, y = accel.prepare_input(Data.inputs(x)), split.y.index_select(0, idx)
            with accel.autocast():
                logits = model(x)
                loss = F.cross_entropy(logits, y)
            if in_backward is not None:
                loss.backward()  # updates the weights
                tracker.step(first_step + i, loss, logits, y, in_backward.take_squared_norms())
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            tracker.step(first_step + i, loss, logits, y)
    return tracker.end_epoch()
