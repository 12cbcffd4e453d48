"""Initial schema: sweeps, runs, metric points, run events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("preset", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(16), nullable=False),
        sa.Column("external", sa.Boolean, nullable=False),
        sa.Column("tags", sa.String(2200), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("arch", sa.String(16), nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("lr", sa.Float, nullable=False),
        sa.Column("best_valid_acc", sa.Float),
        sa.Column("test_acc_at_best", sa.Float),
        sa.Column("duration_s", sa.Float),
        sa.Column("sweep_id", sa.Integer),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("summary", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("worker", sa.String(200)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweeps.id"], name="fk_runs_sweep_id_sweeps", ondelete="SET NULL"),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_sweep_id", "runs", ["sweep_id"])
    op.create_table(
        "metric_points",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float),
        sa.PrimaryKeyConstraint("run_id", "key", "step", name="pk_metric_points"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_metric_points_run_id_runs", ondelete="CASCADE"),
    )
    op.create_table(
        "run_events",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_events"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_events_run_id_runs", ondelete="CASCADE"),
    )
    op.create_index("ux_run_events_run_id_seq", "run_events", ["run_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_run_events_run_id_seq", table_name="run_events")
    op.drop_table("run_events")
    op.drop_table("metric_points")
    op.drop_index("ix_runs_sweep_id", table_name="runs")
    op.drop_index("ix_runs_status", table_name="runs")
    op.drop_table("runs")
    op.drop_table("sweeps")
