"""Curation: a run's and a sweep's Markdown notes and their archived flag (hidden from the lists by default).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("runs", "sweeps"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("notes", sa.Text, nullable=False, server_default=""))
            batch.add_column(sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()))
            batch.create_index(f"ix_{table}_archived", ["archived"])


def downgrade() -> None:
    for table in ("runs", "sweeps"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_archived")
            batch.drop_column("archived")
            batch.drop_column("notes")
