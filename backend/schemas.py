"""Request and response bodies of the REST API (the run spec itself lives in trainboard.spec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
MetricKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")]
MAX_POINTS_PER_BATCH = 10_000


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    spec: dict[str, Any]
    status: RunStatus
    queue: str
    external: bool
    sweep_id: int | None
    epoch: int
    progress: float
    summary: dict[str, Any] | None
    error: str | None
    stop_requested: str | None = None
    worker: str | None
    attempts: int
    event_seq: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_detail(self) -> str:
        """The status in words, e.g. why a queued run has not started."""
        if self.status == "queued":
            return (
                "waiting for a GPU (cuda) worker"
                if self.queue == "cuda"
                else f"waiting for a {self.queue} worker".replace("a any worker", "a worker")
            )
        if self.status == "running" and self.stop_requested:
            return f"finishing early: {self.stop_requested}"
        if self.status == "succeeded" and self.stop_requested:
            return f"stopped early: {self.stop_requested}"
        if self.status == "running":
            return "tracked by your script" if self.external else f"running on {self.worker or 'a worker'}"
        return self.status


class StatusUpdate(BaseModel):
    """What a worker reports about the run it executes."""

    model_config = ConfigDict(extra="forbid")

    status: RunStatus | None = None
    worker: str | None = Field(default=None, max_length=200)
    epoch: int | None = Field(default=None, ge=0, le=100_000)
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    summary: dict[str, Any] | None = None
    error: str | None = Field(default=None, max_length=20_000)


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: MetricKey
    step: int = Field(ge=0, le=2**62)
    # None stands for a value JSON cannot carry (NaN or infinity from a diverging run).
    value: float | None


class PointsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(max_length=MAX_POINTS_PER_BATCH)


class PointsAccepted(BaseModel):
    accepted: int
    duplicates: int
    status: RunStatus
    stop_requested: str | None = None


class Series(BaseModel):
    step: list[int]
    value: list[float | None]


class ArtifactOut(BaseModel):
    name: str
    size: int
    media_type: str
    url: str


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    broker: str
    version: str
