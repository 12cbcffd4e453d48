"""Run logs: the lines a run printed (a script's captured stdout and stderr, a worker's log of a built-in run),
and the size of each run's log, which its limits are checked against.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_log_lines",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "line", name="pk_run_log_lines"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_log_lines_run_id_runs", ondelete="CASCADE"),
    )
    op.create_table(
        "run_logs",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("next_line", sa.BigInteger, nullable=False),
        sa.Column("offered", sa.BigInteger, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_logs"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_logs_run_id_runs", ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("run_logs")
    op.drop_table("run_log_lines")
