"""Webhook subscriptions and their deliveries (the outbox and delivery log):
:class:`WebhookRepository` (``store.webhooks``).

The store keeps webhooks and deliveries; it does not decide when a score notifies one
(that rule is :mod:`leadscore.webhooks.triggers`, applied by the scoring flow,
:mod:`leadscore.live.outbox`) and it does not send (:mod:`leadscore.webhooks.dispatcher`).

Transactions:

* :meth:`WebhookRepository.enqueue` and :meth:`WebhookRepository.active_on` run on the
  connection of a scoring transaction (:meth:`ScoreRepository.scoring
  <leadscore.store.scores.ScoreRepository.scoring>`): a score and the deliveries it
  triggers commit together, or neither does (a transactional outbox).
* :meth:`WebhookRepository.claim` takes a due delivery for sending in one conditional
  UPDATE, so two dispatchers never send the same delivery at once.
* Every other call is one transaction of its own.

URLs may not reach private addresses unless allowed (:mod:`leadscore.store.egress`); a
delivery keeps its last status code and error category, never the receiver's answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from leadscore.config.settings import WebhookSettings
from leadscore.store.checks import clamp_limit
from leadscore.store.egress import EgressPolicy, check_kinds, check_url
from leadscore.store.errors import NotFoundError, StoreError
from leadscore.store.records import DEFAULT_WEBHOOK_KINDS as DEFAULT_KINDS
from leadscore.store.records import DeliveryRecord, NewDelivery, WebhookRecord
from leadscore.store.secrets import seal
from leadscore.store.session import Repository
from leadscore.store.tables import Webhook, WebhookDelivery, as_utc, utcnow
from leadscore.store.webhook_reads import active_webhooks, webhook_record

_DELIVERY_STATUSES = ("pending", "delivered", "failed")
_MAX_ERROR_LENGTH = 300

# Core statements of the scoring write path, built once (see leadscore.store.scoring)
_WEBHOOKS, _DELIVERIES = Webhook.__table__, WebhookDelivery.__table__
_INSERT_DELIVERIES = insert(_DELIVERIES).returning(*_DELIVERIES.c, sort_by_parameter_order=True)


class WebhookRepository(Repository):
    """Webhooks, and the deliveries queued for them (``store.webhooks``).

    Example
    -------
    >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
    >>> [h.url for h in store.webhooks.all()]
    ['https://crm.example.com/hooks/leads']
    """

    _settings: WebhookSettings | None = None

    @property
    def settings(self) -> WebhookSettings:
        """The ``webhooks`` settings the URL check and the dispatcher follow: those given
        to :meth:`configure`, else ``Settings().webhooks`` (environment and settings file).
        """
        if self._settings is None:
            from leadscore.config.settings import Settings

            self._settings = Settings().webhooks
        return self._settings

    def configure(self, settings: WebhookSettings) -> None:
        """Follow ``settings`` (a ``webhooks`` section, e.g. of resolved settings)."""
        self._settings = settings

    # ------------------------------------------------------------------ webhooks

    def add(
        self,
        url: str,
        secret: str,
        kinds: Iterable[str] = DEFAULT_KINDS,
        min_jump: int = 30,
    ) -> WebhookRecord:
        """Subscribe ``url`` (http or https) to hot leads, score jumps of at least
        ``min_jump`` points and/or (by name) movers; payloads are signed with ``secret`` (see
        :mod:`leadscore.webhooks.signing`). A host that is or resolves to a non-public
        address is refused (:class:`~leadscore.store.egress.AddressRefused`) unless the
        settings allow it.

        Example
        -------
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret",
        ...                           kinds=["hot"])
        >>> hook.kinds, hook.active
        (('hot',), True)
        """
        url = check_url(url)
        if not isinstance(secret, str) or not secret.strip():
            raise StoreError("a webhook needs a non-empty secret (it signs the payloads)")
        clean_kinds = check_kinds(kinds)
        if isinstance(min_jump, bool) or not isinstance(min_jump, int) or not 1 <= min_jump <= 100:
            raise StoreError(
                f"min_jump must be a whole number of points from 1 to 100, not {min_jump!r}"
            )
        EgressPolicy.of(self.settings).check_url(url)
        values = {
            "url": url,
            "secret": seal(secret, self._db.url),  # encrypted at rest
            "kinds": list(clean_kinds),
            "min_jump": min_jump,
            "active": True,
            "created_at": utcnow(),
        }
        with self._write() as session:
            row = session.scalars(self._db.insert(Webhook).values(values).returning(Webhook)).one()
            return webhook_record(row)

    def get(self, webhook_id: int) -> WebhookRecord:
        """The webhook (active or not); :class:`~leadscore.store.errors.NotFoundError` if
        unknown.

        Example
        -------
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> store.webhooks.get(hook.id).url
        'https://crm.example.com/hooks/leads'
        """
        with self._read() as session:
            row = session.get(Webhook, int(webhook_id))
            if row is None:
                raise NotFoundError(f"no webhook with id {webhook_id}")
            return webhook_record(row)

    def all(self, include_inactive: bool = False) -> list[WebhookRecord]:
        """The webhooks, oldest first (only active ones unless ``include_inactive``).

        Example
        -------
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> [h.id for h in store.webhooks.all()]
        [1]
        """
        query = select(Webhook).order_by(Webhook.id)
        if not include_inactive:
            query = query.where(Webhook.active)
        with self._read() as session:
            return [webhook_record(row) for row in session.scalars(query)]

    def remove(self, webhook_id: int) -> WebhookRecord:
        """Deactivate a webhook (its delivery log stays); its pending deliveries are
        cancelled (``failed``, "webhook removed").

        Example
        -------
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> store.webhooks.remove(hook.id).active, store.webhooks.all()
        (False, [])
        """
        with self._write() as session:
            row = session.get(Webhook, int(webhook_id))
            if row is None:
                raise NotFoundError(f"no webhook with id {webhook_id}")
            row.active = False
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.webhook_id == row.id,
                    WebhookDelivery.status == "pending",
                )
                .values(status="failed", next_attempt_at=None, last_error="webhook removed")
            )
            session.flush()
            return webhook_record(row)

    # ------------------------------------------------- inside a scoring transaction

    def active_on(self, conn: Connection) -> list[WebhookRecord]:
        """The active webhooks, read on ``conn`` (a scoring transaction's connection).

        Example
        -------
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     hooks = store.webhooks.active_on(writer.connection)
        ...     _ = writer.add([])
        >>> [h.id for h in hooks]
        [1]
        """
        return active_webhooks(conn)

    def enqueue(
        self, conn: Connection, deliveries: Sequence[NewDelivery], now: datetime
    ) -> list[DeliveryRecord]:
        """Queue ``deliveries`` (``pending``, due at ``now``) on ``conn``, in the
        transaction of the score that triggers them; returns them as stored.

        Example
        -------
        >>> from leadscore.store import NewDelivery, NewScore
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     (stored,) = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
        ...     queued = store.webhooks.enqueue(
        ...         writer.connection, [NewDelivery(hook.id, "L1", "hot", {"event": "lead.hot"})],
        ...         writer.now)
        >>> [(d.kind, d.status) for d in queued]
        [('hot', 'pending')]
        """
        if not deliveries:
            return []
        rows = [
            {
                "webhook_id": d.webhook_id,
                "lead_id": d.lead_id,
                "kind": d.kind,
                "payload": d.payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "last_status_code": None,
                "last_error": None,
                "created_at": now,
                "delivered_at": None,
            }
            for d in deliveries
        ]
        return [_delivery(row) for row in conn.execute(_INSERT_DELIVERIES, rows)]

    # ------------------------------------------------------------------ deliveries

    def due(
        self, now: datetime | None = None, limit: int = 50, skip: Collection[int] = ()
    ) -> list[DeliveryRecord]:
        """Pending deliveries whose next attempt is due at ``now``, oldest due first;
        none of the webhooks in ``skip`` (those a dispatcher is sending to already).

        Example
        -------
        >>> from leadscore.live.outbox import add_score
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> _ = add_score(store, "L1", "3", 0.9, 90, "hot", True)  # queues a "hot" delivery
        >>> [d.kind for d in store.webhooks.due()]
        ['hot']
        """
        now = as_utc(now) if now else utcnow()
        query = select(WebhookDelivery).where(
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now
        )
        if skip:
            query = query.where(WebhookDelivery.webhook_id.not_in(sorted(skip)))
        query = query.order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        with self._read() as session:
            return [_delivery(row) for row in session.scalars(query.limit(clamp_limit(limit)))]

    def redeliver(
        self,
        ids: Iterable[int] = (),
        *,
        webhook_id: int | None = None,
        since: datetime | None = None,
        now: datetime | None = None,
    ) -> list[DeliveryRecord]:
        """Queue deliveries again, due at ``now`` with a fresh run of attempts: the ones
        with ``ids`` (failed or delivered; pending ones are queued already), or every
        failed delivery of ``webhook_id`` created since ``since``. Returns those queued;
        :class:`StoreError` for a delivery of a removed webhook.

        Example
        -------
        >>> from leadscore.live.outbox import add_score
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> _ = add_score(store, "L1", "3", 0.9, 90, "hot", True)  # queues a "hot" delivery
        >>> due = store.webhooks.claim(store.webhooks.due()[0].id)
        >>> _ = store.webhooks.mark_failed(due.id, 500, "HTTP 500", None)
        >>> [(d.status, d.attempts) for d in store.webhooks.redeliver([due.id])]
        [('pending', 0)]
        """
        wanted = sorted({int(i) for i in ids})
        if bool(wanted) == (webhook_id is not None):
            raise StoreError("redeliver takes delivery ids, or a webhook (and a time since)")
        rows = WebhookDelivery.id.in_(wanted)
        if webhook_id is not None:
            rows = (WebhookDelivery.webhook_id == self.get(webhook_id).id) & (
                WebhookDelivery.status == "failed"
            )
            if since is not None:
                rows &= WebhookDelivery.created_at >= as_utc(since)
        with self._write() as session:
            found = session.execute(
                select(WebhookDelivery, Webhook.active).join(Webhook).where(rows)
            )
            chosen = sorted(found.all(), key=lambda pair: pair[0].id)
            if missing := sorted(set(wanted) - {row.id for row, _ in chosen}):
                raise NotFoundError(f"no webhook delivery with id {missing[0]}")
            if removed := [row.webhook_id for row, active in chosen if not active]:
                raise StoreError(f"webhook {removed[0]} was removed: nothing is sent to it")
            queued = [row for row, _ in chosen if row.status != "pending"]
            for row in queued:
                row.status, row.attempts, row.delivered_at = "pending", 0, None
                row.next_attempt_at = as_utc(now) if now else utcnow()
            session.flush()
            return [_delivery(row) for row in queued]

    def claim(
        self, delivery_id: int, *, now: datetime | None = None, lease_s: float = 60.0
    ) -> DeliveryRecord | None:
        """Take a due delivery for sending: its next attempt moves ``lease_s`` into the
        future in one conditional UPDATE, so a second dispatcher skips it. Returns ``None``
        when it is not (or no longer) due. If the sender dies, the delivery becomes due
        again when the lease ends (at-least-once).

        Example
        -------
        >>> from leadscore.live.outbox import add_score
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> _ = add_score(store, "L1", "3", 0.9, 90, "hot", True)  # queues a "hot" delivery
        >>> due = store.webhooks.due()[0]
        >>> store.webhooks.claim(due.id) is not None, store.webhooks.claim(due.id)
        (True, None)
        """
        now = as_utc(now) if now else utcnow()
        with self._write() as session:
            row = session.scalars(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=lease_s))
                .returning(WebhookDelivery),
                execution_options={"synchronize_session": False},
            ).one_or_none()
            return None if row is None else _delivery(row)

    def mark_delivered(
        self, delivery_id: int, status_code: int, *, now: datetime | None = None
    ) -> DeliveryRecord:
        """Record a successful attempt (a 2xx answer): the delivery is done.

        Example
        -------
        >>> from leadscore.live.outbox import add_score
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> _ = add_score(store, "L1", "3", 0.9, 90, "hot", True)  # queues a "hot" delivery
        >>> due = store.webhooks.claim(store.webhooks.due()[0].id)
        >>> store.webhooks.mark_delivered(due.id, 200).status
        'delivered'
        """
        now = as_utc(now) if now else utcnow()
        with self._write() as session:
            row = session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(
                    status="delivered",
                    attempts=WebhookDelivery.attempts + 1,
                    last_status_code=status_code,
                    last_error=None,
                    next_attempt_at=None,
                    delivered_at=now,
                )
                .returning(WebhookDelivery),
                execution_options={"synchronize_session": False},
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"no webhook delivery with id {delivery_id}")
            return _delivery(row)

    def mark_failed(
        self,
        delivery_id: int,
        status_code: int | None,
        error: str,
        next_attempt_at: datetime | None,
    ) -> DeliveryRecord:
        """Record a failed attempt: retry at ``next_attempt_at``, or give up (``failed``)
        when it is ``None``. A delivery that is no longer pending (delivered meanwhile by
        another dispatcher, or cancelled) is left as it is.

        Example
        -------
        >>> from leadscore.live.outbox import add_score
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> _ = add_score(store, "L1", "3", 0.9, 90, "hot", True)  # queues a "hot" delivery
        >>> due = store.webhooks.claim(store.webhooks.due()[0].id)
        >>> store.webhooks.mark_failed(due.id, 500, "HTTP 500", None).status
        'failed'
        """
        values: dict[str, Any] = {
            "attempts": WebhookDelivery.attempts + 1,
            "last_status_code": status_code,
            "last_error": str(error)[:_MAX_ERROR_LENGTH],
        }
        if next_attempt_at is None:
            values.update(status="failed", next_attempt_at=None)
        else:
            values["next_attempt_at"] = as_utc(next_attempt_at)
        with self._write() as session:
            row = session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
                .values(**values)
                .returning(WebhookDelivery),
                execution_options={"synchronize_session": False},
            ).one_or_none()
            if row is None:
                current = session.get(WebhookDelivery, delivery_id)
                if current is None:
                    raise NotFoundError(f"no webhook delivery with id {delivery_id}")
                return _delivery(current)
            return _delivery(row)

    def delivery(self, delivery_id: int) -> DeliveryRecord:
        """One delivery; :class:`~leadscore.store.errors.NotFoundError` if unknown.

        Example
        -------
        >>> from leadscore.live.outbox import add_score
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> _ = add_score(store, "L1", "3", 0.9, 90, "hot", True)  # queues a "hot" delivery
        >>> due = store.webhooks.claim(store.webhooks.due()[0].id)
        >>> _ = store.webhooks.mark_delivered(due.id, 200)
        >>> store.webhooks.delivery(due.id).status, store.webhooks.delivery(due.id).attempts
        ('delivered', 1)
        """
        with self._read() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFoundError(f"no webhook delivery with id {delivery_id}")
            return _delivery(row)

    def deliveries(
        self, webhook_id: int | None = None, limit: int = 100, status: str | None = None
    ) -> list[DeliveryRecord]:
        """The delivery log, newest first; optionally of one webhook and/or one status.

        Example
        -------
        >>> from leadscore.live.outbox import add_score
        >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
        >>> _ = add_score(store, "L1", "3", 0.9, 90, "hot", True)  # queues a "hot" delivery
        >>> due = store.webhooks.claim(store.webhooks.due()[0].id)
        >>> _ = store.webhooks.mark_failed(due.id, 500, "HTTP 500", None)
        >>> [(d.kind, d.status) for d in store.webhooks.deliveries(webhook_id=hook.id)]
        [('hot', 'failed')]
        """
        query = (
            select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(clamp_limit(limit))
        )
        if webhook_id is not None:
            query = query.where(WebhookDelivery.webhook_id == webhook_id)
        if status is not None:
            if status not in _DELIVERY_STATUSES:
                raise StoreError(
                    f"unknown delivery status {status!r}; one of {', '.join(_DELIVERY_STATUSES)}"
                )
            query = query.where(WebhookDelivery.status == status)
        with self._read() as session:
            return [_delivery(row) for row in session.scalars(query)]


# ---------------------------------------------------------------------- records


def _delivery(row: WebhookDelivery | Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        webhook_id=row.webhook_id,
        lead_id=row.lead_id,
        kind=row.kind,
        payload=dict(row.payload or {}),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=_short_error(row.last_error),
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def _short_error(error: str | None) -> str | None:
    """``HTTP 500: <the answer>``, as kept by earlier versions, shown as ``HTTP 500``."""
    if error and error.startswith("HTTP ") and ":" in error:
        return error.split(":", 1)[0]
    return error
