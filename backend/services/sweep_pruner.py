"""Optuna's median pruner as a sweep's early-termination rule (``{"method": "optuna-median"}``).

Unlike the built-in median rule, which judges a run against every run that reached the same step, Optuna's
MedianPruner judges it against the sweep's *finished* runs: a run stops when its best value of the sweep's
``metric`` so far is worse (for the sweep's ``goal``) than the median of the finished runs' values at that step,
once ``min_peers`` runs have finished and from step ``min_epochs`` on. The study is rebuilt from the runs' logged
curves each time, as TPE's is (``sweep_tpe.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Run, Sweep
from backend.services.metrics.reads import points_of_runs
from backend.services.optuna_import import load_optuna
from backend.services.sweep_scores import objective, scores


def _curves(session: Session, *, run_ids: list[int], metric: str, upto: int) -> dict[int, dict[int, float]]:
    rows = session.execute(points_of_runs(run_ids, metric, upto=upto))
    curves: dict[int, dict[int, float]] = {run_id: {} for run_id in run_ids}
    for run_id, step, value in rows:
        if value is not None:
            curves[run_id][int(step)] = float(value)
    return curves


def prune_reason(session: Session, *, sweep: Sweep, run: Run, step: int, min_epochs: int, min_peers: int) -> str | None:
    """Why Optuna's MedianPruner stops ``run`` at ``step``, or None."""
    optuna = load_optuna()
    from optuna.trial import TrialState, create_trial

    metric, goal = objective(sweep)
    finished = list(
        session.scalars(select(Run).where(Run.sweep_id == sweep.id, Run.status == "succeeded", Run.id != run.id))
    )
    scored = scores(session, sweep=sweep, runs=finished)
    curves = _curves(session, run_ids=[run.id, *scored], metric=metric, upto=step)
    study: Any = optuna.create_study(direction=goal)
    for run_id, value in scored.items():
        study.add_trial(create_trial(value=value, intermediate_values=curves[run_id]))
    mine = {s: v for s, v in curves[run.id].items() if s <= step}
    if not mine:
        return None
    pruner = optuna.pruners.MedianPruner(n_startup_trials=min_peers, n_warmup_steps=min_epochs)
    if not pruner.prune(study, create_trial(state=TrialState.RUNNING, intermediate_values=mine)):
        return None
    best = max(mine.values()) if goal == "maximize" else min(mine.values())
    median = f"the median of {len(scored)} finished runs"
    return f"optuna median pruner at step {step}: {metric} {best:.4g} is worse than {median}"
