"""The live stream of a run: Server-Sent Events replayed from the database, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from backend.api.deps import NotifierDep, RunId, SessionDep, get_run_or_404
from backend.finite import json_safe
from backend.models import Run
from backend.schemas import TERMINAL
from backend.services.events import events_after
from backend.services.metrics.announced import event_data

router = APIRouter(tags=["events"])

STREAM_LIFETIME_S = 300.0  # then the browser reconnects with Last-Event-ID: no connection lives forever
KEEPALIVE_S = 15.0
BATCH = 500


def _read_new(factory: sessionmaker[Session], run_id: RunId, after: int) -> tuple[list[str], int, bool]:
    with factory() as session:
        run = session.get(Run, run_id)
        finished = run is None or run.status in TERMINAL  # read before the events: a final event is then seen
        events = events_after(session, run_id=run_id, after_seq=after, limit=BATCH)
        data = event_data(session, run_id=run_id, events=events)  # metrics events' points read back
        frames = [
            f"id: {e.seq}\nevent: {e.kind}\ndata: {_event_json(e.seq, d)}\n\n"
            for e, d in zip(events, data, strict=True)
        ]
        last = events[-1].seq if events else after
        return frames, last, finished and len(events) < BATCH


def _event_json(seq: int, data: dict[str, Any]) -> str:
    """Strict JSON: events stored by older versions may hold NaN or infinity, which a browser's JSON.parse
    rejects, dropping the whole event (its other points and status changes with it)."""
    try:
        return json.dumps({"seq": seq, **data}, separators=(",", ":"), allow_nan=False)
    except ValueError:  # only such old events pay for the copy
        return json.dumps({"seq": seq, **json_safe(data)}, separators=(",", ":"), allow_nan=False)


@router.get("/runs/{run_id}/events", response_class=StreamingResponse)
async def stream_events(
    run_id: RunId,
    request: Request,
    session: SessionDep,
    notifier: NotifierDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**62, description="resume after this event id (as Last-Event-ID)")
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events for one run: `status` events (status, epoch, progress, summary, error) and `metrics`
    events (`{"<key>": {"step": [...], "value": [...]}}` with only new points), and `edited` events (the run's
    `name`, `tags`, `notes` and `archived` after a PATCH). Each event has an id; reconnect
    with `Last-Event-ID` to get exactly what you missed. A finished run replays its history, then sends `end`."""
    get_run_or_404(session, run_id)
    session.close()
    start = after if after is not None else _parse_id(last_event_id)
    factory = request.app.state.sessionmaker
    # re-read even without a wake-up, so a lost notification only costs latency (TRAINBOARD_STREAM_POLL_S)
    poll_s = request.app.state.settings.stream_poll_s

    async def frames() -> AsyncIterator[str]:
        last = start
        deadline = time.monotonic() + STREAM_LIFETIME_S
        quiet_since = time.monotonic()
        yield "retry: 1000\n\n"
        with notifier.subscribe(run_id) as news:
            while True:
                news.clear()
                batch, last, done = await run_in_threadpool(_read_new, factory, run_id, last)
                for frame in batch:
                    yield frame
                if batch:
                    quiet_since = time.monotonic()
                    if len(batch) == BATCH:
                        continue
                if done:
                    yield "event: end\ndata: {}\n\n"
                    return
                if time.monotonic() > deadline or await request.is_disconnected():
                    return
                # until news or the next re-read; keep-alives (and the disconnect check) keep their own pace
                reread_at = time.monotonic() + poll_s
                while True:
                    if time.monotonic() - quiet_since >= KEEPALIVE_S:
                        yield ": keep-alive\n\n"
                        quiet_since = time.monotonic()
                    timeout = min(reread_at, quiet_since + KEEPALIVE_S) - time.monotonic()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(news.wait(), max(timeout, 0.0))
                    if news.is_set() or time.monotonic() >= reread_at:
                        break
                    if time.monotonic() > deadline or await request.is_disconnected():
                        return

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)


def _parse_id(value: str | None) -> int:
    try:
        return min(max(0, int(value)), 2**62) if value else 0
    except ValueError:
        return 0
