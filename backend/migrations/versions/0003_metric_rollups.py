"""Per-1,024-step min/max rollups of every series, kept current on insert, so long series read fast.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("vmin", sa.Float),
        sa.Column("vmax", sa.Float),
        sa.Column("step_min", sa.BigInteger),
        sa.Column("step_max", sa.BigInteger),
        sa.PrimaryKeyConstraint("run_id", "key", "bucket", name="pk_metric_rollups"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_metric_rollups_run_id_runs", ondelete="CASCADE"),
    )
    # Series stored before this revision get their rollups here.
    op.execute(
        """
        INSERT INTO metric_rollups (run_id, key, bucket, n, vmin, vmax, step_min, step_max)
        SELECT run_id, key, step / 1024, count(*), min(value), max(value), NULL, NULL
        FROM metric_points GROUP BY run_id, key, step / 1024
        """
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")
