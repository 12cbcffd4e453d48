"""How much each hyperparameter matters for a metric across a set of runs, by Optuna's PED-ANOVA.

The runs become the trials of an in-memory Optuna study: every config key (dotted) whose value varies among them is
a parameter (numbers → ``FloatDistribution``, log-scaled when positive and spanning two decades; anything else →
``CategoricalDistribution`` of its values as text) and the metric is the trial's value. PED-ANOVA rather than
fANOVA: fANOVA fits scikit-learn's random forest, which would add scikit-learn and SciPy (~165 MB) to an API that
otherwise needs neither; PED-ANOVA needs only NumPy, already one of Optuna's own dependencies. It answers "which
parameters does it take to land in the best part of the runs" (the best ``target_quantile`` of them), so it needs
the goal: maximize or minimize.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import ROLLUP_WIDTHS, MetricRollup, Run

Goal = Literal["maximize", "minimize"]
MIN_RUNS = 3
MAX_RUNS = 1000
# Keys of a config that name or label a run rather than set it.
NOT_PARAMS = frozenset({"name", "tags", "external"})
UNSET = "(unset)"
MINIMIZED_WORDS = ("loss", "err", "duration", "n_params", "gap")

optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study and trial in the API's log


class ImportanceError(ValueError):
    """The runs cannot say anything about importance; the message says why, for the 422."""


@dataclass(frozen=True)
class Importance:
    metric: str
    goal: Goal
    runs: list[int]  # the runs that have the metric, in the order asked
    skipped: list[int]  # asked for, but without a value of the metric
    importance: dict[str, float]  # param -> importance, largest first; they sum to 1 (or are all 0)


def default_goal(metric: str) -> Goal:
    """Losses, errors, durations and sizes are minimized; anything else (accuracies, rewards) maximized."""
    name = metric.lower()
    return "minimize" if any(word in name for word in MINIMIZED_WORDS) else "maximize"


def param_importance(session: Session, *, run_ids: list[int], metric: str, goal: Goal) -> Importance:
    """The importance of each varied config key for ``metric`` (``summary.<key>``, or a logged key's best value)."""
    if not MIN_RUNS <= len(run_ids) <= MAX_RUNS:
        raise ImportanceError(f"runs: give between {MIN_RUNS} and {MAX_RUNS} run ids (got {len(run_ids)})")
    runs = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(run_ids)))}
    missing = [run_id for run_id in run_ids if run_id not in runs]
    if missing:
        raise LookupError(f"runs: no run {', '.join(map(str, missing))}")
    values = metric_values(session, runs=[runs[i] for i in run_ids], metric=metric, goal=goal)
    used = [run_id for run_id in run_ids if run_id in values]
    if len(used) < MIN_RUNS:
        raise ImportanceError(
            f"metric: only {len(used)} of the runs have a value of {metric!r}; importance needs at least {MIN_RUNS}"
        )
    configs = {run_id: flat_config(runs[run_id].config or runs[run_id].spec or {}) for run_id in used}
    distributions = varied_distributions(list(configs.values()))
    if not distributions:
        raise ImportanceError("runs: no config key varies among the runs that have the metric")
    study = optuna.create_study(direction=goal)
    for run_id in used:
        params = {key: param_value(configs[run_id].get(key, UNSET), dist) for key, dist in distributions.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=values[run_id]))
    skipped = [run_id for run_id in run_ids if run_id not in values]
    return Importance(metric=metric, goal=goal, runs=used, skipped=skipped, importance=evaluate(study, len(used)))


def evaluate(study: optuna.Study, n_runs: int) -> dict[str, float]:
    """PED-ANOVA over the best part of the runs: 10 % of many, but at least five of them (half of a few)."""
    quantile = min(0.5, max(0.1, 5 / n_runs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "importances will be equal" when every run ties: the zeros say it
        found = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator(target_quantile=quantile))
    return {key: float(value) for key, value in found.items()}


def metric_values(session: Session, *, runs: list[Run], metric: str, goal: Goal) -> dict[int, float]:
    """Each run's finite value of ``metric``: ``summary.<key>`` from its summary, else the best point it logged."""
    if metric.startswith("summary."):
        key = metric.removeprefix("summary.")
        found: dict[int, Any] = {run.id: (run.summary or {}).get(key) for run in runs}
        return {run_id: float(v) for run_id, v in found.items() if is_number(v)}
    best = func.max(MetricRollup.vmax) if goal == "maximize" else func.min(MetricRollup.vmin)
    rows = session.execute(
        select(MetricRollup.run_id, best)
        .where(
            MetricRollup.run_id.in_([run.id for run in runs]),
            MetricRollup.key == metric,
            MetricRollup.width == ROLLUP_WIDTHS[-1],
        )
        .group_by(MetricRollup.run_id)
    )
    return {run_id: float(value) for run_id, value in rows if value is not None}


def flat_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"lr": 0.1}}`` → ``{"optimizer.lr": 0.1}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if not prefix and key in NOT_PARAMS:
            continue
        if isinstance(value, Mapping) and value:
            out.update(flat_config(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def varied_distributions(configs: list[dict[str, Any]]) -> dict[str, BaseDistribution]:
    """One distribution per key whose value is not the same in every config."""
    out: dict[str, BaseDistribution] = {}
    for key in sorted({key for config in configs for key in config}):
        values = [config.get(key, UNSET) for config in configs]
        if all(is_number(v) for v in values):
            numbers = [float(v) for v in values]
            low, high = min(numbers), max(numbers)
            if low < high:
                out[key] = FloatDistribution(low, high, log=low > 0 and high / low >= 100)
            continue
        choices = sorted({as_text(v) for v in values})
        if len(choices) > 1:
            out[key] = CategoricalDistribution(choices)
    return out


def param_value(value: Any, dist: BaseDistribution) -> float | str:
    if isinstance(dist, FloatDistribution):
        return float(value)
    return as_text(value)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not an int too large for a float)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
