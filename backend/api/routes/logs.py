"""A run's log: what its script printed, or what its worker logged for it, as numbered lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from backend.api.deps import LeaseHeader, RunId, SessionDep, get_run_or_404
from backend.schemas import MAX_OFFSET, LogLinesAccepted, LogLinesIn, LogLinesOut
from backend.services import leases, logs

router = APIRouter(prefix="/runs/{run_id}/logs", tags=["logs"])

MAX_LINES_PER_READ = 10_000


@router.post("", response_model=LogLinesAccepted)
def post_logs(run_id: RunId, batch: LogLinesIn, session: SessionDep, lease: LeaseHeader = None) -> LogLinesAccepted:
    """Add consecutive lines `{"first_line": N, "lines": ["...", ...]}` (at most 1,000, without their line ends)
    to the run's log, sending the run's lease in `X-Trainboard-Lease` (403 without it; 409 when stale: the run
    was claimed again). The attempt's lines are taken even after it reported its outcome, since the last things
    a run prints (a traceback) may arrive after its final status. A line already stored under its number is
    kept, so a retried batch never duplicates a line. A line over 8,192 characters is cut there. A run's log
    holds at most 100,000 lines and 32 MiB: later lines are refused (`refused`, and `full` is true: stop
    sending)."""
    try:
        stored = logs.add_lines(session, run_id=run_id, first_line=batch.first_line, lines=batch.lines, lease=lease)
    except leases.WriteRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None
    if stored is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    return LogLinesAccepted(
        accepted=stored.accepted,
        duplicates=stored.duplicates,
        refused=stored.refused,
        full=stored.full,
        status=stored.run.status,  # type: ignore[arg-type]
    )


@router.get("", response_model=LogLinesOut)
def get_logs(
    run_id: RunId,
    session: SessionDep,
    offset: Annotated[
        int, Query(ge=-MAX_OFFSET, le=MAX_OFFSET, description="the first line; negative: from the end")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LINES_PER_READ, description="at most this many lines")] = 1_000,
) -> LogLinesOut:
    """The run's log from line `offset` on (lines count from 0): `{"lines": [...], "offset": N, "next_offset": M,
    "total": T, "refused": R}`. Read on from `next_offset` to follow it; `offset=-1000` reads the last 1,000
    lines. `refused` counts lines not stored because the log reached its limit. New lines also arrive as `log`
    events (`{"first_line", "lines"}`) on the run's live stream."""
    get_run_or_404(session, run_id)
    page = logs.read_lines(session, run_id=run_id, offset=offset, limit=limit)
    return LogLinesOut(
        lines=page.lines, offset=page.offset, next_offset=page.next_offset, total=page.total, refused=page.refused
    )
