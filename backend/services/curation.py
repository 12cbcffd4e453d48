"""Curation: what a user changes about runs and sweeps after the fact (name, tags, notes, archived), and deleting
them with everything they stored: metric points and rollups, events, log lines and artifact files.

Only a finished run can be deleted (a queued or running one is a 409 saying to cancel it first): its worker would
otherwise keep writing to a run that is gone. The space comes back: on Postgres plain DELETEs that autovacuum
reuses; on SQLite an incremental vacuum after each delete returns the freed pages to the disk (the file is in
``auto_vacuum=INCREMENTAL`` mode: backend/db.py).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.models import (
    MetricBlock,
    MetricPoint,
    MetricRollup,
    MetricSeries,
    Run,
    RunEvent,
    RunLog,
    RunLogLine,
    Sweep,
)
from backend.schemas import TERMINAL, RunPatch, SweepPatch
from backend.services.artifacts import run_dir
from backend.services.event_kinds import EditedEventData, EventKind
from backend.services.events import append_event, locked_run
from backend.services.runs import tags_column

logger = logging.getLogger(__name__)

# Every table holding rows of a run, children first.
RUN_TABLES = (MetricSeries, MetricRollup, RunEvent, RunLogLine, RunLog)


class CurationRefused(Exception):
    """A change the run or sweep does not take now: ``status_code`` (404, 409) and a ``detail`` that says why."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


def edit_run(session: Session, *, run_id: int, patch: RunPatch) -> Run:
    """Apply the fields ``patch`` sets; when anything changed, an ``edited`` event tells an open run page."""
    with locked_run(session, run_id) as run:
        if run is None:
            raise CurationRefused(404, f"run {run_id} not found")
        before = edited_data(run)
        if patch.name is not None:
            run.name = patch.name
        if patch.tags is not None:
            run.tags = tags_column(patch.tags)
        if patch.notes is not None:
            run.notes = patch.notes
        if patch.archived is not None:
            run.archived = patch.archived
        if edited_data(run) != before:
            append_event(session, run=run, kind=EventKind.EDITED, data=edited_data(run))
        session.commit()
        return run


def edited_data(run: Run) -> EditedEventData:
    return {
        "name": run.name,
        "tags": [tag for tag in run.tags.split(",") if tag],
        "notes": run.notes or "",
        "archived": bool(run.archived),
    }


def edit_sweep(session: Session, *, sweep_id: int, patch: SweepPatch) -> Sweep:
    """Apply the fields ``patch`` sets; archiving (or restoring) a sweep does the same to each of its runs."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise CurationRefused(404, f"sweep {sweep_id} not found")
    if patch.name is not None:
        sweep.name = patch.name
    if patch.notes is not None:
        sweep.notes = patch.notes
    if patch.archived is not None:
        sweep.archived = patch.archived
        session.execute(update(Run).where(Run.sweep_id == sweep_id).values(archived=patch.archived))
    session.commit()
    return sweep


def delete_run(session: Session, *, run_id: int, artifacts_root: Path) -> None:
    """Delete a finished run, its rows and its files; CurationRefused 404 (no such run) or 409 (not finished)."""
    with locked_run(session, run_id) as run:
        if run is None:
            raise CurationRefused(404, f"run {run_id} not found")
        if run.status not in TERMINAL:
            session.rollback()
            raise CurationRefused(409, f"run {run_id} is {run.status}: cancel it first, then delete it")
        _delete_rows(session, [run_id])
        session.commit()
    _after_delete(session, [run_id], artifacts_root)


def delete_sweep(session: Session, *, sweep_id: int, artifacts_root: Path) -> None:
    """Delete a sweep and all its runs; 409 naming the runs that are still queued or running."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise CurationRefused(404, f"sweep {sweep_id} not found")
    rows = session.execute(select(Run.id, Run.status).where(Run.sweep_id == sweep_id).order_by(Run.id)).all()
    open_runs = [f"#{run_id}" for run_id, status in rows if status not in TERMINAL]
    if open_runs:
        session.rollback()
        listed = ", ".join(open_runs)
        detail = f"sweep {sweep_id} has unfinished runs ({listed}): cancel the sweep first, then delete it"
        raise CurationRefused(409, detail)
    run_ids = [run_id for run_id, _ in rows]
    _delete_rows(session, run_ids)
    session.delete(sweep)
    session.commit()
    _after_delete(session, run_ids, artifacts_root)


def _delete_rows(session: Session, run_ids: Sequence[int]) -> None:
    """Every row of these runs, children first (without relying on the database's ON DELETE CASCADE)."""
    if not run_ids:
        return
    series = select(MetricSeries.id).where(MetricSeries.run_id.in_(run_ids))
    points = MetricBlock if session.get_bind().dialect.name == "postgresql" else MetricPoint  # a view there
    session.execute(delete(points).where(points.series_id.in_(series)))
    for table in RUN_TABLES:
        session.execute(delete(table).where(table.run_id.in_(run_ids)))
    session.execute(delete(Run).where(Run.id.in_(run_ids)))


def _after_delete(session: Session, run_ids: Sequence[int], artifacts_root: Path) -> None:
    """Once the rows are gone for good: the runs' artifact folders, and on SQLite the freed pages."""
    for run_id in run_ids:
        shutil.rmtree(run_dir(artifacts_root, run_id), ignore_errors=True)
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        with bind.engine.connect() as conn:
            # executescript steps the pragma to its end; a plain execute frees one page per step
            conn.connection.driver_connection.executescript("PRAGMA incremental_vacuum")  # type: ignore[union-attr]
    logger.info("deleted runs %s", ", ".join(map(str, run_ids)) or "(none)")
