"""Tables of the score store (SQLAlchemy 2 typed declarative models).

The schema is created and upgraded by the Alembic migrations in
``leadscore/store/migrations`` (hand-written to match these models; a test compares
them). Code outside :mod:`leadscore.store` never sees these classes: the store's
repositories return plain frozen records.

Every timestamp is a timezone-aware UTC :class:`~datetime.datetime` (:class:`UTCDateTime`):
SQLite has no time zones, so values are stored as naive UTC text there, which also keeps
their text order equal to their time order.

Example
-------
>>> sorted(Base.metadata.tables)[:3]
['api_keys', 'app_settings', 'events']
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: deterministic constraint names, so migrations can name what they create and drop
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON on SQLite, JSONB on PostgreSQL (smaller, comparable, indexable)
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already.

    Example
    -------
    >>> as_utc(datetime(2025, 1, 1, 12)).isoformat()
    '2025-01-01T12:00:00+00:00'
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def sqlite_time(value: datetime) -> str:
    """``value`` as the store's timestamp columns write it on SQLite: naive UTC text with
    microseconds (its text order is its time order), for the few statements that go
    straight to sqlite3.

    Example
    -------
    >>> sqlite_time(datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    '2026-01-05 09:30:00.000000'
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # isoformat: the text SQLAlchemy's SQLite DATETIME writes (a 4-digit year, which
    # strftime does not pad), at a third of strftime's cost
    return value.isoformat(" ", "microseconds")


def from_sqlite_time(text: str | None) -> datetime | None:
    """A timestamp column's text read straight from sqlite3 (see :func:`sqlite_time`) as
    the column type reads it: an aware UTC datetime.

    Example
    -------
    >>> from_sqlite_time("2026-01-05 09:30:00.000000").isoformat()
    '2026-01-05T09:30:00+00:00'
    """
    return None if text is None else as_utc(datetime.fromisoformat(text))


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always goes in and comes out as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite stores text; naive UTC keeps one format, so text order = time order
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        list[str]: JSONType,
        str: String(),
    }


class Lead(Base):
    """A lead and its CRM fields (``attributes``, merged on every upsert)."""

    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(), primary_key=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """One behaviour event of a lead; ``(lead_id, event_id)`` is unique so re-posting an
    event is a no-op. Events posted without an id get a content hash as their id."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("lead_id", "event_id"),
        Index(None, "lead_id", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    # never NULL in practice (a content hash stands in), so the unique constraint holds:
    # NULLs would count as distinct and let duplicates through
    event_id: Mapped[str] = mapped_column(String())
    time: Mapped[datetime]
    name: Mapped[str]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Score(Base):
    """One score of one lead (append-only history)."""

    __tablename__ = "scores"
    # a lead's scores in their full order: ties at one instant are broken by id
    __table_args__ = (Index(None, "lead_id", "scored_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    model_version: Mapped[str]
    score: Mapped[float] = mapped_column(Float)
    score_100: Mapped[int]
    segment: Mapped[str]
    contact: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[Any] | None] = mapped_column(JSONType)
    scored_at: Mapped[datetime] = mapped_column(index=True)
    #: contacted by exploration: below the cut-off, drawn at random (``contact`` is true)
    explored: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the chance the policy had of contacting the lead (1 above the cut-off, the
    #: exploration share below); None for scores stored before exploration existed
    propensity: Mapped[float | None] = mapped_column(Float, nullable=True)


class LatestScore(Base):
    """Each lead's latest score, kept in step with :class:`Score` in the same transaction.

    The work queue ("hot leads, best first") then is an index scan on ``(segment, score)``
    instead of a "latest row per lead" query over the whole history.
    """

    __tablename__ = "latest_scores"
    __table_args__ = (Index(None, "segment", "score"), Index(None, "score"))

    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    score_id: Mapped[int] = mapped_column(ForeignKey("scores.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    segment: Mapped[str]
    scored_at: Mapped[datetime]


class Outcome(Base):
    """A lead converted or was lost. Append-only; the latest recorded one wins."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    converted: Mapped[bool] = mapped_column(Boolean)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: whether sales contacted the lead before the outcome (None: not said)
    contacted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class LeadChange(Base):
    """A lead's attributes as they became at ``changed_at``: one row each time a write
    changes them (the full attributes, not the difference), so a training table can take
    each lead's fields as they were at its outcome (point in time)."""

    __tablename__ = "lead_changes"
    __table_args__ = (Index(None, "lead_id", "changed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    attributes: Mapped[dict[str, Any]]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Override(Base):
    """A salesperson's correction of a lead's segment (``hot``, ``warm``, ``cold``, or
    ``exclude`` from the work queue), with who, why and until when. Append-only: the
    lead's latest row counts while it has not expired or been cleared; the model's own
    score history goes on underneath."""

    __tablename__ = "overrides"
    __table_args__ = (Index(None, "lead_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    segment: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None]


class ApiKey(Base):
    """An API key: only its SHA-256 is stored, with its first characters for lookup."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str]
    prefix: Mapped[str] = mapped_column(String(), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Webhook(Base):
    """A URL told about hot leads and score jumps, signed with ``secret``."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str]
    kinds: Mapped[list[str]]
    min_jump: Mapped[int] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The outbox and delivery log: one row per (webhook, triggering score).

    Written in the transaction of the score that triggers it, so nothing is lost when the
    process stops before sending.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[str]
    kind: Mapped[str]
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class User(Base):
    """A dashboard user: an argon2 password hash (never the password) and a role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # stored lower-case: "Alice" and "alice" are one account
    name: Mapped[str] = mapped_column(String(), unique=True)
    password_hash: Mapped[str]
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Recent failed sign-ins of one user name (``user:<name>``) or one client address
    (``ip:<address>``), and until when further attempts are refused.

    Kept in the database, not in the web process, so the backoff holds across dashboard
    processes and restarts. Names that are not accounts are tracked exactly like real
    ones: the backoff must not reveal which names exist.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


class AppSetting(Base):
    """A dashboard setting changed in the app (business values, segments, the served
    model, the current data set): a JSON value under a key, with who changed it last."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None]


class IdempotencyKey(Base):
    """A write request sent with an ``Idempotency-Key`` header, and its answer: a retry
    with the same key (from the same API key) gets the stored answer instead of being
    done again. ``status`` and ``body`` are NULL while the first request is in progress;
    ``request_hash`` tells a retry from another request reusing the key."""

    __tablename__ = "idempotency_keys"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
