"""Schema version 3: the step a trial last reported (where a pruned trial stopped).

The new trial state ``paused`` and the new event kinds need no change: states and kinds are
stored as text.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trials", sa.Column("step", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("step")
