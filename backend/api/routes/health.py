"""Liveness for load balancers and compose healthchecks."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import text

from backend.api.deps import SessionDep, SettingsDep
from backend.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(session: SessionDep, settings: SettingsDep) -> Health:
    """200 when the API can reach its database. Needs no token."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy
        raise HTTPException(status_code=503, detail=f"database unreachable: {type(exc).__name__}") from exc
    database = session.get_bind().dialect.name
    broker = "redis" if settings.redis_url else "sqlite (embedded)"
    return Health(status="ok", database=database, broker=broker, version="0.1.0")
