"""Reads of webhooks and their delivery log on a transaction's connection (beside
:class:`~leadscore.store.webhooks.WebhookRepository`, which opens its own transactions):

* :func:`active_webhooks` — the webhooks a scoring transaction may notify, read in every
  real-time score's transaction;
* :func:`queued_deliveries` — what the delivery log already holds for some webhooks and
  leads: how a caller that queues deliveries in bulk (``lead.moved`` alerts,
  :mod:`leadscore.monitor.alerts`) finds the ones it queued before, in the transaction
  that queues the new ones.

Example
-------
>>> from leadscore.store import NewDelivery, NewScore
>>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret", kinds=["moved"])
>>> with store.scores.scoring(["L1"]) as writer:
...     _ = store.webhooks.enqueue(writer.connection,
...         [NewDelivery(hook.id, "L1", "moved", {"score_id": 7})], writer.now)
...     _ = writer.add([])
>>> with store.engine.connect() as conn:
...     queued_deliveries(conn, "moved", [hook.id], ["L1", "L2"])
[(1, 'L1', {'score_id': 7})]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from leadscore.store.checks import CHUNK
from leadscore.store.records import WebhookRecord
from leadscore.store.secrets import reveal
from leadscore.store.tables import Webhook, WebhookDelivery, from_sqlite_time

_WEBHOOKS, _DELIVERIES = Webhook.__table__, WebhookDelivery.__table__
_ACTIVE = select(_WEBHOOKS).where(_WEBHOOKS.c.active)
_SQLITE_ACTIVE = (
    "SELECT id, url, secret, kinds, min_jump, active, created_at FROM webhooks WHERE active"
)


def active_webhooks(conn: Connection) -> list[WebhookRecord]:
    """The active webhooks, read on ``conn`` (a scoring transaction's connection).

    On SQLite the query goes straight to sqlite3, as the scoring write's own statements
    do: it runs in every real-time score's transaction, and SQLAlchemy's execution costs
    ten times the query (28 µs against 2 with no webhook).

    Example
    -------
    >>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
    >>> with store.engine.connect() as conn:
    ...     [(h.url, h.kinds) for h in active_webhooks(conn)]
    [('https://crm.example.com/hooks/leads', ('hot', 'jump'))]
    """
    if conn.dialect.name != "sqlite":
        return [webhook_record(row) for row in conn.execute(_ACTIVE)]
    found = conn.connection.driver_connection.execute(_SQLITE_ACTIVE).fetchall()
    return [
        WebhookRecord(
            id=int(hook_id),
            url=url,
            secret=reveal(secret),
            kinds=tuple(json.loads(kinds) or ()) if kinds is not None else (),
            min_jump=int(min_jump),
            active=bool(active),
            created_at=from_sqlite_time(created),
        )
        for hook_id, url, secret, kinds, min_jump, active, created in found
    ]


def webhook_record(row: Webhook | Row[Any]) -> WebhookRecord:
    """A stored webhook (ORM object or row) as its record, the secret opened."""
    return WebhookRecord(
        id=row.id,
        url=row.url,
        secret=reveal(row.secret),
        kinds=tuple(row.kinds or ()),
        min_jump=row.min_jump,
        active=row.active,
        created_at=row.created_at,
    )


def queued_deliveries(
    conn: Connection, kind: str, webhook_ids: Sequence[int], lead_ids: Sequence[str]
) -> list[tuple[int, str, dict[str, Any]]]:
    """``(webhook id, lead id, payload)`` of every ``kind`` delivery queued, in any state
    (pending, delivered, failed), to one of ``webhook_ids`` about one of ``lead_ids``, in
    no particular order; read on ``conn`` (a scoring transaction's connection, so what it
    finds cannot change before that transaction commits its own deliveries).

    Parameters
    ----------
    conn:
        The connection to read on.
    kind:
        The delivery kind (``hot``, ``jump``, ``moved``).
    webhook_ids, lead_ids:
        The webhooks and leads asked about (the leads asked in chunks, under every
        database's bound-parameter limit).

    Example
    -------
    >>> with store.engine.connect() as conn:
    ...     queued_deliveries(conn, "moved", [1], ["L1"])
    []
    """
    if not webhook_ids or not lead_ids:
        return []
    d = _DELIVERIES.c
    found: list[tuple[int, str, dict[str, Any]]] = []
    for start in range(0, len(lead_ids), CHUNK):
        query = select(d.webhook_id, d.lead_id, d.payload).where(
            d.kind == kind,
            d.webhook_id.in_(list(webhook_ids)),
            d.lead_id.in_(list(lead_ids[start : start + CHUNK])),
        )
        rows = conn.execute(query)
        found.extend((int(hook), str(lead), dict(payload or {})) for hook, lead, payload in rows)
    return found
