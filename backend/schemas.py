"""Request and response bodies of the REST API (the run spec itself lives in trainboard.spec)."""

from __future__ import annotations

import json
import math
import operator
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from backend.finite import finite_or_none, json_safe
from backend.status_detail import status_in_words
from trainboard.command import MAX_ARG_CHARS, MAX_ARGS, CommandError, fill
from trainboard.limits import MAX_LOG_BATCH_LINES, MAX_STEP, METRIC_KEY_CHARS, METRIC_KEY_MAX_CHARS
from trainboard.queue import QUEUES, queue_gpus
from trainboard.spec import MAX_NAME_LENGTH, MAX_TAGS, Tag

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
MetricKey = Annotated[str, Field(min_length=1, max_length=METRIC_KEY_MAX_CHARS, pattern=rf"^[{METRIC_KEY_CHARS}]+$")]
MAX_POINTS_PER_BATCH = 10_000
MAX_OFFSET = 1_000_000_000  # of a list route: far past any real page, and well inside a database's integers
# A summary comes back with its run on every runs page: a few dozen numbers, not a data store.
MAX_SUMMARY_KEYS = 256
MAX_SUMMARY_BYTES = 16_384
MAX_SUMMARY_DEPTH = 16  # its status event wraps it in more levels, all within backend.finite.MAX_DEPTH
# A config (an external run's hyperparameters, e.g. a script's argparse options) also comes back with its run on
# every runs page: generous for hyperparameters, far too small to smuggle data in.
MAX_CONFIG_BYTES = 65_536
MAX_CONFIG_DEPTH = 16
EXTERNAL_RUN_NAME = "external run"  # the name of an external run created without one
MAX_NOTES_BYTES = 65_536  # a run's or a sweep's Markdown notes, as UTF-8: pages of prose, not a data store


def bounded_json(value: dict[str, Any], *, what: str, max_depth: int, max_bytes: int) -> dict[str, Any]:
    """``value`` with NaN and infinities as null, or ValueError naming ``what`` when it nests deeper than
    ``max_depth`` levels or is over ``max_bytes`` as compact JSON."""
    try:
        clean: dict[str, Any] = json_safe(value, max_depth=max_depth)
    except ValueError:
        raise ValueError(f"a {what} nests at most {max_depth} levels deep") from None
    size = len(json.dumps(clean, separators=(",", ":"), allow_nan=False).encode())
    if size > max_bytes:
        raise ValueError(f"a {what} is at most {max_bytes} bytes as JSON, this one is {size}")
    return clean


def bounded_config(config: dict[str, Any]) -> dict[str, Any]:
    """A run's config: at most MAX_CONFIG_BYTES as JSON and MAX_CONFIG_DEPTH levels; NaN and infinities become
    null (as in a summary: a diverged value is no reason to lose the run)."""
    return bounded_json(config, what="config", max_depth=MAX_CONFIG_DEPTH, max_bytes=MAX_CONFIG_BYTES)


class ExternalRunIn(BaseModel):
    """A run your own script trains and reports (the tracking API's ``trainboard.init``): a name, tags and any
    JSON mapping as its config. (A full run spec with ``"external": true`` is also taken, as before.)"""

    model_config = ConfigDict(extra="forbid")

    external: Literal[True] = Field(description="no worker runs it: your script posts its metrics")
    name: str = Field(default="", max_length=MAX_NAME_LENGTH)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    config: dict[str, Any] = Field(
        description=f"any JSON mapping, e.g. the script's options; at most {MAX_CONFIG_BYTES:,} bytes as JSON and "
        f"{MAX_CONFIG_DEPTH} levels deep; NaN and infinities are stored as null"
    )

    @field_validator("config")
    @classmethod
    def _bounded_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        return bounded_config(config)


MAX_GPUS = 64


