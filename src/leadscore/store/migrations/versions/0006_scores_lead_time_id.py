"""A lead's scores indexed in their full order (lead, time, id), not only (lead, time).

Reads that walk each lead's scores in order (the monitoring report's pass over a period,
each lead's last score before a time) break ties between scores given at one instant by
id; with the id in the index PostgreSQL reads them in that order instead of sorting each
lead's scores again (on 1 M scores: the report's pass 1.06 → 0.92 s). The new index
serves every query the old one did, so the old one goes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # built before the old one goes, so no read is ever left without an index
    op.create_index("ix_scores_lead_id_scored_at_id", "scores", ["lead_id", "scored_at", "id"])
    op.drop_index("ix_scores_lead_id_scored_at", table_name="scores")


def downgrade() -> None:
    op.create_index("ix_scores_lead_id_scored_at", "scores", ["lead_id", "scored_at"])
    op.drop_index("ix_scores_lead_id_scored_at_id", table_name="scores")
