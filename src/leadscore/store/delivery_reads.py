"""What the delivery log already holds for some webhooks and leads, read on a transaction's
connection: how a caller that queues deliveries in bulk (``lead.moved`` alerts,
:mod:`leadscore.monitor.alerts`) finds the ones it queued before, in the transaction that
queues the new ones (beside :meth:`WebhookRepository.enqueue
<leadscore.store.webhooks.WebhookRepository.enqueue>`).

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

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from leadscore.store.checks import CHUNK
from leadscore.store.tables import WebhookDelivery

_DELIVERIES = WebhookDelivery.__table__


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
