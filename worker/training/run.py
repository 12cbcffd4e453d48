"""``train(spec, ...)``: one whole run, usable without any server (the worker and the CLI call it).

Data and model on the device, then per epoch: train, evaluate valid and test, report, track the
best validation epoch, checkpoint; early stopping after ``early_stopping.patience`` epochs without
a better validation accuracy. At the end the best epoch's weights are restored, the training set
is evaluated once with them (for the generalization gap), and fig3's dropout schemes, the
fig6/fig7 artifacts and the test set's predictions (``test_predictions.bin``) are produced from them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainboard.spec import RunSpec
from worker.training import checkpoint, visualize
from worker.training.callbacks import Callback, Point, TrainStart
from worker.training.data import Data, load_data
from worker.training.device import Accel, resolve_accel, tune_malloc
from worker.training.dropout_eval import dropout_scheme_points
from worker.training.errors import Aborted
from worker.training.evaluate import evaluate
from worker.training.loop import BestEpoch, StepTracker, make_optimizer, steps_per_epoch, train_epoch
from worker.training.models import MLP, build_model, count_params
from worker.training.predictions import test_predictions

logger = logging.getLogger(__name__)

EPOCH_KEYS = ("train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc")


@dataclass
class Summary:
    """A finished run. Accuracies are fractions in [0, 1].

    ``gen_gap`` is train accuracy minus test accuracy at the best validation epoch, with the train
    accuracy measured in eval mode on the whole training set using that epoch's weights (as the
    report did), not the running average shown per epoch. ``duration_s`` adds up resumed parts.
    """

    n_params: int
    best_epoch: int
    best_valid_acc: float
    test_acc_at_best: float
    gen_gap: float
    duration_s: float
    finished_early: bool  # before its last epoch: patience ran out, or the sweep's rule asked it to finish

    def to_dict(self) -> dict[str, Any]:
        """The summary as stored with the run. ``finished_early`` keeps its stored key, ``stopped_early``: runs
        already stored and the API's replies carry it."""
        fields = asdict(self)
        fields["stopped_early"] = fields.pop("finished_early")
        return fields


@dataclass
class RunState:
    """What a checkpoint carries from one epoch to the next."""

    best: BestEpoch
    epoch: int = 0
    step: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {key: [] for key in EPOCH_KEYS})
    best_model: dict[str, torch.Tensor] = field(default_factory=dict)
    elapsed_s: float = 0.0


