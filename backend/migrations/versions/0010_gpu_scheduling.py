"""GPU scheduling: the GPUs of its worker a run's current attempt holds, and every run a worker is executing
(a worker with several GPUs runs several at once).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("held_gpus", sa.JSON, nullable=True))
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("run_ids", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("run_ids")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("held_gpus")
