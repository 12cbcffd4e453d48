"""Workers: the heartbeats they send, and what the Workers page and the header read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam

from backend.api.deps import SessionDep, SettingsDep
from backend.schemas import WorkerHeartbeat, WorkerOut, WorkersOut
from backend.services import workers

router = APIRouter(prefix="/workers", tags=["workers"])

WorkerName = Annotated[
    str, PathParam(min_length=1, max_length=200, description="the worker's name, e.g. cpu-4242@host")
]


@router.get("", response_model=WorkersOut)
def list_workers(session: SessionDep, settings: SettingsDep) -> WorkersOut:
    """Every worker heard from in the last day (name, host, devices, GPUs, the run it is executing, when it
    started and was last seen, whether it is online), online ones first, and each queue's length: the runs
    waiting in it and the online workers that take it. A worker silent for `offline_after_s` is offline;
    one silent for a day is no longer listed."""
    return workers.workers_overview(session, offline_after_s=settings.stale_after_s)


@router.put("/{name}", response_model=WorkerOut)
def worker_heartbeat(name: WorkerName, beat: WorkerHeartbeat, session: SessionDep, settings: SettingsDep) -> WorkerOut:
    """Register a worker or refresh it: `trainboard worker` sends this when it is ready and every few seconds,
    with the run it is executing, and once with `stopping` when it shuts down. Needs role worker or admin."""
    return workers.record_heartbeat(session, name=name, beat=beat, offline_after_s=settings.stale_after_s)
