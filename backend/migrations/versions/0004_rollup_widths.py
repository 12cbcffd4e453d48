"""Rollups at several widths: a `width` column in metric_rollups' primary key, and a finer 64-step level.

Existing rows become the 1,024-step level. The 64-step level is computed from the stored points, exactly as
ingestion keeps it (min and max of each block with the earliest step where each occurs; a block of NULLs only:
its first step); then the 1,024-step rows take their steps from it, which fills in the steps that 0003's backfill
left NULL and settles ties on the earliest step, as a read of the points themselves does.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FINE = 64  # backend.models.ROLLUP_WIDTHS at this revision (the migration keeps its own copy)
COARSE = 1024
RATIO = COARSE // FINE


def upgrade() -> None:
    # SQLite: the table is recreated (batch mode); Postgres: ALTER TABLE in place.
    with op.batch_alter_table("metric_rollups") as batch:
        batch.add_column(sa.Column("width", sa.Integer, nullable=False, server_default=str(COARSE)))
        batch.drop_constraint("pk_metric_rollups", type_="primary")
        batch.create_primary_key("pk_metric_rollups", ["run_id", "key", "width", "bucket"])
    with op.batch_alter_table("metric_rollups") as batch:
        batch.alter_column("width", existing_type=sa.Integer, existing_nullable=False, server_default=None)

    # The fine level from the points: per block, count, min and max, then the earliest step holding each (an
    # index range of at most 64 rows); where there is none (NULLs only), the block's first step.
    op.execute(
        f"""
        INSERT INTO metric_rollups (run_id, key, width, bucket, n, vmin, vmax, step_min, step_max)
        SELECT g.run_id, g.key, {FINE}, g.bucket, g.n, g.vmin, g.vmax,
            COALESCE((SELECT min(p.step) FROM metric_points p
                      WHERE p.run_id = g.run_id AND p.key = g.key AND p.step BETWEEN g.first_step AND g.last_step
                        AND p.value = g.vmin), g.first_step),
            COALESCE((SELECT min(p.step) FROM metric_points p
                      WHERE p.run_id = g.run_id AND p.key = g.key AND p.step BETWEEN g.first_step AND g.last_step
                        AND p.value = g.vmax), g.first_step)
        FROM (SELECT run_id, key, step / {FINE} AS bucket, count(*) AS n, min(value) AS vmin, max(value) AS vmax,
                     min(step) AS first_step, max(step) AS last_step
              FROM metric_points GROUP BY run_id, key, step / {FINE}) g
        """
    )
    # The coarse level's steps from its fine blocks: each fine block holds the earliest step of its own min and
    # max, so the earliest of those with the coarse block's value is the coarse block's.
    children = (
        f"FROM metric_rollups f WHERE f.run_id = metric_rollups.run_id AND f.key = metric_rollups.key"
        f" AND f.width = {FINE} AND f.bucket BETWEEN metric_rollups.bucket * {RATIO}"
        f" AND metric_rollups.bucket * {RATIO} + {RATIO - 1}"
    )
    for value, step in (("vmin", "step_min"), ("vmax", "step_max")):
        op.execute(
            f"""
            UPDATE metric_rollups SET {step} = COALESCE(
                (SELECT min(f.{step}) {children} AND f.{value} = metric_rollups.{value}),
                (SELECT min(f.step_min) {children}))
            WHERE width = {COARSE}
            """
        )


def downgrade() -> None:
    op.execute(f"DELETE FROM metric_rollups WHERE width <> {COARSE}")
    with op.batch_alter_table("metric_rollups") as batch:
        batch.drop_constraint("pk_metric_rollups", type_="primary")
        batch.create_primary_key("pk_metric_rollups", ["run_id", "key", "bucket"])
        batch.drop_column("width")
