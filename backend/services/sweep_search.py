"""How a sweep launches its runs: all at once, or ``parallel`` at a time, the next ones as runs end.

A grid launches its combinations in order and a random sweep its draws (the same seed gives the same draws, so a
larger ``n`` only adds draws at the end); a tpe sweep asks TPE (``sweep_tpe.py``) for each next run, given the
scores of the runs so far. ``launch_next`` is called whenever a run of the sweep ends (its status report, a
cancel, the reaper): it is idempotent, and takes the sweep's row lock, so two runs ending at once never launch
more than ``parallel`` together.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from celery import Celery
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Run, Sweep, utcnow
from backend.schemas import CommandRunIn
from backend.services import queue, sweep_tpe
from backend.services import runs as run_service
from backend.services.sweeps import (
    MAX_SWEEP_RUNS,
    Range,
    SweepError,
    SweepIn,
    check_sizes,
    combinations,
    expand,
    varied_values,
)
from trainboard.spec import RunSpec

logger = logging.getLogger(__name__)
OPEN = ("queued", "running")


def create_sweep(
    session: Session, *, sweep: SweepIn, max_run_gb: float, preset: str | None = None
) -> tuple[Sweep, list[Run]]:
    """Check every run of the sweep (a tpe sweep: random draws from its space), store it and its first runs, and
    commit (the caller enqueues them afterwards)."""
    for key, values in sweep.grid.items():
        problem = sweep_tpe.range_problem(values) if isinstance(values, Range) and sweep.method == "tpe" else None
        if problem:
            raise SweepError(["body", "grid", key], f"{key}: {problem}")
    check_sizes(expand(sweep), max_run_gb=max_run_gb)
    row = Sweep(name=sweep.name, spec=sweep.model_dump(mode="json"), preset=preset)
    session.add(row)
    session.flush()
    return row, _launch(session, row, runs=[], max_run_gb=max_run_gb)


def launch_next(session: Session, celery: Celery, *, sweep_id: int | None, max_run_gb: float) -> list[Run]:
    """Launch the sweep's next runs, as many as its budget and ``parallel`` allow now; returns them, enqueued.
    ``max_run_gb``: a tpe proposal over a worker's memory cap is not launched (``TRAINBOARD_MAX_RUN_GB``)."""
    if sweep_id is None:
        return []
    row = session.get(Sweep, sweep_id, with_for_update=True, populate_existing=True)
    if row is None or row.stopped_at is not None:
        session.rollback()
        return []
    try:
        SweepIn.model_validate(row.spec)
    except ValidationError:  # a spec an older version stored, which this one no longer reads: launch nothing
        logger.warning("sweep %s: its stored spec is not a valid sweep now; no further runs launched", sweep_id)
        session.rollback()
        return []
    runs = _runs(session, sweep_id)
    try:
        launched = _launch(session, row, runs=runs, max_run_gb=max_run_gb)
    except SweepError as exc:  # a run this version's rules refuse, of a sweep an older version stored
        logger.warning("sweep %s: its next run is not valid (%s); it launches no more", sweep_id, exc.msg)
        session.rollback()
        return []
    if not launched:
        session.rollback()  # the sweep's lock goes
    queue.enqueue(celery, launched)
    return launched


def _launch(session: Session, row: Sweep, *, runs: list[Run], max_run_gb: float) -> list[Run]:
    """Store the runs that may start now (their first status event too) and commit; none: nothing is written."""
    spec = SweepIn.model_validate(row.spec)
    open_runs = sum(1 for run in runs if run.status in OPEN)
    slots = MAX_SWEEP_RUNS if spec.parallel is None else spec.parallel - open_runs
    if slots <= 0:
        return []
    if spec.method == "tpe":
        count = min(slots, (spec.n or 0) - len(runs))
        if count <= 0:
            return []
        accept = partial(_valid, spec, max_run_gb)
        combos = sweep_tpe.ask(session, sweep=row, spec=spec, runs=runs, count=count, accept=accept)
        if len(combos) < count:
            logger.warning(
                "sweep %s: TPE's last %d proposals broke the base's rules or the memory cap",
                row.id,
                sweep_tpe.MAX_REFUSED,
            )
    else:
        combos = pending(spec, row, runs)[:slots]
    if not combos:
        return []
    new_runs = [_new_run(spec, row.id) for _, spec in expand(spec, combos)]
    return run_service.add_runs(session, new_runs)


