"""Dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from celery import Celery
from fastapi import Depends, Header, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from backend.auth import ANONYMOUS, Principal
from backend.models import Run
from backend.services import leases
from backend.services.notifier import Notifier
from trainboard.settings import Settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request; the service functions commit, this closes it (rolling back what is left).

    Made and closed on the event loop: a session opens no connection until it is used, and one whose work was
    committed holds none, so both steps are instant there; a session still in a transaction (a read, or an error
    half-way) is closed in the threadpool, where its rollback cannot stall the loop. As a sync generator FastAPI
    ran both steps in the threadpool: two thread hops a request on top of the route's own.
    """
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_celery(request: Request) -> Celery:
    return request.app.state.celery  # type: ignore[no-any-return]


def get_notifier(request: Request) -> Notifier:
    return request.app.state.notifier  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CeleryDep = Annotated[Celery, Depends(get_celery)]
NotifierDep = Annotated[Notifier, Depends(get_notifier)]


def get_principal(request: Request) -> Principal:
    """Who is calling: set by ``backend.request_guard`` before the route runs (the anonymous admin without tokens)."""
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else ANONYMOUS


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_run_or_404(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=f"run {run_id} not found")
    return run


MAX_ID = 2**31 - 1
RunId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="run id")]
SweepId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="sweep id")]


# Per-attempt leases (backend/services/leases.py): which attempt of a run may write to it.
LeaseHeader = Annotated[
    str | None,
    Header(alias="X-Trainboard-Lease", max_length=200, description="the lease from the run's claim (or creation)"),
]


def require_lease(run: Run, lease: str | None) -> None:
    """403 without a lease, 409 with a stale or wrong one (the run was re-queued and claimed again, or ended)."""
    try:
        leases.check(run, lease)
    except leases.WriteRefused as refused:
        raise HTTPException(status_code=refused.status_code, detail=refused.detail) from None


def require_artifact_write(run: Run, lease: str | None, *, name: str, exists: bool) -> None:
    """``require_lease``, and 409 for replacing an artifact of a finished run (its artifacts are write-once)."""
    require_lease(run, lease)
    refusal = leases.artifact_write_allowed(run, name=name, exists=exists)
    if refusal is not None:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=refusal)
