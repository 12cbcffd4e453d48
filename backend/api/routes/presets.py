"""The report's figures as presets: list them, or launch one's runs as a sweep at full or quick scale."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from backend.api.deps import CeleryDep, SessionDep, SettingsDep
from backend.api.routes.sweeps import launch_sweep, sweep_out
from backend.services.presets import PRESETS, Scale
from backend.services.sweeps import Range

router = APIRouter(tags=["presets"])


class PresetOut(BaseModel):
    """One of the report's figures: what it shows and the runs it launches."""

    id: str = Field(examples=["fig1"])
    title: str
    description: str
    n_runs: int = Field(description="runs the preset launches: the product of its grid's list lengths")
    grid: dict[str, list[Any] | Range] = Field(description="dotted spec key -> values swept over")
    scales: dict[Scale, dict[str, Any]] = Field(description="the base run spec at each scale")


@router.get("/presets", response_model=list[PresetOut])
def list_presets() -> list[PresetOut]:
    """The report's figures fig1 ... fig7, each with its runs at full and quick scale."""
    return [PresetOut.model_validate(preset.describe()) for preset in PRESETS.values()]


@router.post("/presets/{preset_id}", status_code=status.HTTP_201_CREATED)
def launch_preset(
    preset_id: str,
    session: SessionDep,
    celery: CeleryDep,
    settings: SettingsDep,
    scale: Annotated[Scale, Query(description="full: as in the report; quick: fewer epochs and examples")] = "full",
) -> dict[str, Any]:
    """Launch a figure's runs as a sweep; the reply is the sweep, as `GET /sweeps/{id}` gives it."""
    preset = PRESETS.get(preset_id)
    if preset is None:
        raise HTTPException(status_code=404, detail=f"no preset {preset_id!r}; see GET /api/presets")
    return sweep_out(session, launch_sweep(session, celery, settings, preset.sweep(scale), preset_id))