def _valid(spec: SweepIn, max_run_gb: float, combo: dict[str, Any]) -> bool:
    """Whether the run with these varied values passes the base's rules and fits a worker's memory cap (a tpe
    proposal; the space was checked by random draws only)."""
    try:
        check_sizes(expand(spec, [combo]), max_run_gb=max_run_gb)
    except SweepError:
        return False
    return True


def _new_run(spec: RunSpec | CommandRunIn, sweep_id: int) -> Run:
    if isinstance(spec, CommandRunIn):
        return run_service.new_command_run(spec, sweep_id=sweep_id)
    return run_service.new_run(spec=spec, sweep_id=sweep_id)


def pending(spec: SweepIn, row: Sweep, runs: list[Run]) -> list[dict[str, Any]]:
    """A grid's or random sweep's combinations that have no run yet, in order."""
    combos = combinations(spec)
    if spec.method == "random":
        return combos[len(runs) :]
    launched = {_key(varied_values(row, run)) for run in runs}
    return [combo for combo in combos if _key(combo) not in launched]


def _key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


def stop(session: Session, *, sweep: Sweep) -> None:
    """The sweep launches nothing more (it was cancelled); adding runs starts it again."""
    sweep.stopped_at = sweep.stopped_at or utcnow()
    session.commit()


class MoreRuns(BaseModel):
    """What ``POST /sweeps/{id}/runs`` adds: ``n`` more runs to a random or tpe sweep's budget, or more values of
    a grid's keys (a grid or a tpe sweep; appended to each key's list)."""

    model_config = ConfigDict(extra="forbid")
    n: int | None = Field(default=None, ge=1, le=MAX_SWEEP_RUNS, description="random and tpe: runs to add")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="more values of the sweep's grid keys")

    @model_validator(mode="after")
    def _something(self) -> MoreRuns:
        if self.n is None and not self.grid:
            raise ValueError("give n (more runs) or grid (more values of the sweep's keys)")
        return self


def add_more(session: Session, celery: Celery, *, sweep: Sweep, more: MoreRuns, max_run_gb: float) -> list[Run]:
    """Grow the sweep (SweepError naming the field when it cannot), start it again if it was stopped, and
    launch what may start now."""
    spec = SweepIn.model_validate(sweep.spec)
    data = spec.model_dump(mode="json")
    if more.n is not None:
        if spec.method == "grid":
            raise SweepError(["body", "n"], "a grid sweep grows by values (grid), not by n")
        data["n"] = (spec.n or 0) + more.n
    for key, values in more.grid.items():
        if spec.method == "random":
            raise SweepError(["body", "grid"], "a random sweep grows by n (its draws would change with its lists)")
        if not isinstance(spec.grid.get(key), list):
            raise SweepError(["body", "grid", key], f"{key}: not one of the sweep's keys with a list of values")
        known = {_key({"v": v}) for v in data["grid"][key]}
        data["grid"][key] = [*data["grid"][key], *(v for v in values if _key({"v": v}) not in known)]
    try:
        grown = SweepIn.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise SweepError(["body", *map(str, error["loc"])], str(error["msg"]).removeprefix("Value error, ")) from exc
    if grown.method == "grid":
        check_sizes(expand(grown, pending(grown, sweep, _runs(session, sweep.id))), max_run_gb=max_run_gb)
    else:
        check_sizes(expand(grown), max_run_gb=max_run_gb)
    sweep.spec = grown.model_dump(mode="json")
    sweep.stopped_at = None
    session.commit()
    return launch_next(session, celery, sweep_id=sweep.id, max_run_gb=max_run_gb)


def _runs(session: Session, sweep_id: int) -> list[Run]:
    return list(session.scalars(select(Run).where(Run.sweep_id == sweep_id)))
