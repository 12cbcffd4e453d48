"""Per-attempt leases: a claim gives the worker a secret, and the run keeps only its SHA-256.

Runs running when this is applied have no lease: their workers' writes are refused, the reaper re-queues them
and the next claim issues one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("lease_hash", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("lease_hash")
