"""Lead attribute history (point-in-time training from the store) and sales overrides.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# written out here rather than imported from the models: a revision must keep describing
# the schema of its time when the models move on
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "lead_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        _time("changed_at"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_lead_changes_lead_id_leads", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lead_changes"),
    )
    op.create_index("ix_lead_changes_lead_id_changed_at", "lead_changes", ["lead_id", "changed_at"])
    # the leads stored so far: their attributes as of their last change (all that is known)
    op.execute(
        "INSERT INTO lead_changes (lead_id, attributes, changed_at) "
        "SELECT id, attributes, updated_at FROM leads"
    )
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        _time("created_at"),
        _time("until", nullable=True),
        _time("cleared_at", nullable=True),
        sa.Column("cleared_by", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_overrides_lead_id_leads", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_overrides"),
    )
    op.create_index("ix_overrides_lead_id_id", "overrides", ["lead_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_overrides_lead_id_id", table_name="overrides")
    op.drop_table("overrides")
    op.drop_index("ix_lead_changes_lead_id_changed_at", table_name="lead_changes")
    op.drop_table("lead_changes")
