"""Files a run produced: first-layer filters, activation maximization, the misclassified gallery."""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from backend.api.deps import (
    LeaseHeader,
    RunId,
    SessionDep,
    SettingsDep,
    get_run_or_404,
    require_artifact_write,
)
from backend.schemas import ArtifactOut
from backend.services import artifacts

router = APIRouter(prefix="/runs/{run_id}/artifacts", tags=["artifacts"])

WRITE_CHUNK = 1024 * 1024  # bytes gathered before each write in a thread: few hops off the event loop
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get("", response_model=list[ArtifactOut])
def list_artifacts(run_id: RunId, session: SessionDep, settings: SettingsDep) -> list[ArtifactOut]:
    """The run's artifacts by name (names contain `filters` or `misclassified` for fig6 and fig7)."""
    get_run_or_404(session, run_id)
    return [_artifact_out(run_id, name, size) for name, size in artifacts.list_names(settings.artifacts_dir, run_id)]


@router.get("/{name}", response_class=FileResponse)
def get_artifact(run_id: RunId, name: str, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """Download one artifact. Images (PNG, JPEG, GIF, WebP) and JSON come with their type; anything else is an
    `attachment` of type `application/octet-stream`, and every artifact is a sandboxed document (CSP `sandbox`)."""
    get_run_or_404(session, run_id)
    path = artifacts.resolve(settings.artifacts_dir, run_id, name)
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"run {run_id} has no artifact {name!r}")
    return FileResponse(path, media_type=artifacts.media_type(name), headers=artifacts.serving_headers(name))


@router.put("/{name}", response_model=ArtifactOut, status_code=201, openapi_extra=UPLOAD_BODY)
async def put_artifact(
    run_id: RunId,
    name: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lease: LeaseHeader = None,
) -> ArtifactOut:
    """Store an artifact (what workers call): the raw bytes as the body (`application/octet-stream`), at most
    `TRAINBOARD_MAX_ARTIFACT_BYTES`. Names: letters, digits, `.`, `_`, `-`; at most 128 characters. A file over
    the limit is a 413, is not stored, and leaves a `warning` event on the run. Send the lease of the attempt
    (`X-Trainboard-Lease`); a finished run's artifacts are write-once."""
    run = await run_in_threadpool(get_run_or_404, session, run_id)
    if not artifacts.is_valid_name(name):
        raise HTTPException(status_code=422, detail=f"invalid artifact name {name!r}: use letters, digits, . _ -")
    existing = artifacts.resolve(settings.artifacts_dir, run_id, name)
    require_artifact_write(run, lease, name=name, exists=existing is not None and existing.is_file())
    session.close()  # no connection held while a large file streams in
    limit = settings.max_artifact_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await _refuse(session, run_id=run_id, name=name, size=int(declared), limit=limit)
    upload = await run_in_threadpool(artifacts.begin_upload, root=settings.artifacts_dir, run_id=run_id, name=name)
    try:
        complete = await _receive(request, upload, limit)
        if complete:
            await run_in_threadpool(upload.commit)
    finally:
        if not upload.committed:
            await run_in_threadpool(upload.discard)
    if not complete:
        await _refuse(session, run_id=run_id, name=name, size=None, limit=limit)
    return _artifact_out(run_id, name, upload.size)


async def _receive(request: Request, upload: artifacts.Upload, limit: int) -> bool:
    """Stream the body into ``upload``: False once it passes ``limit``; 400 when the client goes away mid-way."""
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            buffer += chunk
            if upload.size + len(buffer) > limit:
                return False
            if len(buffer) >= WRITE_CHUNK:
                await run_in_threadpool(upload.write, bytes(buffer))
                buffer.clear()
    except ClientDisconnect:
        raise HTTPException(status_code=400, detail="the upload was interrupted: nothing was stored") from None
    if buffer:
        await run_in_threadpool(upload.write, bytes(buffer))
    return True


async def _refuse(session: Session, *, run_id: int, name: str, size: int | None, limit: int) -> NoReturn:
    """413, after telling the run's page (a `warning` event) what was not stored and what that costs."""
    await run_in_threadpool(artifacts.warn_refused_upload, session, run_id=run_id, name=name, size=size, limit=limit)
    raise HTTPException(
        status_code=413,
        detail=f"artifact {name!r} is over the limit of {limit} bytes (TRAINBOARD_MAX_ARTIFACT_BYTES): not stored",
    )


def _artifact_out(run_id: int, name: str, size: int) -> ArtifactOut:
    return ArtifactOut(
        name=name, size=size, media_type=artifacts.media_type(name), url=f"/api/runs/{run_id}/artifacts/{name}"
    )
