"""Dependencies shared by the route modules."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from celery import Celery
from fastapi import Depends, HTTPException, Request, status
from fastapi import Path as PathParam
from sqlalchemy.orm import Session

from backend.db import session_scope
from backend.models import Run
from backend.services.notifier import Notifier
from trainboard.settings import Settings


def get_db(request: Request) -> Iterator[Session]:
    yield from session_scope(request.app.state.sessionmaker)


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


def require_token(request: Request) -> None:
    """With TRAINBOARD_TOKEN set, every /api route but /health needs 'Authorization: Bearer <token>'.

    EventSource cannot send headers, so the live stream may pass it as ?token= instead.
    """
    expected = request.app.state.settings.token
    if expected is None:
        return
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong token: send 'Authorization: Bearer <TRAINBOARD_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def get_run_or_404(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=f"run {run_id} not found")
    return run


MAX_ID = 2**31 - 1
RunId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="run id")]
SweepId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="sweep id")]
