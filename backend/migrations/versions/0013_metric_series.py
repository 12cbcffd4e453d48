"""Fewer bytes per point: points refer to a series (one run's one key) by id instead of repeating the key's name,
SQLite keeps them in a table without a rowid (the primary key's b-tree is the table), and each point records the
``metrics`` event that announced it, so that events stop carrying a copy of the points (docs/BENCHMARKS.md, §9).

Points stored before keep seq 0 and their events keep their copies: the stream sends both kinds alike. The
downgrade gives every announcing event its copy back from the points.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metric_series"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_metric_series_run_id_runs", ondelete="CASCADE"),
    )
    op.create_index("ux_metric_series_run_id_key", "metric_series", ["run_id", "key"], unique=True)
    op.execute("INSERT INTO metric_series (run_id, key) SELECT DISTINCT run_id, key FROM metric_points ORDER BY 1, 2")
    op.rename_table("metric_points", "metric_points_by_key")
    _drop_points_constraints("metric_points_by_key")
    op.create_table(
        "metric_points",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float),
        sa.PrimaryKeyConstraint("series_id", "step", name="pk_metric_points"),  # no foreign key: see models.py
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO metric_points (series_id, seq, step, value) "
        "SELECT s.id, 0, p.step, p.value FROM metric_points_by_key p "
        "JOIN metric_series s ON s.run_id = p.run_id AND s.key = p.key ORDER BY s.id, p.step"
    )
    op.drop_table("metric_points_by_key")


def downgrade() -> None:
    op.create_table(
        "metric_points_by_key",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float),
    )
    op.execute(
        "INSERT INTO metric_points_by_key (run_id, key, step, value) "
        "SELECT s.run_id, s.key, p.step, p.value FROM metric_points p JOIN metric_series s ON s.id = p.series_id"
    )
    _restore_event_copies()
    op.drop_table("metric_points")
    op.drop_table("metric_series")
    op.rename_table("metric_points_by_key", "metric_points")
    with op.batch_alter_table("metric_points") as batch:
        batch.create_primary_key("pk_metric_points", ["run_id", "key", "step"])
        batch.create_foreign_key("fk_metric_points_run_id_runs", "runs", ["run_id"], ["id"], ondelete="CASCADE")


def _drop_points_constraints(table: str) -> None:
    """Postgres keeps the renamed table's constraint names, which the new table needs."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_metric_points")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_metric_points_run_id_runs")


def _restore_event_copies() -> None:
    """Each event that announces points (a span per key) gets the points themselves back, as before 0013."""
    bind = op.get_bind()
    events = bind.execute(sa.text("SELECT id, run_id, seq, data FROM run_events WHERE kind = 'metrics'")).all()
    for event_id, run_id, seq, data in events:
        spans = json.loads(data) if isinstance(data, str) else data
        if not any(isinstance(span, dict) and "first" in span for span in spans.values()):
            continue
        copy = {}
        for key in sorted(spans):
            rows = bind.execute(
                sa.text(
                    "SELECT p.step, p.value FROM metric_points p JOIN metric_series s ON s.id = p.series_id "
                    "WHERE s.run_id = :run_id AND s.key = :key AND p.seq = :seq ORDER BY p.step"
                ),
                {"run_id": run_id, "key": key, "seq": seq},
            ).all()
            copy[key] = {"step": [r[0] for r in rows], "value": [r[1] for r in rows]}
        bind.execute(
            sa.text("UPDATE run_events SET data = :data WHERE id = :id"), {"data": json.dumps(copy), "id": event_id}
        )
