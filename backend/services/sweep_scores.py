"""A sweep run's score: what the sweep's ``metric`` says of it, the number TPE optimises and the results rank by.

The score is the run's ``summary[metric]`` when that is a finite number (a script's own verdict wins), else its
``summary["best_" + metric]`` (the built-in loop's ``best_valid_acc``), else the best point of its logged
``metric`` curve, the highest when the goal is ``maximize`` and the lowest when it is ``minimize``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import MetricPoint, MetricSeries, Run, Sweep

Goal = Literal["maximize", "minimize"]
DEFAULT_METRIC = "valid_acc"


def number(value: Any) -> float | None:
    """A value that can win: a finite number, never a bool (a script may send anything)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def objective(sweep: Sweep) -> tuple[str, Goal]:
    """The sweep's metric and goal (sweeps stored before they existed: valid accuracy, maximised)."""
    spec = sweep.spec or {}
    goal: Goal = "minimize" if spec.get("goal") == "minimize" else "maximize"
    return str(spec.get("metric") or DEFAULT_METRIC), goal


def summary_score(summary: dict[str, Any] | None, metric: str) -> float | None:
    """The score a run's summary gives, if any: ``summary[metric]``, else ``summary["best_" + metric]``."""
    summary = summary or {}
    direct = number(summary.get(metric))
    return direct if direct is not None else number(summary.get(f"best_{metric}"))


def curve_bests(session: Session, *, run_ids: list[int], metric: str, goal: Goal) -> dict[int, float]:
    """The best logged point of ``metric`` of each run, in one grouped query."""
    if not run_ids:
        return {}
    best = func.max(MetricPoint.value) if goal == "maximize" else func.min(MetricPoint.value)
    rows = session.execute(
        select(MetricSeries.run_id, best)
        .join(MetricSeries, MetricPoint.series_id == MetricSeries.id)
        .where(MetricSeries.run_id.in_(run_ids), MetricSeries.key == metric)
        .group_by(MetricSeries.run_id)
    )
    return {run_id: found for run_id, value in rows if (found := number(value)) is not None}


def scores(session: Session, *, sweep: Sweep, runs: list[Run]) -> dict[int, float]:
    """Each run's score (runs without one are left out)."""
    metric, goal = objective(sweep)
    found = {run.id: s for run in runs if (s := summary_score(run.summary, metric)) is not None}
    missing = [run.id for run in runs if run.id not in found]
    return found | curve_bests(session, run_ids=missing, metric=metric, goal=goal)


def better(goal: Goal, a: float, b: float) -> bool:
    """Whether score ``a`` beats ``b`` for ``goal``."""
    return a > b if goal == "maximize" else a < b
