"""Command runs: a user's own command (a list of arguments with placeholders filled from the run's config) and
the number of GPUs it asks for; both NULL for every other run.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("command", sa.JSON, nullable=True))
        batch.add_column(sa.Column("gpus", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("gpus")
        batch.drop_column("command")
