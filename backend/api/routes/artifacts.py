"""Files a run produced: first-layer filters, activation maximization, the misclassified gallery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import FileResponse

from backend.api.deps import RunId, SessionDep, SettingsDep, get_run_or_404
from backend.schemas import ArtifactOut
from backend.services import artifacts

router = APIRouter(prefix="/runs/{run_id}/artifacts", tags=["artifacts"])


@router.get("", response_model=list[ArtifactOut])
def list_artifacts(run_id: RunId, session: SessionDep, settings: SettingsDep) -> list[ArtifactOut]:
    """The run's artifacts by name (names contain `filters` or `misclassified` for fig6 and fig7)."""
    get_run_or_404(session, run_id)
    return [
        ArtifactOut(
            name=name, size=size, media_type=artifacts.media_type(name), url=f"/api/runs/{run_id}/artifacts/{name}"
        )
        for name, size in artifacts.list_names(settings.artifacts_dir, run_id)
    ]


@router.get("/{name}", response_class=FileResponse)
def get_artifact(run_id: RunId, name: str, session: SessionDep, settings: SettingsDep) -> FileResponse:
    """Download one artifact."""
    get_run_or_404(session, run_id)
    path = artifacts.resolve(settings.artifacts_dir, run_id, name)
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"run {run_id} has no artifact {name!r}")
    return FileResponse(path, media_type=artifacts.media_type(name))


@router.put("/{name}", response_model=ArtifactOut, status_code=201)
def put_artifact(
    run_id: RunId,
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    data: Annotated[bytes, Body(media_type="application/octet-stream")],
) -> ArtifactOut:
    """Store an artifact (what workers call). Names: letters, digits, `.`, `_`, `-`; at most 128 characters."""
    get_run_or_404(session, run_id)
    if not artifacts.is_valid_name(name):
        raise HTTPException(status_code=422, detail=f"invalid artifact name {name!r}: use letters, digits, . _ -")
    artifacts.save(settings.artifacts_dir, run_id, name, data)
    return ArtifactOut(
        name=name, size=len(data), media_type=artifacts.media_type(name), url=f"/api/runs/{run_id}/artifacts/{name}"
    )