class CommandRunIn(BaseModel):
    """Your own command, run by a worker started with ``trainboard worker --code DIR`` (in DIR, with no shell):
    ``{"name", "command": ["python", "train.py", "--lr", "{lr}"], "config": {"lr": 0.1}, "device", "gpus", "tags"}``.
    Each ``{dotted.key}`` in an argument is filled from ``config`` (``{{`` and ``}}`` are literal braces)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=MAX_NAME_LENGTH)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    command: list[Annotated[str, Field(max_length=MAX_ARG_CHARS)]] = Field(
        min_length=1,
        max_length=MAX_ARGS,
        description=f"the program and its arguments, at most {MAX_ARGS} of {MAX_ARG_CHARS} characters each; "
        "{dotted.key} placeholders are filled from config",
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description=f"the run's options (any JSON mapping, at most {MAX_CONFIG_BYTES:,} bytes as JSON and "
        f"{MAX_CONFIG_DEPTH} levels deep); the script reads them with trainboard.init() as run.config",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="cuda: a GPU worker; cpu: a CPU worker; auto: any (a run with gpus > 0 needs cuda)"
    )
    gpus: int | None = Field(
        default=None,
        ge=0,
        le=MAX_GPUS,
        validate_default=True,
        description="GPUs the command gets (CUDA_VISIBLE_DEVICES); default 1 on cuda, else 0",
    )

    @field_validator("command")
    @classmethod
    def _program(cls, command: list[str]) -> list[str]:
        if not command[0].strip():
            raise ValueError("the first argument is the program to run: it cannot be blank")
        return command

    @field_validator("config")
    @classmethod
    def _bounded_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        return bounded_config(config)

    @field_validator("gpus")
    @classmethod
    def _gpus_for_device(cls, gpus: int | None, info: ValidationInfo) -> int:
        device = info.data.get("device", "auto")
        if gpus is None:
            return 1 if device == "cuda" else 0
        if gpus > 0 and device == "cpu":
            raise ValueError("a cpu run gets no GPUs: set gpus to 0, or device to cuda")
        return gpus

    def argv(self) -> list[str]:
        """The filled command; CommandError naming a missing placeholder."""
        return fill(self.command, self.config)


def filled_command(command: list[str] | None, config: dict[str, Any] | None) -> list[str] | None:
    """A stored command run's command as its worker runs it, or None (not a command run, or it cannot be filled)."""
    if command is None:
        return None
    try:
        return fill(command, config or {})
    except CommandError:
        return None


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    spec: dict[str, Any]
    config: dict[str, Any] = Field(
        description="a built-in run's spec; an external run's config, as its script sent it (or its spec, for a "
        "run created from a full spec)"
    )
    status: RunStatus
    queue: str
    external: bool
    sweep_id: int | None
    epoch: int
    progress: float
    summary: dict[str, Any] | None
    error: str | None
    # The run's finish_requested, under the name the API has always given it.
    stop_requested: str | None = Field(
        default=None, validation_alias=AliasChoices("finish_requested", "stop_requested")
    )
    worker: str | None
    attempts: int
    event_seq: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    command: list[str] | None = Field(
        default=None, description="a command run's command, its {dotted.key} placeholders as given; else null"
    )
    gpus: int | None = Field(default=None, description="the GPUs a command run asks for; else null")
    held_gpus: list[str] | None = Field(
        default=None, description="the GPUs of its worker (indices) the current or last attempt holds; null: none"
    )
    tags: list[str] = Field(
        default=[], description="the run's tags as they are now (PATCH changes them; `spec` keeps the launched ones)"
    )
    notes: str = Field(default="", description="the user's Markdown notes (PATCH)")
    archived: bool = Field(default=False, description="hidden from `GET /runs` unless `archived=true|all` (PATCH)")
    runs_ahead: int | None = Field(
        default=None, description="while queued: how many queued runs wait before this one in its queue"
    )
    queue_workers: int | None = Field(
        default=None, description="while queued: how many online workers take runs from its queue"
    )
    lease: str | None = Field(
        default=None,
        description="the attempt's lease: only in the replies of a claim and of creating an external run; "
        "send it in X-Trainboard-Lease with every status, metric and artifact write of that attempt",
    )

    @field_validator("config", mode="before")
    @classmethod
    def _config_or_spec(cls, config: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        """Every run stores its config (a migration gave older runs their spec); a missing one is the spec."""
        return info.data.get("spec") if config is None else config

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_list(cls, tags: str | list[str] | None) -> list[str]:
        """The ``tags`` column stores ",a,b," (backend/services/runs.py: tags_column)."""
        if isinstance(tags, str):
            return [tag for tag in tags.split(",") if tag]
        return list(tags or [])

    @field_validator("summary")
    @classmethod
    def _finite_summary(cls, summary: dict[str, Any] | None) -> dict[str, Any] | None:
        """Rows stored by older versions may hold NaN or infinity, which the response could not carry."""
        return json_safe(summary)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def argv(self) -> list[str] | None:
        """A command run's command with its placeholders filled from the config it was launched with (its spec's:
        a script that changes its config later does not change what a retry runs): what the worker runs."""
        launched = self.spec.get("config")
        return filled_command(self.command, launched if isinstance(launched, dict) else self.config)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_detail(self) -> str:
        """The status in words, e.g. why a queued run has not started."""
        return status_in_words(
            status=self.status,
            queue=self.queue,
            external=self.external,
            worker=self.worker,
            stop_requested=self.stop_requested,
            runs_ahead=self.runs_ahead,
            queue_workers=self.queue_workers,
        )


class ClaimIn(BaseModel):
    """A worker taking a queued run."""

    model_config = ConfigDict(extra="forbid")

    worker: str = Field(min_length=1, max_length=200, description="shown on the dashboard as the run's worker")
    gpus: list[Annotated[str, Field(pattern=r"^\d{1,3}$")]] = Field(
        default=[], max_length=64, description="the worker's GPUs (indices) this attempt holds, shown on the run page"
    )


class StatusUpdate(BaseModel):
    """What the attempt holding the run's lease reports: progress, then a final status."""

    model_config = ConfigDict(extra="forbid")

    status: RunStatus | None = Field(
        default=None, description="a final status; 'running' comes from a claim and 'queued' from the reaper"
    )
    worker: str | None = Field(default=None, max_length=200, description="ignored: the claim named the worker")
    epoch: int | None = Field(default=None, ge=0, le=100_000)
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    summary: dict[str, Any] | None = None
    error: str | None = Field(default=None, max_length=20_000)
    config: dict[str, Any] | None = Field(
        default=None,
        description="an external run's whole config, replacing the stored one (send all of it, not a change); "
        "a built-in run's config is its spec and cannot change (409)",
    )

    @field_validator("summary")
    @classmethod
    def _bounded_summary(cls, summary: dict[str, Any] | None) -> dict[str, Any] | None:
        """At most MAX_SUMMARY_KEYS keys and MAX_SUMMARY_BYTES as JSON; NaN and infinities become null."""
        if summary is None:
            return None
        if len(summary) > MAX_SUMMARY_KEYS:
            raise ValueError(f"a summary holds at most {MAX_SUMMARY_KEYS} keys, this one has {len(summary)}")
        return bounded_json(summary, what="summary", max_depth=MAX_SUMMARY_DEPTH, max_bytes=MAX_SUMMARY_BYTES)

    @field_validator("config")
    @classmethod
    def _bounded_config(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if config is None else bounded_config(config)


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: MetricKey
    step: int = Field(ge=0, le=MAX_STEP)
    # None stands for a value JSON cannot carry (NaN or infinity from a diverging run): such values are stored
    # as None, on every database, rather than refusing the batch (a refused batch would be retried forever).
    value: float | None

    @field_validator("value")
    @classmethod
    def _finite_value(cls, value: float | None) -> float | None:
        return finite_or_none(value)


Arrays = tuple[list[int], list[float | None]]  # a series' steps in ascending order, and their values
Points = dict[str, Arrays]  # a batch's points per metric key, as ingestion takes them


def _finite_values(values: list[float | None]) -> list[float | None]:
    """NaN and infinities as None; the list itself when every value is a finite number, as nearly always, found by
    one pass in C (12 microseconds for 1,000 values against 36 for the comprehension)."""
    try:
        if all(map(math.isfinite, values)):  # type: ignore[arg-type]
            return values
    except TypeError:  # a None among them
        pass
    return [finite_or_none(value) for value in values]


class SeriesIn(BaseModel):
    """One key's points as two arrays, the shape ``GET /runs/{id}/metrics`` returns them in."""

    model_config = ConfigDict(extra="forbid")

    step: list[Annotated[int, Field(ge=0, le=MAX_STEP)]]
    value: Annotated[list[float | None], AfterValidator(_finite_values)]  # NaN and infinities as in PointIn

    @model_validator(mode="after")
    def _aligned(self) -> SeriesIn:
        if len(self.step) != len(self.value):
            raise ValueError(f"step has {len(self.step)} items and value {len(self.value)}: one value per step")
        return self


class PointsIn(BaseModel):
    """A batch: points one by one (``points``), or per key as arrays (``series``, about a tenth of the parse), or
    both; at most ``MAX_POINTS_PER_BATCH`` in all."""

    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(default=[], max_length=MAX_POINTS_PER_BATCH)
    series: dict[MetricKey, SeriesIn] = Field(default={}, max_length=MAX_POINTS_PER_BATCH)

    @model_validator(mode="after")
    def _at_most_a_batch(self) -> PointsIn:
        if self.count > MAX_POINTS_PER_BATCH:
            raise ValueError(f"a batch holds at most {MAX_POINTS_PER_BATCH:,} points, this one has {self.count:,}")
        return self

    @property
    def count(self) -> int:
        """Points sent, repeats of a (key, step) included."""
        return len(self.points) + sum(len(series.step) for series in self.series.values())

    def latest(self) -> Points:
        """Per key, the steps in ascending order and their values; where the batch sends a (key, step) twice, the
        last value (``series`` comes after ``points``). Keys without points are left out."""
        found: dict[str, dict[int, float | None]] = {}
        for point in self.points:
            found.setdefault(point.key, {})[point.step] = point.value
        points: Points = {}
        for key, series in self.series.items():
            if key not in found and series.step and all(map(operator.lt, series.step, series.step[1:])):
                points[key] = series.step, series.value  # as sent: each step once, in ascending order
            else:
                found.setdefault(key, {}).update(zip(series.step, series.value, strict=True))
        for key, values in found.items():
            if values:
                steps, ordered = zip(*sorted(values.items()), strict=True)
                points[key] = list(steps), list(ordered)
        return points


class PointsAccepted(BaseModel):
    accepted: int
    duplicates: int
    status: RunStatus
    stop_requested: str | None = None


class Series(BaseModel):
    step: list[int]
    value: list[float | None]

    @field_validator("value")
    @classmethod
    def _finite_values(cls, values: list[float | None]) -> list[float | None]:
        """Points stored by older versions may be infinite (SQLite keeps inf): they read as None, like NaN."""
        return [finite_or_none(v) for v in values]


class MetricKeyOut(BaseModel):
    """One logged key of a run: how many points it has, and its last one (the highest step)."""

    key: str
    count: int = Field(description="points stored (a retried batch's duplicates are not counted)")
    last_step: int
    last_value: float | None = Field(description="null where the value was NaN or infinite")

    @field_validator("last_value")
    @classmethod
    def _finite_last(cls, value: float | None) -> float | None:
        return finite_or_none(value)


class LogLinesIn(BaseModel):
    """Consecutive lines of a run's log, numbered from ``first_line`` (the sender counts from 0)."""

    model_config = ConfigDict(extra="forbid")

    first_line: int = Field(ge=0, le=MAX_STEP, description="the number of the first line in the run's log")
    lines: list[str] = Field(max_length=MAX_LOG_BATCH_LINES, description="without their line ends")


class LogLinesAccepted(BaseModel):
    accepted: int = Field(description="lines stored now")
    duplicates: int = Field(description="lines already stored under the same numbers (a retried batch)")
    refused: int = Field(description="lines not stored because the run's log is at its limit")
    full: bool = Field(description="the log is at its limit: later lines will be refused too, stop sending")
    status: RunStatus


class LogLinesOut(BaseModel):
    lines: list[str]
    offset: int = Field(description="the number of the first line returned (a negative offset, resolved)")
    next_offset: int = Field(description="where the next read starts: after the last line returned")
    total: int = Field(description="the number of lines in the log (the number after its last line)")
    refused: int = Field(description="lines the run printed that were not stored: the log reached its limit")


class ArtifactOut(BaseModel):
    name: str
    size: int
    media_type: str
    url: str


class ChangedExampleOut(BaseModel):
    index: int = Field(description="the example's index in the test set")
    label: str = Field(description="its true class")
    pred_a: str = Field(description="run A's predicted class")
    conf_a: float = Field(description="run A's softmax probability of its predicted class")
    pred_b: str
    conf_b: float
    image: str | None = Field(description="its thumbnail (PNG), stored by the run that got it wrong")


class ChangedSetOut(BaseModel):
    count: int = Field(description="how many examples are in this set in all")
    examples: list[ChangedExampleOut] = Field(description="the page asked for, most confidently wrong first")


class ExampleDiffOut(BaseModel):
    a: int
    b: int
    dataset: str
    n: int = Field(description="test examples")
    acc_a: float
    acc_b: float
    fixed: ChangedSetOut = Field(description="wrong in run A, right in run B")
    broken: ChangedSetOut = Field(description="right in run A, wrong in run B")


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    broker: str
    version: str


def _known_queue(name: str) -> str:
    """One of trainboard.queue's QUEUES, or the queue of command runs asking for 2 to MAX_GPUS GPUs, named as
    ``queue.gpus_queue`` names it ("cmd-cuda-2gpus"): the names come from that module alone."""
    if name in QUEUES or 2 <= queue_gpus(name) <= MAX_GPUS:
        return name
    raise ValueError(f"not a queue: one of {', '.join(QUEUES)}, or cmd-cuda-Ngpus for N from 2 to {MAX_GPUS}")


QueueName = Annotated[str, Field(max_length=32), AfterValidator(_known_queue)]


class WorkerHeartbeat(BaseModel):
    """What a worker says about itself when it starts and every few seconds after (``worker/presence.py``)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=200, description="the machine it runs on")
    devices: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        max_length=8, description='what it can train on, e.g. ["cpu"] or ["cpu", "cuda"]'
    )
    gpus: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=64, description="GPU names")
    queues: list[QueueName] = Field(
        min_length=1, max_length=6 + MAX_GPUS - 1, description="the queues it takes runs from"
    )
    run_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="the run it is executing")
    run_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default=[], max_length=64, description="every run it is executing (several on a worker with several GPUs)"
    )
    session: str = Field(
        min_length=1, max_length=64, description="an id of this worker process: a new one starts `started_at` again"
    )
    stopping: bool = Field(default=False, description="a clean shutdown: the worker is offline from now on")


class WorkerOut(BaseModel):
    name: str
    host: str
    devices: list[str]
    gpus: list[str]
    queues: list[str]
    run_id: int | None = Field(description="the run it is executing, if any (the first, when several)")
    run_ids: list[int] = Field(default=[], description="every run it is executing")
    started_at: datetime = Field(description="when this worker process first reported")
    last_seen: datetime = Field(description="its last heartbeat")
    online: bool = Field(description="heard from within `offline_after_s`, and not shut down")


class QueueOut(BaseModel):
    name: QueueName
    queued: int = Field(description="runs waiting in this queue")
    workers: int = Field(description="online workers that take runs from it")


class WorkersOut(BaseModel):
    workers: list[WorkerOut] = Field(description="online first, then by name; offline ones for a day")
    queues: list[QueueOut]
    online: int = Field(description="how many workers are online")
    queued: int = Field(description="runs waiting in all queues")
    offline_after_s: float = Field(description="a worker silent this long is offline")


class ImportanceOut(BaseModel):
    """How much each varied config key matters for a metric across runs (Optuna's PED-ANOVA)."""

    metric: str
    goal: Literal["maximize", "minimize"]
    runs: list[int] = Field(description="the runs that have a value of the metric, which the importance is from")
    skipped: list[int] = Field(description="runs asked for that have no value of the metric (yet)")
    importance: dict[str, float] = Field(
        description="config key (dotted) -> importance, largest first; they sum to 1, or are all 0 when every run ties"
    )


def _notes_within_limit(notes: str | None) -> str | None:
    if notes is not None and len(notes.encode()) > MAX_NOTES_BYTES:
        raise ValueError(f"notes are at most {MAX_NOTES_BYTES:,} bytes (UTF-8), these are {len(notes.encode()):,}")
    return notes


def _name_not_blank(name: str | None) -> str | None:
    if name is not None and not name.strip():
        raise ValueError("a name cannot be blank")
    return None if name is None else name.strip()


class RunPatch(BaseModel):
    """What a user may change about a run after the fact; a field left out (or null) stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH, description="1 to 200 characters")
    tags: list[Tag] | None = Field(
        default=None, max_length=MAX_TAGS, description=f"the whole new list (at most {MAX_TAGS}, 1 to 64 characters)"
    )
    notes: str | None = Field(default=None, description=f"Markdown, at most {MAX_NOTES_BYTES:,} bytes")
    archived: bool | None = Field(default=None, description="true hides the run from the runs table by default")

    _name = field_validator("name")(_name_not_blank)
    _notes = field_validator("notes")(_notes_within_limit)

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: list[str] | None) -> list[str] | None:
        """Tags are stored as ",a,b,", so a comma cannot be part of one; repeats are dropped, order kept."""
        if tags is None:
            return None
        for tag in tags:
            if "," in tag:
                raise ValueError(f"a tag cannot contain a comma: {tag!r}")
            if not tag.strip():
                raise ValueError("a tag cannot be blank")
        return list(dict.fromkeys(tag.strip() for tag in tags))


class SweepPatch(BaseModel):
    """What a user may change about a sweep; archiving a sweep archives its runs (and restoring restores them)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH, description="1 to 200 characters")
    notes: str | None = Field(default=None, description=f"Markdown, at most {MAX_NOTES_BYTES:,} bytes")
    archived: bool | None = Field(default=None, description="true hides the sweep and its runs by default")

    _name = field_validator("name")(_name_not_blank)
    _notes = field_validator("notes")(_notes_within_limit)
