"""The score store: leads, events, scores, outcomes, API keys, webhooks and deliveries.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# written out here rather than imported from the models: a revision must keep describing
# the schema of its time when the models move on
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_leads"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        _time("time"),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("properties", JSON, nullable=False),
        _time("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_events_lead_id_leads", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("lead_id", "event_id", name="uq_events_lead_id_event_id"),
    )
    op.create_index("ix_events_lead_id_time", "events", ["lead_id", "time"])
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("score_100", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("contact", sa.Boolean(), nullable=False),
        sa.Column("reasons", JSON, nullable=True),
        _time("scored_at"),
        sa.PrimaryKeyConstraint("id", name="pk_scores"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_scores_lead_id_leads", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_scores_lead_id_scored_at", "scores", ["lead_id", "scored_at"])
    op.create_index("ix_scores_scored_at", "scores", ["scored_at"])
    op.create_table(
        "latest_scores",
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        _time("scored_at"),
        sa.PrimaryKeyConstraint("lead_id", name="pk_latest_scores"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_latest_scores_lead_id_leads", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["score_id"],
            ["scores.id"],
            name="fk_latest_scores_score_id_scores",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_latest_scores_segment_score", "latest_scores", ["segment", "score"])
    op.create_index("ix_latest_scores_score", "latest_scores", ["score"])
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("converted", sa.Boolean(), nullable=False),
        _time("occurred_at"),
        _time("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outcomes"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name="fk_outcomes_lead_id_leads", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_outcomes_lead_id", "outcomes", ["lead_id"])
    op.create_index("ix_outcomes_occurred_at", "outcomes", ["occurred_at"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        _time("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("kinds", JSON, nullable=False),
        sa.Column("min_jump", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("created_at"),
        _time("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_deliveries_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index("ix_webhook_deliveries_webhook_id", "webhook_deliveries", ["webhook_id"])


def downgrade() -> None:
    for table in (
        "webhook_deliveries",
        "webhooks",
        "api_keys",
        "outcomes",
        "latest_scores",
        "scores",
        "events",
        "leads",
    ):
        op.drop_table(table)
