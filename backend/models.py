"""Database tables (SQLAlchemy 2 typed mappings)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    ScalarSelect,
    String,
    Text,
    false,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Sweep(Base):
    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    preset: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str] = mapped_column(Text, server_default="")  # Markdown, shown as text on the page
    archived: Mapped[bool] = mapped_column(Boolean, server_default=false(), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when the sweep is cancelled: a run of it ending later launches no further runs (parallel, tpe).
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the run was configured with: a built-in run's spec, or whatever an external run's script sent (any JSON
    # mapping, bounded in backend/schemas.py). NULL only between an old row and migration 0006, which fills it.
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A command run's command (a list of arguments, ``{dotted.key}`` placeholders filled from ``config`` by the
    # worker: trainboard/command.py) and the GPUs it asks for; NULL for every other run.
    command: Mapped[list[str] | None] = mapped_column(JSON)
    gpus: Mapped[int | None] = mapped_column(Integer)
    held_gpus: Mapped[list[str] | None] = mapped_column(JSON)  # this attempt's GPUs on its worker (their indices)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    queue: Mapped[str] = mapped_column(String(16), default="any")
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    # Copies of spec and summary fields, as columns so the runs table can filter and sort in SQL.
    tags: Mapped[str] = mapped_column(String(2200), default="")
    dataset: Mapped[str] = mapped_column(String(32), default="")
    arch: Mapped[str] = mapped_column(String(16), default="")
    batch_size: Mapped[int] = mapped_column(Integer, default=0)
    lr: Mapped[float] = mapped_column(Float, default=0.0)
    best_valid_acc: Mapped[float | None] = mapped_column(Float)
    test_acc_at_best: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id", ondelete="SET NULL"), index=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Set by the sweep's early-termination rule: the worker finishes training after the current epoch. The column
    # (and the API field) keep their first name, stop_requested.
    finish_requested: Mapped[str | None] = mapped_column("stop_requested", String(200))
    worker: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 (hex) of the current attempt's lease; the secret itself is only ever in the claim's reply.
    lease_hash: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Curation (PATCH /runs/{id}): the user's Markdown notes, and whether the runs table hides the run by default.
    notes: Mapped[str] = mapped_column(Text, server_default="")
    archived: Mapped[bool] = mapped_column(Boolean, server_default=false(), index=True)


class MetricSeries(Base):
    """One run's one key: its points refer to it by ``id``, so a point does not repeat the key's name."""

    __tablename__ = "metric_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ux_metric_series_run_id_key", "run_id", "key", unique=True),)


class MetricPoint(Base):
    """One value of one series; (series, step) is the primary key, which makes ingestion idempotent.

    On SQLite the table has no rowid: the primary key's b-tree holds the rows themselves, so a point is stored once,
    not in a table and again in its index. On Postgres ``metric_points`` is a read-only view of ``MetricBlock``
    (revision 0014). ``seq`` is the run's ``metrics`` event that announced the point: the live stream reads an
    event's points back by it instead of the event carrying a copy (bytes per point: docs/BENCHMARKS.md, section 9).
    """

    __tablename__ = "metric_points"

    # No foreign key: checking one per inserted point was a third of Postgres's insert (docs/BENCHMARKS.md, §1).
    # Points are written only by ingestion, for series it holds under the run's lock, and deleting a run deletes
    # its points first (services/curation.py; tests/backend/test_run_curation.py counts any point left over).
    series_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    # Postgres only (the view's column, never loaded): the first step of the point's block, which range reads filter
    # on so that Postgres unnests only the blocks in range (``reads.step_range``).
    block_first: Mapped[int] = mapped_column(BigInteger, deferred=True)

    __table_args__ = {"sqlite_with_rowid": False}


# Postgres packs a series' points by window of this many steps (``MetricBlock``); equal to the widest rollup level,
# so the few steps a downsampled read takes from the points themselves lie in one or two blocks.
BLOCK_STEPS = 1024


@overload
def window_of(step: int) -> int: ...
@overload
def window_of(step: ColumnElement[int] | ScalarSelect[int]) -> ColumnElement[int]: ...
def window_of(step: Any) -> Any:
    """The first step of the window of ``BLOCK_STEPS`` steps holding ``step`` (steps are never negative), for a
    Python int or a SQL expression: a block's steps all lie in the window of its first step."""
    return step - step % BLOCK_STEPS


