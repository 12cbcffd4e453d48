"""Sweeps: a base spec (or a command run) and a grid, random samples or TPE trials over dotted keys, one run each.

Launching, and the runs a sweep launches later (``parallel``, TPE, added runs): ``services/sweep_search.py``."""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.finite import json_safe, non_finite_path
from backend.models import Run, Sweep
from backend.schemas import CommandRunIn
from backend.services.early_termination import EarlyTermination
from backend.services.sweep_scores import DEFAULT_METRIC, number, objective, scores
from trainboard.command import CommandError
from trainboard.estimate import RunTooLarge, check_fits
from trainboard.spec import RunSpec, set_dotted

MAX_SWEEP_RUNS = 256
MAX_VALUES_PER_KEY = 100


class Range(BaseModel):
    """A numeric range to sample from in a random sweep; ``log`` samples evenly in log space."""

    model_config = ConfigDict(extra="forbid")
    min: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.max < self.min:
            raise ValueError("max must be at least min")
        if self.log and self.min <= 0:
            raise ValueError("a log range needs min > 0")
        if not math.isfinite(self.max - self.min):
            raise ValueError("max - min must be a finite number (a draw from this range would be infinite)")
        return self


class SweepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="sweep", min_length=1, max_length=200)
    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any] | Range] = Field(default_factory=dict)
    method: Literal["grid", "random", "tpe"] = "grid"
    n: int | None = Field(default=None, ge=1, le=MAX_SWEEP_RUNS, description="random and tpe: the budget of runs")
    parallel: int | None = Field(default=None, ge=1, le=MAX_SWEEP_RUNS, description="at most this many at once")
    metric: str = Field(default=DEFAULT_METRIC, min_length=1, max_length=64, description="what tpe optimises")
    goal: Literal["maximize", "minimize"] = "maximize"
    seed: int = 0
    early_termination: EarlyTermination | None = None

    @field_validator("base")
    @classmethod
    def _finite_base(cls, base: dict[str, Any]) -> dict[str, Any]:
        where = non_finite_path(base)
        if where is not None:
            raise ValueError(f"{where}: NaN and infinities are not accepted, give a finite number")
        return base

    @field_validator("grid")
    @classmethod
    def _finite_grid(cls, grid: dict[str, list[Any] | Range]) -> dict[str, list[Any] | Range]:
        for key, values in grid.items():
            for index, value in enumerate(values if isinstance(values, list) else []):
                if non_finite_path(value) is not None:
                    raise ValueError(f"{key}: value {index + 1} is NaN or infinite; give finite numbers")
        return grid

    @model_validator(mode="after")
    def _consistent(self) -> SweepIn:
        for key, values in self.grid.items():
            if isinstance(values, list) and not 1 <= len(values) <= MAX_VALUES_PER_KEY:
                raise ValueError(f"grid.{key}: give between 1 and {MAX_VALUES_PER_KEY} values")
            if isinstance(values, Range) and self.method == "grid":
                raise ValueError(f"grid.{key}: a range needs method 'random' or 'tpe'")
        if self.method != "grid" and self.n is None:
            raise ValueError(f"n: a {self.method} sweep needs n, the number of runs")
        if self.method == "tpe" and not self.grid:
            raise ValueError("grid: a tpe sweep needs at least one key to search")
        return self


MAX_REPORTED_PROBLEMS = 20


class SweepError(ValueError):
    """A sweep that cannot be launched; ``details`` are its problems as a 422 lists them, each with the ``loc`` of
    the offending field (``loc`` and ``msg`` are the first's)."""

    def __init__(self, loc: list[str], msg: str, more: list[dict[str, Any]] | None = None) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg
        self.details = [{"loc": loc, "msg": msg, "type": "value_error"}, *(more or [])]


