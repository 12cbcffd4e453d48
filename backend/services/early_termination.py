"""Early termination of weak runs in a sweep: the median stopping rule, asynchronous successive halving, and
Optuna's median pruner (``optuna-median``: ``services/sweep_pruner.py``).

Decided in the API when a run reports a new `valid_acc` (``optuna-median``: a new point of the sweep's `metric`),
so it works the same for any number of workers.
A run finished early is not a failure: its worker finishes the current epoch, keeps its best epoch so far, and the
run ends `succeeded` with the reason in `Run.finish_requested` (the API's `stop_requested`, and its summary's
`stop_reason`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Run, Sweep
from backend.services.metrics.reads import points_of_runs
from backend.services.sweep_pruner import prune_reason
from backend.services.sweep_scores import objective

METRIC = "valid_acc"


class EarlyTermination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["median", "asha", "optuna-median"] = "median"
    min_epochs: int = Field(default=2, ge=1, le=1000, description="never stop a run before this epoch")
    reduction_factor: int = Field(default=3, ge=2, le=10, description="asha: keep the top 1/factor at each rung")
    min_peers: int = Field(
        default=2, ge=1, le=100, description="median: judge only against this many runs (optuna-median: finished runs)"
    )


def _best_by_epoch(session: Session, run_ids: list[int], epoch: int) -> dict[int, float]:
    """Each run's best valid accuracy up to ``epoch``, for the runs that have reached it."""
    rows = session.execute(points_of_runs(run_ids, METRIC, upto=epoch))
    best: dict[int, float] = {}
    reached: set[int] = set()
    for run_id, step, value in rows:
        if value is not None:
            best[run_id] = max(best.get(run_id, float("-inf")), value)
        if step == epoch:
            reached.add(run_id)
    return {run_id: acc for run_id, acc in best.items() if run_id in reached}


def decide(rule: EarlyTermination, *, run_id: int, epoch: int, scores: dict[int, float]) -> str | None:
    """Why run ``run_id`` should stop at ``epoch`` given every run's best-so-far score there, or None."""
    if epoch < rule.min_epochs or run_id not in scores:
        return None
    others = [score for other, score in scores.items() if other != run_id]
    mine = scores[run_id]
    if rule.method == "median":
        if len(others) >= rule.min_peers and mine < statistics.median(others):
            return f"median rule at epoch {epoch}: {mine:.4f} < median {statistics.median(others):.4f}"
        return None
    rung, eta = rule.min_epochs, rule.reduction_factor
    while rung < epoch:
        rung *= eta
    if rung != epoch or len(scores) < eta:
        return None
    ranked = sorted(scores.values(), reverse=True)
    keep = max(1, len(ranked) // eta)
    if mine < ranked[keep - 1]:
        return f"successive halving at epoch {epoch}: not in the top {keep} of {len(ranked)}"
    return None


def check(session: Session, *, run: Run, new_steps: Mapping[str, list[int]]) -> str | None:
    """After new points of ``run`` (their steps, per key): the reason to stop it, if its sweep's rule says so."""
    if run.sweep_id is None or run.finish_requested or not new_steps:
        return None
    sweep = session.get(Sweep, run.sweep_id)
    spec = (sweep.spec if sweep else {}).get("early_termination")
    if not sweep or not spec:
        return None
    rule = EarlyTermination.model_validate(spec)
    metric = objective(sweep)[0] if rule.method == "optuna-median" else METRIC
    steps = new_steps.get(metric)
    if not steps:
        return None
    if rule.method == "optuna-median":
        return prune_reason(
            session, sweep=sweep, run=run, step=max(steps), min_epochs=rule.min_epochs, min_peers=rule.min_peers
        )
    run_ids = list(session.scalars(select(Run.id).where(Run.sweep_id == run.sweep_id)))
    epoch = max(steps)
    return decide(rule, run_id=run.id, epoch=epoch, scores=_best_by_epoch(session, run_ids, epoch))
