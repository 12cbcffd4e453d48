"""Postgres packs points: a row holds one batch's points of one series within one window of 1,024 steps, as two
arrays (steps, values), instead of a row per point. A Postgres row costs a 24-byte header and a 4-byte line pointer
and its index entry another ~30 bytes, so a row per point could not go under ~80 bytes (docs/BENCHMARKS.md, §9).
``metric_points`` stays, as a view that unnests the blocks, so every read of points reads the same columns.

SQLite is left as it is: its table without a rowid already stores a point in about 26 bytes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BLOCK_STEPS = 1024  # models.BLOCK_STEPS when this revision was written; a migration must not import it

POINTS_VIEW = (
    "CREATE VIEW metric_points AS "
    "SELECT b.series_id, b.seq, p.step, p.value, b.first_step AS block_first "
    "FROM metric_blocks b CROSS JOIN LATERAL unnest(b.steps, b.vals) AS p(step, value)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "metric_blocks",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("first_step", sa.BigInteger, nullable=False),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("steps", postgresql.ARRAY(sa.BigInteger), nullable=False),
        sa.Column("vals", postgresql.ARRAY(sa.Float), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "first_step", name="pk_metric_blocks"),  # no foreign key: models.py
    )
    if _has_lz4():  # a 1,024-point block is TOASTed: lz4 halves the COPY's time against pglz (BENCHMARKS §1)
        op.execute("ALTER TABLE metric_blocks ALTER COLUMN steps SET COMPRESSION lz4")
        op.execute("ALTER TABLE metric_blocks ALTER COLUMN vals SET COMPRESSION lz4")
    op.execute(
        "INSERT INTO metric_blocks (series_id, seq, first_step, last_step, steps, vals) "
        "SELECT series_id, seq, min(step), max(step), array_agg(step ORDER BY step), array_agg(value ORDER BY step) "
        f"FROM metric_points GROUP BY series_id, seq, step / {BLOCK_STEPS} ORDER BY series_id, min(step)"
    )
    op.drop_table("metric_points")
    op.execute(POINTS_VIEW)


def _has_lz4() -> bool:
    """Whether this server was built with lz4 (Postgres 14 and later can be; Debian's and Docker's packages are)."""
    choices = op.get_bind().scalar(sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"))
    return bool(choices) and "lz4" in choices


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "metric_points_rows",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float),
    )
    op.execute(
        "INSERT INTO metric_points_rows (series_id, seq, step, value) "
        "SELECT series_id, seq, step, value FROM metric_points ORDER BY series_id, step"
    )
    op.execute("DROP VIEW metric_points")
    op.drop_table("metric_blocks")
    op.rename_table("metric_points_rows", "metric_points")
    op.create_primary_key("pk_metric_points", "metric_points", ["series_id", "step"])
