"""A run's logged keys: what a chart picker or `trainboard ls` offers, without reading any series."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import RunId, SessionDep, get_run_or_404
from backend.schemas import MetricKeyOut
from backend.services import metrics

router = APIRouter(prefix="/runs/{run_id}/keys", tags=["metrics"])


@router.get("", response_model=list[MetricKeyOut])
def get_keys(run_id: RunId, session: SessionDep) -> list[MetricKeyOut]:
    """Every key the run logged, sorted by key, with its number of points (a retried batch is counted once) and
    its last point: the highest step and its value (null where it was NaN or infinite)."""
    get_run_or_404(session, run_id)
    stats = metrics.key_stats(session, run_id=run_id)
    return [MetricKeyOut.model_validate(one, from_attributes=True) for one in stats]