class MetricBlock(Base):
    """Postgres only: the points one batch brought to one series within one window of ``BLOCK_STEPS`` steps (the
    window of ``first_step``), as two arrays in step order. ``metric_points`` is a view unnesting them.

    A row per point cannot go under ~80 bytes on Postgres (a 24-byte header, a line pointer and an index entry
    around 24 bytes of data); a block of n points costs about 16 bytes a point plus ~130 bytes once
    (docs/BENCHMARKS.md, §9). Steps are unique per series across blocks (ingestion leaves out a stored step under
    the run's lock), so ``first_step`` is unique too. Like points, blocks have no foreign key to their series.
    """

    __tablename__ = "metric_blocks"

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_step: Mapped[int] = mapped_column(BigInteger)
    steps: Mapped[list[int]] = mapped_column(postgresql.ARRAY(BigInteger))
    vals: Mapped[list[float | None]] = mapped_column(postgresql.ARRAY(Float))


class MetricRollup(Base):
    """Min and max of a series over each block of ``width`` steps (one row per level of ``ROLLUP_WIDTHS``).

    Kept current by every insert, so a long series is summarised from about a thousand rows. ``step_min`` and
    ``step_max`` are where the min and the max occur, the earliest step on a tie; a block of NULL values only
    has ``vmin`` and ``vmax`` NULL and both steps at its first point (what a read of the points themselves gives).
    """

    __tablename__ = "metric_rollups"

    # On Postgres without the foreign key since revision 0015 (its check per row was 6 % of a batch's request);
    # deleting a run deletes its rollups in curation._delete_rows, on both databases.
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    width: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    vmin: Mapped[float | None] = mapped_column(Float)
    vmax: Mapped[float | None] = mapped_column(Float)
    step_min: Mapped[int | None] = mapped_column(BigInteger)
    step_max: Mapped[int | None] = mapped_column(BigInteger)


# Rollup levels, finest first; each divides the next (a coarser block is folded from whole finer ones). A read
# uses the widest level of at most twice its bucket width and rounds its buckets up to a multiple of it, so 64
# serves buckets of 32-511 steps and 1,024 anything wider; narrower buckets rank the points themselves (a short
# series). Why 64 and not 32 or 128, measured: docs/BENCHMARKS.md, "Code-level notes".
ROLLUP_WIDTHS = (64, 1024)


class RunEvent(Base):
    """What the live stream sends: ``seq`` counts per run, so a client resumes with Last-Event-ID = seq."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ux_run_events_run_id_seq", "run_id", "seq", unique=True),)


class Worker(Base):
    """A worker process as its heartbeats describe it (``PUT /api/workers/{name}``); the API never reaches out
    to a worker, so whatever is here is what the worker last said, and ``last_seen`` when it said it."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    devices: Mapped[list[str]] = mapped_column(JSON)
    gpus: Mapped[list[str]] = mapped_column(JSON)
    queues: Mapped[list[str]] = mapped_column(JSON)
    # Not a foreign key: a deleted run leaves a worker executing nothing the API knows of, not a failed heartbeat.
    run_id: Mapped[int | None] = mapped_column(Integer)
    run_ids: Mapped[list[int] | None] = mapped_column(JSON)  # every run it executes (one per GPU at most)
    # A random id per worker process: a new one means the worker restarted, and started_at starts again.
    session: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RunLogLine(Base):
    """One line of what a run printed (a script's stdout and stderr, a worker's log of a built-in run).

    ``line`` is the line's number in the run's log, given by the sender, so (run, line) makes a retried batch
    harmless, and a page reads the log from any line on (``GET /runs/{id}/logs?offset=N``).
    """

    __tablename__ = "run_log_lines"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    line: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class RunLog(Base):
    """The size of a run's log, kept with every batch so its limits are checked without counting its lines."""

    __tablename__ = "run_logs"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)  # lines stored
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # their text, UTF-8
    next_line: Mapped[int] = mapped_column(BigInteger, default=0)  # the number after the highest line stored
    offered: Mapped[int] = mapped_column(BigInteger, default=0)  # the number after the highest line ever sent
    refused: Mapped[int] = mapped_column(Integer, default=0)  # lines not stored: the log was at its limit
