"""Every run carries a config: a built-in run's is its spec, an external run's whatever its script sent.

Existing runs get their spec as their config.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("config", sa.JSON))
    op.execute("UPDATE runs SET config = spec WHERE config IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("config")