def train(
    spec: RunSpec,
    *,
    data_dir: Path,
    cache_dir: Path,
    run_dir: Path,
    callback: Callback | None = None,
    resume: bool = False,
) -> Summary:
    """Run ``spec`` to its last epoch or early stop; raises ``DataError`` for bad data, ``Aborted`` on cancel."""
    started = time.perf_counter()
    callback = callback or Callback()
    tune_malloc()
    accel = resolve_accel(spec.device, conv=spec.model.arch != "mlp")
    data = load_data(spec, data_dir=data_dir, cache_dir=cache_dir).to(accel.device)
    torch.manual_seed(spec.seed)
    model = accel.prepare_model(build_model(spec, in_shape=data.shape, n_classes=len(data.classes)))
    optimizer = make_optimizer(spec.optimizer, model.parameters())
    state = RunState(best=BestEpoch(spec.early_stopping.patience))
    if resume and checkpoint.last_path(run_dir).exists():
        state = _restore(spec, run_dir, model, optimizer, accel)
        # Send the restored epochs' metrics again: storage is idempotent on (key, step), so points the dead
        # worker delivered stay as they were, and any it had not delivered are filled in.
        callback.on_points(
            [Point(key, e + 1, value) for key, values in state.history.items() for e, value in enumerate(values)]
        )
    prior_s = state.elapsed_s
    steps = steps_per_epoch(len(data.train), spec.batch_size)
    n_params = count_params(model)
    callback.on_train_start(TrainStart(n_params, spec.epochs, steps, state.epoch + 1, str(accel.device)))
    if state.epoch:
        callback.on_summary(_summary_so_far(n_params, state))
    tracker = StepTracker(model.parameters(), callback)
    while state.epoch < spec.epochs and not state.best.exhausted and not callback.should_finish():
        if callback.should_abort():
            raise Aborted("the run was asked to stop")
        epoch = state.epoch + 1
        train_loss, train_acc = train_epoch(
            model, optimizer, data.train, batch_size=spec.batch_size, seed=spec.seed * 100_003 + epoch,
            first_step=state.step + 1, augmentation=spec.augment, accel=accel, tracker=tracker,
        )  # fmt: skip
        valid_loss, valid_acc = evaluate(model, data.valid, accel=accel)
        test_loss, test_acc = evaluate(model, data.test, accel=accel)
        metrics = dict(
            zip(EPOCH_KEYS, (train_loss, train_acc, valid_loss, valid_acc, test_loss, test_acc), strict=True)
        )
        callback.on_points([Point(key, epoch, value) for key, value in metrics.items()])
        callback.on_epoch_end(epoch, metrics)
        logger.info("epoch %d/%d %s", epoch, spec.epochs, " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        state.epoch, state.step, state.elapsed_s = epoch, state.step + steps, prior_s + time.perf_counter() - started
        for key, value in metrics.items():
            state.history[key].append(value)
        improved = state.best.update(epoch, valid_acc)
        if improved:
            state.best_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
        _save(spec, run_dir, model, optimizer, state, metrics if improved else None)
        callback.on_summary(_summary_so_far(n_params, state))
    if callback.should_abort():
        raise Aborted("the run was asked to stop")
    model.load_state_dict(state.best_model)
    _, train_acc_at_best = evaluate(model, data.train, accel=accel)
    test_acc_at_best = state.history["test_acc"][state.best.epoch - 1]
    if spec.dropout_schemes and isinstance(model, MLP):
        callback.on_points(
            dropout_scheme_points(model, data.test, ns=spec.dropout_schemes, seed=spec.seed, accel=accel)
        )
    for name, blob, media_type in _artifacts(spec, model, data, accel):
        callback.on_artifact(name, blob, media_type)
    return Summary(
        n_params=n_params,
        best_epoch=state.best.epoch,
        best_valid_acc=state.best.valid_acc,
        test_acc_at_best=test_acc_at_best,
        gen_gap=train_acc_at_best - test_acc_at_best,
        duration_s=prior_s + time.perf_counter() - started,
        finished_early=state.epoch < spec.epochs,
    )


def _summary_so_far(n_params: int, state: RunState) -> dict[str, Any]:
    """The summary between epochs: the best epoch so far and its accuracies (``gen_gap`` needs the final
    evaluation of the best weights on the training set, so it comes with the run's end)."""
    summary: dict[str, Any] = {"n_params": n_params, "duration_s": state.elapsed_s}
    if state.best.epoch:
        summary["best_epoch"] = state.best.epoch
        summary["best_valid_acc"] = state.best.valid_acc
        summary["test_acc_at_best"] = state.history["test_acc"][state.best.epoch - 1]
    return summary


def _artifacts(spec: RunSpec, model: nn.Module, data: Data, accel: Accel) -> list[visualize.Artifact]:
    artifacts = [visualize.first_layer_filters(model, in_shape=data.shape)]
    maximized = visualize.activation_maximization(model, data=data, seed=spec.seed)
    if maximized is not None:
        artifacts.append(maximized)
    if spec.n_misclassified:
        artifacts += visualize.misclassified(model, data, n=spec.n_misclassified, accel=accel)
    artifacts.append(test_predictions(model, data, accel=accel))
    return artifacts


def _save(
    spec: RunSpec,
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: RunState,
    best_metrics: dict[str, float] | None,
) -> None:
    config = spec.model_dump(mode="json")
    if best_metrics is not None:
        best = {"model": state.best_model, "config": config, "epoch": state.epoch, "metrics": best_metrics}
        checkpoint.save(checkpoint.best_path(run_dir), best)
    checkpoint.save(
        checkpoint.last_path(run_dir),
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "config": config,
            "epoch": state.epoch,
            "step": state.step,
            "history": state.history,
            "best": {"epoch": state.best.epoch, "valid_acc": state.best.valid_acc, "since": state.best.since},
            "best_model": state.best_model,
            "elapsed_s": state.elapsed_s,
        },
    )


def _restore(
    spec: RunSpec, run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, accel: Accel
) -> RunState:
    path = checkpoint.last_path(run_dir)
    saved = checkpoint.load(path, device=accel.device)
    checkpoint.check_resumable(saved["config"], spec.model_dump(mode="json"), path=path)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    logger.info("resuming %s after epoch %d", path, saved["epoch"])
    return RunState(
        best=BestEpoch(spec.early_stopping.patience, **saved["best"]),
        epoch=saved["epoch"],
        step=saved["step"],
        history=saved["history"],
        best_model=saved["best_model"],
        elapsed_s=saved["elapsed_s"],
    )
