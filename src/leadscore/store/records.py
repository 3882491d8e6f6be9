"""Plain, immutable records returned by the store's repositories (:mod:`leadscore.store`).

They hold copies of the row values (no ORM object or database session behind them), so
they can be kept, cached, passed between threads and turned into JSON freely, e.g. with
:func:`dataclasses.asdict`. Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: what an API key may be allowed to do; ``admin`` implies every other scope
SCOPES: tuple[str, ...] = ("score", "ingest", "read", "admin")
#: what a webhook can subscribe to: a lead crossing into hot, a score jump (the rule that
#: decides which fires is :mod:`leadscore.webhooks.triggers`), a period's move up or down
#: (queued by :mod:`leadscore.monitor.alerts`, on a schedule)
WEBHOOK_KINDS: tuple[str, ...] = ("hot", "jump", "moved")
#: the kinds of a webhook added without naming any: ``moved`` is asked for by name only,
#: so no receiver gets a new kind of event it was not written for
DEFAULT_WEBHOOK_KINDS: tuple[str, ...] = ("hot", "jump")


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """A lead and its CRM fields."""

    id: str
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored behaviour event (``event_id`` is the client's id or a content hash)."""

    id: int
    lead_id: str
    event_id: str
    time: datetime
    name: str
    properties: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """One score of one lead."""

    id: int
    lead_id: str
    model_version: str
    score: float
    score_100: int
    segment: str
    contact: bool
    reasons: list[Any] | None
    scored_at: datetime
    #: contacted by exploration (below the cut-off, drawn at random; ``contact`` is true)
    explored: bool = False
    #: the chance the policy had of contacting the lead (None: stored before exploration)
    propensity: float | None = None


@dataclass(frozen=True, slots=True)
class NewScore:
    """A score to store (:meth:`ScoreWriter.add <leadscore.store.scoring.ScoreWriter.add>`,
    or with its webhooks :func:`leadscore.live.outbox.add_scores`).

    ``scored_at`` defaults to the time of storing; ``webhook_payload_extra`` adds fields
    (e.g. the lead's name or CRM id) to the webhook payloads this score triggers;
    ``explored`` and ``propensity`` are the exploration policy's (see
    :mod:`leadscore.scoring.exploration`): an explored lead's ``contact`` is true.

    Example
    -------
    >>> NewScore("lead-1", "3", 0.81, 81, "hot", True).segment
    'hot'
    """

    lead_id: str
    model_version: str
    score: float
    score_100: int
    segment: str
    contact: bool
    reasons: list[Any] | None = None
    scored_at: datetime | None = None
    webhook_payload_extra: dict[str, Any] | None = None
    explored: bool = False
    propensity: float | None = None


@dataclass(frozen=True, slots=True)
class StoredScore:
    """A score just appended by a scoring transaction, with the latest score it replaced.

    ``latest`` is False for a backfill (older than the lead's latest score: it joins the
    history only); ``previous_*`` describe the lead's latest score before this one
    (``None`` when it had none), what the webhook triggers compare with.
    """

    record: ScoreRecord
    latest: bool
    previous_segment: str | None
    previous_score_100: int | None


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """A lead converted (``converted=True``) or was lost, at ``occurred_at``."""

    id: int
    lead_id: str
    converted: bool
    occurred_at: datetime
    recorded_at: datetime
    #: whether sales contacted the lead before the outcome (None: not said)
    contacted: bool | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: never the key itself, only its first characters.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> key = ApiKeyRecord(1, "crm", "ls_AbCdE", ("read",), datetime.now(UTC), None, None)
    >>> key.allows("read"), key.allows("score")
    (True, False)
    """

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """Whether this key may act in ``scope`` (``admin`` may do everything)."""
        return self.active and (scope in self.scopes or "admin" in self.scopes)


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """A webhook subscription. ``secret`` signs the payloads; it is left out of ``repr``
    so it does not end up in logs."""

    id: int
    url: str
    secret: str = field(repr=False)
    kinds: tuple[str, ...]
    min_jump: int
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One webhook delivery (outbox row and log entry).

    ``status`` is ``pending`` (waiting for its next attempt at ``next_attempt_at``),
    ``delivered`` (a 2xx answer) or ``failed`` (given up).
    """

    id: int
    webhook_id: int
    lead_id: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A webhook delivery to queue in a scoring transaction (see
    :meth:`WebhookRepository.enqueue <leadscore.store.webhooks.WebhookRepository.enqueue>`).
    """

    webhook_id: int
    lead_id: str
    kind: str
    payload: dict[str, Any]


#: what a dashboard user may do: ``admin`` changes data, models and settings; ``viewer`` reads
ROLES: tuple[str, ...] = ("admin", "viewer")


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A dashboard user as stored: never the password, nor its hash."""

    id: int
    name: str
    role: str
    created_at: datetime
    last_login_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The answer to a sign-in attempt.

    ``user`` is set on success. Otherwise ``message`` says what to show, identical for an
    unknown name and a wrong password, and ``retry_after_s`` how long further attempts
    for this name (or from this address) are refused.
    """

    user: UserRecord | None
    message: str = ""
    retry_after_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.user is not None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A lead's latest score with the lead's stored attributes (one work-queue row)."""

    lead_id: str
    score: float
    score_100: int
    segment: str
    contact: bool
    reasons: list[Any] | None
    scored_at: datetime
    model_version: str
    attributes: dict[str, Any]
    lead_created_at: datetime
    #: contacted by exploration (below the cut-off, drawn at random)
    explored: bool = False


@dataclass(frozen=True, slots=True)
class ScorePoint:
    """One score of the history, without its reasons (for charts over many scores)."""

    lead_id: str
    score_100: int
    segment: str
    scored_at: datetime
    model_version: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A request sent with an idempotency key, as stored: ``status`` and ``body`` (the
    answer, JSON text) are ``None`` while the first request with the key is in progress.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> IdempotencyRecord(1, "retry-1", "ab12", None, None, datetime.now(UTC)).pending
    True
    """

    api_key_id: int
    key: str
    request_hash: str
    status: int | None
    body: str | None
    created_at: datetime

    @property
    def pending(self) -> bool:
        """Whether the first request with this key has not answered yet."""
        return self.status is None
