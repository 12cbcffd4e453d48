"""TPE for sweeps (Optuna's TPESampler): a study rebuilt in memory from the sweep's runs, then asked for trials.

Rebuilding each time keeps the API stateless and the proposals reproducible: the runs, in launch order, are the
trials (finished with a score: COMPLETE with it; failed, cancelled or without a score: FAIL; queued or running:
RUNNING, which TPE's constant liar steers away from), and the sampler's seed is the sweep's seed mixed with the
number of trials so far.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from backend.models import Run, Sweep
from backend.services.optuna_import import load_optuna
from backend.services.sweep_scores import scores
from backend.services.sweeps import Range, SweepIn, varied_values

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

MAX_STARTUP_TRIALS = 10
MAX_REFUSED = 50  # proposals in a row refused (base rules, memory cap) before a launch gives up for now


def startup_trials(budget: int) -> int:
    """Random trials before TPE models anything: a fifth of the budget, between 2 and 10."""
    return max(2, min(MAX_STARTUP_TRIALS, budget // 5))


def distributions(sweep: SweepIn) -> dict[str, BaseDistribution]:
    """One Optuna distribution per grid key: a range as floats or integers (log or not), a list as its indices."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found: dict[str, BaseDistribution] = {}
    for key, values in sweep.grid.items():
        if isinstance(values, list):
            found[key] = CategoricalDistribution(tuple(range(len(values))))
        elif values.integer:
            found[key] = IntDistribution(math.ceil(values.min), math.floor(values.max), log=values.log)
        else:
            found[key] = FloatDistribution(values.min, values.max, log=values.log)
    return found


def range_problem(values: Range) -> str | None:
    """Why an integer range holds no integer (TPE could not draw one), or None."""
    if values.integer and math.ceil(values.min) > math.floor(values.max):
        return f"no integer lies between {values.min:g} and {values.max:g}"
    return None


def _params(sweep: SweepIn, values: dict[str, Any], dists: dict[str, BaseDistribution]) -> dict[str, Any] | None:
    """A run's values as the trial's parameters (list values as their index); None if one is not in the space."""
    params: dict[str, Any] = {}
    for key, choices in sweep.grid.items():
        value = values.get(key)
        if isinstance(choices, list):
            shown = [json.dumps(choice, sort_keys=True) for choice in choices]
            if json.dumps(value, sort_keys=True) not in shown:
                return None
            params[key] = shown.index(json.dumps(value, sort_keys=True))
        elif _within(value, dists[key]):
            params[key] = value
        else:
            return None
    return params


def _within(value: Any, dist: BaseDistribution) -> bool:
    from optuna.distributions import FloatDistribution, IntDistribution

    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(dist, IntDistribution) and value != int(value):
        return False
    assert isinstance(dist, FloatDistribution | IntDistribution)
    return dist.low <= value <= dist.high


def _trial(run: Run, params: dict[str, Any], dists: dict[str, BaseDistribution], score: float | None) -> FrozenTrial:
    from optuna.trial import TrialState, create_trial

    if run.status in ("queued", "running"):
        return create_trial(state=TrialState.RUNNING, params=params, distributions=dists)
    if run.status == "succeeded" and score is not None:
        return create_trial(value=score, params=params, distributions=dists)
    return create_trial(state=TrialState.FAIL, params=params, distributions=dists)


def study_of(session: Session, *, sweep: Sweep, spec: SweepIn, runs: list[Run]) -> optuna.Study:
    """The sweep's study: its runs as trials, in launch order."""
    optuna = load_optuna()
    seed = (spec.seed * 1_000_003 + len(runs)) % 2**32
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(spec.n or 0), constant_liar=True)
    study = optuna.create_study(direction=spec.goal, sampler=sampler)
    dists = distributions(spec)
    scored = scores(session, sweep=sweep, runs=runs)
    for run in sorted(runs, key=lambda r: r.id):
        params = _params(spec, varied_values(sweep, run), dists)
        if params is not None:  # a value outside the space (an older spec): TPE cannot learn from it
            study.add_trial(_trial(run, params, dists, scored.get(run.id)))
    return study


def ask(
    session: Session,
    *,
    sweep: Sweep,
    spec: SweepIn,
    runs: list[Run],
    count: int,
    accept: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> list[dict[str, Any]]:
    """The varied values of the next ``count`` runs, as TPE proposes them given the runs so far.

    A proposal ``accept`` refuses (a run the base's rules reject, or one over the memory cap) is left running in
    the study, which the constant liar counts among the worst (TPE ignores failed trials, so telling it "failed"
    would bring the same proposal back), and TPE is asked again; after ``MAX_REFUSED`` refusals in a row fewer
    come back.
    """
    study = study_of(session, sweep=sweep, spec=spec, runs=runs)
    dists = distributions(spec)
    combos: list[dict[str, Any]] = []
    refused = 0
    while len(combos) < count and refused < MAX_REFUSED:
        trial = study.ask(dists)
        combo = {
            key: choices[trial.params[key]] if isinstance(choices, list) else trial.params[key]
            for key, choices in spec.grid.items()
        }
        if accept(combo):
            combos.append(combo)
            refused = 0
        else:
            refused += 1
    return combos
