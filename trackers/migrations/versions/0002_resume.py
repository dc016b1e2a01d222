"""Schema version 2: driver heartbeats for safe resume, reruns linked to their trial, and
column types PostgreSQL enforces widened (64-bit seeds, names of any length).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns only: ADD COLUMN works in place on SQLite, no table rebuild needed.
    op.add_column("sweeps", sa.Column("heartbeat_at", sa.Float))
    op.add_column("sweeps", sa.Column("driver", sa.String(255)))
    op.add_column("trials", sa.Column("rerun_of", sa.Integer))
    if op.get_bind().dialect.name == "postgresql":
        # SQLite's INTEGER already holds 64 bits and it does not enforce VARCHAR lengths.
        for table in ("sweeps", "trials"):
            op.alter_column(table, "seed", type_=sa.BigInteger)
        op.alter_column("sweeps", "metric", type_=sa.Text)
        op.alter_column("params", "name", type_=sa.Text)
        op.alter_column("metrics", "name", type_=sa.Text)


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("rerun_of")
    with op.batch_alter_table("sweeps") as batch:
        batch.drop_column("driver")
        batch.drop_column("heartbeat_at")
