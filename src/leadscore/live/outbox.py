"""Scores and the webhooks they fire, stored in one transaction (a transactional outbox).

The store appends scores (:meth:`ScoreRepository.scoring
<leadscore.store.scores.ScoreRepository.scoring>`) and keeps webhook deliveries
(:meth:`WebhookRepository.enqueue <leadscore.store.webhooks.WebhookRepository.enqueue>`);
this module decides, with the rule of :mod:`leadscore.webhooks.triggers` ("turned hot, or
jumped by at least ``min_jump`` points"), which webhooks each new score fires, and writes
those deliveries on the scoring transaction's connection: a stored score has its
notifications queued, or neither exists. :class:`~leadscore.webhooks.WebhookDispatcher`
sends them later, at least once.

A lead's sales override in force (read in the same transaction) pins its segment: its
scores fire no ``hot``, an excluded lead's nothing, and a ``jump`` of an overridden lead
says so (``overridden: true``, see :mod:`leadscore.webhooks.triggers`).

The active webhooks and overrides are read in the first half of the transaction, before
the scores are known (the service computes a lead's score meanwhile, see
:meth:`LiveScoring.score_leads <leadscore.live.scorer.LiveScoring.score_leads>`).

Example
-------
>>> _ = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
>>> score, deliveries = add_score(store, "L1", "3", 0.82, 82, "hot", True)
>>> score.segment, [d.payload["event"] for d in deliveries]
('hot', ['lead.hot'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from leadscore.store import (
    DeliveryRecord,
    NewDelivery,
    NewScore,
    OverrideRecord,
    ScoreRecord,
    Store,
    StoredScore,
    WebhookRecord,
)
from leadscore.store.scoring import ScoreWriter, check_score
from leadscore.webhooks.triggers import triggered_kinds, webhook_payload

#: the override that takes a lead out of the work queue (and its scores' webhooks)
EXCLUDE = "exclude"


class ScoreTransaction:
    """A scoring transaction with its webhooks: :meth:`add` appends the scores and
    queues the deliveries they trigger, on the same connection."""

    def __init__(
        self,
        store: Store,
        writer: ScoreWriter,
        hooks: list[WebhookRecord],
        overrides: Mapping[str, OverrideRecord] | None = None,
    ) -> None:
        self._store, self._writer, self._hooks = store, writer, hooks
        #: the sales overrides in force of the transaction's leads, by lead
        self.overrides: Mapping[str, OverrideRecord] = overrides or {}

    @property
    def done(self) -> bool:
        """Whether the scores were added."""
        return self._writer.done

    @property
    def connection(self) -> Connection:
        """The transaction's connection: what else must commit with the scores (the stored
        answer of an idempotent request) is written on it."""
        return self._writer.connection

    def add(self, items: Sequence[NewScore]) -> tuple[list[ScoreRecord], list[DeliveryRecord]]:
        """Append the scores (of the transaction's leads, in order), once, and queue a
        delivery to every active webhook each fires; returns the stored scores and the
        queued deliveries."""
        stored = self._writer.add(items)
        records = [s.record for s in stored]
        if not self._hooks:
            return records, []
        outbox = deliveries_for(items, stored, self._hooks, self.overrides)
        if not outbox:
            return records, []
        writer = self._writer
        return records, self._store.webhooks.enqueue(writer.connection, outbox, writer.now)


@contextmanager
def scoring(
    store: Store,
    lead_ids: Iterable[str],
    attributes: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[ScoreTransaction]:
    """The transaction of :func:`add_scores`, opened before the scores are known: the
    leads are created and locked, ``attributes`` merged, their latest scores and the
    active webhooks read; then :meth:`ScoreTransaction.add` appends the scores and queues
    their deliveries, once. Leaving the block without it (or with an exception) rolls it
    all back.

    Example
    -------
    >>> with scoring(store, ["L1"], {"L1": {"visits": 3}}) as transaction:
    ...     scores, deliveries = transaction.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
    >>> scores[0].score_100, deliveries  # no webhook registered: nothing to deliver
    (90, [])
    """
    ids = {*lead_ids, *(attributes or {})}
    with store.scores.scoring(ids, attributes) as writer:
        conn = writer.connection
        overrides = store.overrides.active_on(conn, ids, writer.now)
        yield ScoreTransaction(store, writer, store.webhooks.active_on(conn), overrides)


def add_scores(
    store: Store,
    items: Sequence[NewScore],
    attributes: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[ScoreRecord], list[DeliveryRecord]]:
    """Append scores to the leads' histories (leads created if new) and queue a delivery
    to every active webhook they trigger, all in one transaction (a scored batch); scores
    of the same lead are applied in the given order. ``attributes`` (lead id → fields) are
    merged into the leads in the same transaction, as
    :meth:`LeadRepository.upsert_many <leadscore.store.leads.LeadRepository.upsert_many>`
    does.

    A score older than the lead's latest one (a backfill) is stored in the history but
    neither becomes the latest nor triggers webhooks.

    Example
    -------
    >>> scores, _ = add_scores(store, [NewScore("L1", "3", 0.1, 10, "cold", False),
    ...                                NewScore("L2", "3", 0.5, 50, "warm", True)])
    >>> [s.lead_id for s in scores]
    ['L1', 'L2']
    """
    for item in items:
        check_score(item)  # bad input fails before the store is touched
    if not items:
        return [], []
    with scoring(store, [item.lead_id for item in items], attributes) as transaction:
        return transaction.add(items)


def add_score(
    store: Store,
    lead_id: str,
    model_version: str,
    score: float,
    score_100: int,
    segment: str,
    contact: bool,
    reasons: list[Any] | None = None,
    scored_at: datetime | None = None,
    webhook_payload_extra: Mapping[str, Any] | None = None,
) -> tuple[ScoreRecord, list[DeliveryRecord]]:
    """:func:`add_scores` for one score: returns it and the deliveries it queued.

    Example
    -------
    >>> _ = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
    >>> score, deliveries = add_score(store, "L1", "3", 0.82, 82, "hot", True,
    ...                               reasons=[{"field": "pricing_views"}])
    >>> score.segment, [d.payload["event"] for d in deliveries]
    ('hot', ['lead.hot'])
    """
    item = NewScore(
        lead_id=lead_id,
        model_version=model_version,
        score=score,
        score_100=score_100,
        segment=segment,
        contact=contact,
        reasons=reasons,
        scored_at=scored_at,
        webhook_payload_extra=dict(webhook_payload_extra) if webhook_payload_extra else None,
    )
    scores, deliveries = add_scores(store, [item])
    return scores[0], deliveries


def deliveries_for(
    items: Sequence[NewScore],
    stored: Sequence[StoredScore],
    hooks: Sequence[WebhookRecord],
    overrides: Mapping[str, OverrideRecord] | None = None,
) -> list[NewDelivery]:
    """The deliveries new scores trigger: for each score that became its lead's latest
    (a backfill triggers nothing), one per webhook whose kinds it fires (see
    :func:`~leadscore.webhooks.triggers.triggered_kinds`), with the signed payload's body.
    A lead with an override in force (``overrides``, by lead) keeps the override's
    segment before and after, so it never fires ``hot``; an excluded one fires nothing.

    Example
    -------
    >>> _ = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
    >>> items = [NewScore("L1", "3", 0.9, 90, "hot", True)]
    >>> with store.scores.scoring(["L1"]) as writer:
    ...     stored = writer.add(items)
    >>> [d.kind for d in deliveries_for(items, stored, store.webhooks.all())]
    ['hot']
    """
    outbox: list[NewDelivery] = []
    for item, score in zip(items, stored, strict=True):
        if not score.latest:
            continue
        record = score.record
        pinned = (overrides or {}).get(record.lead_id)
        if pinned is not None and pinned.segment == EXCLUDE:
            continue
        for hook in hooks:
            fired = triggered_kinds(
                previous_segment=score.previous_segment if pinned is None else pinned.segment,
                previous_score_100=score.previous_score_100,
                segment=record.segment if pinned is None else pinned.segment,
                score_100=record.score_100,
                kinds=hook.kinds,
                min_jump=hook.min_jump,
            )
            if not fired:
                continue
            payload = webhook_payload(
                fired,
                lead_id=record.lead_id,
                score=record.score,
                score_100=record.score_100,
                segment=record.segment,
                previous_score_100=score.previous_score_100,
                previous_segment=score.previous_segment,
                model_version=record.model_version,
                scored_at=record.scored_at,
                reasons=record.reasons,
                extra=item.webhook_payload_extra,
                override=pinned,
            )
            kind = payload["event"].removeprefix("lead.")
            outbox.append(NewDelivery(hook.id, record.lead_id, kind, payload))
    return outbox
