"""Exploration: which scores contacted a lead on purpose below the cut-off, with the
chance the policy had of contacting it; and whether an outcome's lead was contacted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN on both databases: a constant default fills the rows already
    # stored without rewriting the table
    op.add_column(
        "scores", sa.Column("explored", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("scores", sa.Column("propensity", sa.Float(), nullable=True))
    op.add_column("outcomes", sa.Column("contacted", sa.Boolean(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column only by copying the table: batch mode does that
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_column("contacted")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("propensity")
        batch.drop_column("explored")