class _Problems:
    """Every distinct problem of a sweep's runs, each said once: "optimizer.lr = 'abc': Input should be ..."."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, ...], tuple[list[str], str]] = {}

    def add(
        self, varied: dict[str, Any], field: tuple[str, ...] | list[str], msg: str, *, say_combination: bool = False
    ) -> None:
        """One run's problem, each said once; ``say_combination`` (a run too big): once per field, for the first
        run, naming its grid values (the size depends on them all)."""
        msg = msg.removeprefix("Value error, ")
        dotted = ".".join(str(p) for p in field)
        key = next((k for k in varied if dotted == k or dotted.startswith(f"{k}.")), None)
        if key is not None:
            where, text = ["body", "grid", key], f"{key} = {_shown(varied[key])}: {msg}"
        elif field:
            where = ["body", "base", *map(str, field)]
            text = f"{_combination(varied)}: {msg}" if say_combination and varied else msg
        else:  # a rule across fields: say which combination breaks it
            where, text = ["body", "base"], f"{_combination(varied)}: {msg}" if varied else msg
        self.found.setdefault((*where, "" if say_combination else text), (where, text))

    def raise_any(self) -> None:
        if not self.found:
            return
        details = [{"loc": loc, "msg": msg, "type": "value_error"} for loc, msg in self.found.values()]
        if len(details) > MAX_REPORTED_PROBLEMS:
            hidden = len(details) - MAX_REPORTED_PROBLEMS + 1
            rest = {"loc": ["body", "grid"], "msg": f"and {hidden} more problems", "type": "value_error"}
            details = [*details[: MAX_REPORTED_PROBLEMS - 1], rest]
        (loc, msg), *_ = self.found.values()
        raise SweepError(loc, msg, details[1:])


def _shown(value: Any) -> str:
    """A grid value as a user typed it: 'abc' quoted, numbers and lists as JSON (never a Python repr)."""
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _combination(varied: dict[str, Any]) -> str:
    return "with " + ", ".join(f"{key} = {_shown(value)}" for key, value in varied.items())


def combinations(sweep: SweepIn) -> list[dict[str, Any]]:
    """The varied values of each run: the cartesian product, or ``n`` random draws (a tpe sweep's too: they check
    its base and its ranges before it starts; its runs' values come from TPE)."""
    keys = list(sweep.grid)
    if sweep.method == "grid":
        lists = [v for k in keys if isinstance(v := sweep.grid[k], list)]
        size = math.prod(len(v) for v in lists)
        if size > MAX_SWEEP_RUNS:
            raise SweepError(["body", "grid"], f"the grid makes {size} runs; a sweep may have at most {MAX_SWEEP_RUNS}")
        return [dict(zip(keys, values, strict=True)) for values in itertools.product(*lists)]
    rng = random.Random(sweep.seed)
    return [{k: _draw(rng, sweep.grid[k]) for k in keys} for _ in range(sweep.n or 0)]


def _draw(rng: random.Random, values: list[Any] | Range) -> Any:
    if isinstance(values, list):
        return rng.choice(values)
    if values.log:
        drawn = math.exp(rng.uniform(math.log(values.min), math.log(values.max)))
    else:
        drawn = rng.uniform(values.min, values.max)
    return round(drawn) if values.integer else drawn


def expand(
    sweep: SweepIn, combos: list[dict[str, Any]] | None = None
) -> list[tuple[dict[str, Any], RunSpec | CommandRunIn]]:
    """Validated runs, one per combination (``combos``, else all of the sweep's); invalid ones raise SweepError
    naming every problem and its field.

    A base with a ``command`` is a command run: the grid's keys are keys of its ``config`` (dotted), and each
    run's command is filled from its own config."""
    command = "command" in sweep.base
    expanded: list[tuple[dict[str, Any], RunSpec | CommandRunIn]] = []
    problems = _Problems()
    for varied in combinations(sweep) if combos is None else combos:
        data = copy.deepcopy(sweep.base)
        target = data.setdefault("config", {}) if command else data
        for key, value in varied.items():
            try:
                if not isinstance(target, dict):
                    raise ValueError(f"{key}: the base's config is not a mapping")
                set_dotted(target, key, value)
            except ValueError as exc:
                raise SweepError(["body", "grid", key], str(exc)) from exc
        if "name" not in sweep.base:
            data["name"] = f"{sweep.name} " + " ".join(f"{k.split('.')[-1]}={v}" for k, v in varied.items())
            data["name"] = data["name"].strip()[:200]
        run = _command_run(data, varied, problems) if command else _spec(data, varied, problems)
        if run is not None:
            expanded.append((varied, run))
    problems.raise_any()
    return expanded


def _spec(data: dict[str, Any], varied: dict[str, Any], problems: _Problems) -> RunSpec | None:
    try:
        return RunSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.add(varied, [str(p) for p in error["loc"]], error["msg"])
        return None


def _command_run(data: dict[str, Any], varied: dict[str, Any], problems: _Problems) -> CommandRunIn | None:
    """A command run of the sweep; a problem in its config names the grid key (``config.lr`` is ``lr``)."""
    try:
        run = CommandRunIn.model_validate(data)
        run.argv()
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            problems.add(varied, loc[1:] if loc[:1] == ["config"] and len(loc) > 1 else loc, error["msg"])
        return None
    except CommandError as exc:
        problems.add(varied, ["command", str(exc.index or 0)], str(exc))
        return None
    return run


def check_sizes(expanded: list[tuple[dict[str, Any], RunSpec | CommandRunIn]], *, max_run_gb: float) -> None:
    """Every run fits a worker's memory cap, or SweepError at the grid key (or base field) that makes one too big.

    All combinations are checked before anything is stored: one too big refuses the whole sweep.
    """
    problems = _Problems()
    for varied, spec in expanded:
        if isinstance(spec, CommandRunIn) or spec.external:
            continue  # a command's size is its own business, as a script's
        try:
            check_fits(spec, max_gb=max_run_gb)
        except RunTooLarge as exc:
            problems.add(varied, exc.field, exc.msg, say_combination=True)
    problems.raise_any()


def varied_values(sweep: Sweep, run: Run) -> dict[str, Any]:
    """The run's value of each grid key: in its spec, or a command run's launch config."""
    values: dict[str, Any] = {}
    source = run.spec.get("config") if run.command is not None else run.spec
    for key in sweep.spec.get("grid", {}):
        node: Any = source
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values[key] = node
    return values


def results(session: Session, *, sweep: Sweep) -> list[dict[str, Any]]:
    """One row per run, the best score first (``services/sweep_scores.py``); the best finished run is marked.

    Each row carries the run's ``score`` and its numeric ``summary`` (a script's own keys too), so a page can rank
    by any of them, and ``finished_at``, the order of the best-so-far curve."""
    runs = list(session.scalars(select(Run).where(Run.sweep_id == sweep.id)))
    scored = scores(session, sweep=sweep, runs=runs)
    _, goal = objective(sweep)
    rows = []
    for run in runs:
        summary = json_safe(run.summary or {})  # rows of older versions may hold NaN or infinity
        rows.append(
            {
                "run_id": run.id,
                "name": run.name,
                "status": run.status,
                "epoch": run.epoch,
                "values": varied_values(sweep, run),
                "score": scored.get(run.id),
                "summary": {k: v for k, v in summary.items() if score(v) is not None},
                "best_valid_acc": summary.get("best_valid_acc"),
                "best_epoch": summary.get("best_epoch"),
                "test_acc_at_best": summary.get("test_acc_at_best"),
                "gen_gap": summary.get("gen_gap"),
                "n_params": summary.get("n_params"),
                "duration_s": summary.get("duration_s"),
                "stop_reason": run.finish_requested,
                "finished_at": run.finished_at,
                "best": False,
            }
        )
    sign = -1.0 if goal == "maximize" else 1.0
    rows.sort(key=lambda row: (row["score"] is None, sign * (row["score"] or 0.0), int(row["run_id"])))
    if rows and rows[0]["score"] is not None:
        rows[0]["best"] = True
    return rows


def score(value: Any) -> float | None:
    """A summary's number as one that can win: finite, and a number (a script may send anything)."""
    return number(value)


def _best_by_score(session: Session, *, sweep: Sweep) -> tuple[float, int] | None:
    """The best run of a sweep by its metric's score (what results() marks), or None."""
    _, goal = objective(sweep)
    scored = scores(session, sweep=sweep, runs=list(session.scalars(select(Run).where(Run.sweep_id == sweep.id))))
    if not scored:
        return None
    sign = -1.0 if goal == "maximize" else 1.0
    run_id = min(scored, key=lambda r: (sign * scored[r], r))
    return scored[run_id], run_id


def sweep_page(
    session: Session, *, preset: str | None = None, limit: int = 50, offset: int = 0, archived: str = "false"
) -> tuple[list[dict[str, Any]], int]:
    """One page of sweeps, newest first, each with its run ids, status counts and best run; and the total.

    Two queries whatever the page holds: the sweeps, then one narrow row per run of theirs (id, status and the
    stored best accuracy), rather than every run's full results.
    """
    stmt = select(Sweep)
    if archived != "all":
        stmt = stmt.where(Sweep.archived.is_(archived == "true"))
    if preset == "any":
        stmt = stmt.where(Sweep.preset.is_not(None))
    elif preset:
        stmt = stmt.where(Sweep.preset == preset)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    sweeps = list(session.scalars(stmt.order_by(Sweep.id.desc()).limit(limit).offset(offset)))
    runs: dict[int, list[int]] = {s.id: [] for s in sweeps}
    counts: dict[int, dict[str, int]] = {s.id: {} for s in sweeps}
    best: dict[int, tuple[float, int]] = {}
    rows = session.execute(
        select(Run.sweep_id, Run.id, Run.status, Run.best_valid_acc)
        .where(Run.sweep_id.in_(list(runs)))
        .order_by(Run.id)
    )
    for sweep_id, run_id, status, stored in rows:
        if sweep_id not in runs:
            continue
        runs[sweep_id].append(run_id)
        counts[sweep_id][status] = counts[sweep_id].get(status, 0) + 1
        acc = score(stored)
        if acc is not None and (sweep_id not in best or acc > best[sweep_id][0]):
            best[sweep_id] = (acc, run_id)  # ties go to the lower id, as in results()
    for s in sweeps:
        if objective(s) != (DEFAULT_METRIC, "maximize"):  # a sweep of another metric: its runs' scores decide
            best.pop(s.id, None)
            best_by_score = _best_by_score(session, sweep=s)
            if best_by_score is not None:
                best[s.id] = best_by_score
    page = [
        {
            "id": s.id,
            "name": s.name,
            "preset": s.preset,
            "notes": s.notes or "",
            "archived": bool(s.archived),
            "spec": json_safe(s.spec),
            "created_at": s.created_at,
            "runs": runs[s.id],
            "status_counts": counts[s.id],
            "best_run_id": best[s.id][1] if s.id in best else None,
        }
        for s in sweeps
    ]
    return page, total
