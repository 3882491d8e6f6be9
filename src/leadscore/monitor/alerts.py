"""Alerts of movers: a ``lead.moved`` webhook delivery for each lead whose score moved by
at least ``min_move`` points over a period, up or down, with the move's causes and reasons
(:mod:`leadscore.monitor.movers`).

A move is not an event of one score: it is found by comparing a period's last score with
the one before the period, so these alerts are queued on a schedule
(``leadscore monitor notify`` from cron, or ``POST /v1/monitoring/movers/notify``) rather
than at scoring time; the service's webhook dispatcher sends them like the others.

* Who: each active webhook subscribed to ``moved`` (a kind asked for by name; the ones
  subscribed to ``hot`` and ``jump`` get none of these).
* Once per move: a move is known by the lead's last score of the period (the payload's
  ``score_id``). A webhook that has a ``lead.moved`` for that score already is not sent
  another, so repeated runs and overlapping periods alert once; a later score that moves
  the lead again is a new move. The check and the new deliveries are one transaction
  that locks the movers' leads, as a scoring transaction does, so two runs at once
  cannot both queue the same alert.
* Sales overrides, as for the other webhooks (:mod:`leadscore.webhooks.triggers`): an
  excluded lead alerts nobody; an overridden one's payload says ``overridden: true``,
  with the override's segment as ``segment`` and the model's as ``model_segment``.

Example
-------
>>> from datetime import UTC, datetime, timedelta
>>> from leadscore.store import NewScore
>>> day = datetime(2026, 3, 2, tzinfo=UTC)
>>> hook = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret", kinds=["moved"])
>>> for at, score_100 in ((day, 20), (day + timedelta(days=1), 90)):
...     with store.scores.scoring(["L1"]) as writer:
...         _ = writer.add([NewScore("L1", "3", score_100 / 100, score_100, "hot", True,
...                                  scored_at=at)])
>>> period = {"start": day + timedelta(hours=12), "end": day + timedelta(days=2)}
>>> alerts = notify_movers(store, None, **period)
>>> [(d.payload["event"], d.payload["change"]) for d in alerts.deliveries]
[('lead.moved', 70)]
>>> notify_movers(store, None, **period).queued  # the same move again: already queued
0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection

from leadscore.explain.wording import field_label
from leadscore.monitor.movers import Mover, movers
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.store import (
    DeliveryRecord,
    NewDelivery,
    OverrideRecord,
    Store,
    WebhookRecord,
)
from leadscore.store.webhook_reads import queued_deliveries
from leadscore.webhooks.triggers import MOVED, override_fields

#: the smallest move that alerts, in score points (0–100), as the ``jump`` webhooks'
MIN_MOVE = 30
#: the most movers one run alerts about (the largest moves first)
NOTIFY_LIMIT = 500
#: the override that takes a lead out of the work queue, and out of its webhooks
_EXCLUDE = "exclude"


class ScoreRef(NamedTuple):
    """One of the two scores a move compares: its id in the store and its calibrated
    probability (what a :class:`~leadscore.monitor.movers.Mover` does not carry)."""

    id: int
    score: float


@dataclass(frozen=True)
class MoverAlerts:
    """What a run of :func:`notify_movers` found and queued.

    Attributes
    ----------
    start, end:
        The period (UTC).
    min_move:
        The smallest move alerted, in points.
    movers:
        The period's movers that moved at least ``min_move`` points, largest first.
    webhooks:
        The ids of the active webhooks subscribed to ``moved``.
    deliveries:
        The ``lead.moved`` deliveries queued by this run.
    already_queued:
        Alerts not queued again: the webhook has one for that move from an earlier run.
    excluded:
        Movers alerting nobody: leads excluded by a sales override.
    limited:
        Whether the run stopped at its ``limit`` of movers (there may be more).
    """

    start: datetime
    end: datetime
    min_move: int
    movers: tuple[Mover, ...]
    webhooks: tuple[int, ...]
    deliveries: tuple[DeliveryRecord, ...]
    already_queued: int
    excluded: tuple[str, ...]
    limited: bool

    @property
    def queued(self) -> int:
        """How many alerts this run queued."""
        return len(self.deliveries)

    @property
    def text(self) -> str:
        """One line for a person (or a cron log).

        Example
        -------
        >>> now = datetime(2026, 3, 2, tzinfo=UTC)
        >>> print(MoverAlerts(now - timedelta(days=1), now, 30, (), (1,), (), 0, (), False).text)
        0 lead.moved alerts queued for 0 movers of ≥ 30 points,
        2026-03-01 00:00 – 2026-03-02 00:00 UTC, to 1 webhook
        """
        period = f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"
        hooks = f"{len(self.webhooks)} webhook" + ("" if len(self.webhooks) == 1 else "s")
        line = (
            f"{self.queued} lead.moved alerts queued for {len(self.movers)} movers of "
            f"≥ {self.min_move} points, {period}, to {hooks}"
        )
        if self.already_queued:
            line += f"; {self.already_queued} queued by an earlier run"
        if self.excluded:
            line += f"; {len(self.excluded)} excluded by an override"
        return line

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the counts, and each queued alert's delivery, webhook, lead, change."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "min_move": self.min_move,
            "movers": len(self.movers),
            "webhooks": len(self.webhooks),
            "queued": self.queued,
            "already_queued": self.already_queued,
            "excluded": len(self.excluded),
            "limited": self.limited,
            "alerts": [
                {"delivery_id": d.id, "webhook_id": d.webhook_id, "lead_id": d.lead_id,
                 "change": d.payload["change"]}
                for d in self.deliveries
            ],
        }  # fmt: skip


def notify_movers(
    store: Store,
    scorer: FastScorer | None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    min_move: int = MIN_MOVE,
    limit: int = NOTIFY_LIMIT,
) -> MoverAlerts:
    """Queue a ``lead.moved`` delivery to each active webhook subscribed to ``moved`` for
    each lead whose score moved by at least ``min_move`` points over ``[start, end)`` (up
    or down), once per move (see the module's notes), in one transaction.

    Parameters
    ----------
    store:
        The score store: the scores, the webhooks and their deliveries.
    scorer:
        The served model's scorer, which explains each move field by field (as
        :func:`~leadscore.monitor.movers.movers`); None: causes only, no field reasons.
    start, end:
        The period; default the last day up to now. Naive times are UTC.
    min_move:
        The smallest move, in score points (1–100).
    limit:
        The most movers alerted about, the largest moves first.

    Raises
    ------
    ValueError
        A period that does not start before it ends, ``min_move`` outside 1–100 or
        ``limit`` under 1 (each names the field).

    Example
    -------
    >>> alerts = notify_movers(store, None)  # nothing scored: nothing moved
    >>> alerts.queued, alerts.movers
    (0, ())
    """
    if isinstance(min_move, bool) or not isinstance(min_move, int) or not 1 <= min_move <= 100:
        raise ValueError(
            f"min_move must be a whole number of points from 1 to 100, not {min_move!r}"
        )
    if limit < 1:
        raise ValueError(f"limit must be 1 or more, not {limit!r}")
    start, end = _period(start, end)
    found = tuple(movers(store, scorer, start=start, end=end, min_jump=min_move, limit=limit))
    limited = len(found) == limit
    if not found:
        hook_ids = tuple(h.id for h in store.webhooks.all() if MOVED in h.kinds)
        return MoverAlerts(start, end, min_move, (), hook_ids, (), 0, (), limited)
    ids = sorted({m.lead_id for m in found})
    # the movers' leads locked (no score is added): a second run at once waits for this
    # one, then sees its deliveries
    with store.scores.scoring(ids) as writer:
        conn = writer.connection
        hooks = [h for h in store.webhooks.active_on(conn) if MOVED in h.kinds]
        overrides = store.overrides.active_on(conn, ids, writer.now)
        pinned = {lead_id: o.segment for lead_id, o in overrides.items()}
        excluded = tuple(m.lead_id for m in found if pinned.get(m.lead_id) == _EXCLUDE)
        alerted = [m for m in found if m.lead_id not in excluded]
        outbox, already = _outbox(store, conn, alerted, hooks, overrides, start, end)
        queued = store.webhooks.enqueue(conn, outbox, writer.now)
        writer.add([])  # nothing to score; without it the transaction rolls back
    return MoverAlerts(
        start, end, min_move, found, tuple(h.id for h in hooks), tuple(queued), already,
        excluded, limited,
    )  # fmt: skip


def _outbox(
    store: Store,
    conn: Connection,
    found: Sequence[Mover],
    hooks: Sequence[WebhookRecord],
    overrides: Mapping[str, OverrideRecord],
    start: datetime,
    end: datetime,
) -> tuple[list[NewDelivery], int]:
    """The deliveries to queue (one per webhook and mover not alerted yet) and how many
    alerts were queued already by an earlier run, read on ``conn`` (the run's transaction)."""
    if not hooks or not found:
        return [], 0
    queued = queued_deliveries(
        conn, MOVED, [h.id for h in hooks], sorted({m.lead_id for m in found})
    )
    sent = {(hook_id, lead_id, payload.get("score_id")) for hook_id, lead_id, payload in queued}
    pairs = _scored(store, conn, found)
    outbox: list[NewDelivery] = []
    already = 0
    for mover, (before, after) in zip(found, pairs, strict=True):
        payload = moved_payload(
            mover, before, after, overrides.get(mover.lead_id), start=start, end=end
        )
        for hook in hooks:
            if (hook.id, mover.lead_id, after.id) in sent:
                already += 1
            else:
                outbox.append(NewDelivery(hook.id, mover.lead_id, MOVED, payload))
    return outbox, already


def moved_payload(
    mover: Mover,
    before: ScoreRef,
    after: ScoreRef,
    override: OverrideRecord | None,
    *,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """The ``lead.moved`` body: the lead's score after the move (``score``,
    ``score_100``, ``segment``, ``model_version``, ``scored_at``, ``score_id``) and before
    it (the same with ``previous_``), as the ``lead.hot`` / ``lead.jump`` payloads name
    them; the ``change`` in points, the ``causes``, the ``reasons`` (field, label, value
    before and after, points, text: the words and numbers of ``GET
    /v1/monitoring/movers``), the ``period``, and the override fields.

    Example
    -------
    >>> at = datetime(2026, 3, 2, tzinfo=UTC)
    >>> mover = Mover("L1", 20, 90, "cold", "hot", at, at + timedelta(days=1), "3", "4",
    ...               ("model",))
    >>> body = moved_payload(mover, ScoreRef(1, 0.2), ScoreRef(2, 0.9), None,
    ...                      start=at, end=at + timedelta(days=2))
    >>> body["event"], body["score_id"], body["previous_score"], body["change"]
    ('lead.moved', 2, 0.2, 70)
    """
    record = mover.to_dict()
    reasons = [{**r, "label": field_label(r["field"])} for r in record["reasons"]]
    standard: dict[str, Any] = {
        "event": f"lead.{MOVED}",
        "triggers": [MOVED],
        "lead_id": mover.lead_id,
        "score_id": after.id,
        "score": after.score,
        "score_100": mover.after,
        "segment": mover.segment_after,
        "model_version": mover.model_after,
        "scored_at": record["scored_after"],
        "previous_score": before.score,
        "previous_score_100": mover.before,
        "previous_segment": mover.segment_before,
        "previous_model_version": mover.model_before,
        "previous_scored_at": record["scored_before"],
        "change": mover.change,
        "causes": list(mover.causes),
        "reasons": reasons,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
    }
    return {**standard, **override_fields(override, mover.segment_after)}


def _scored(
    store: Store, conn: Connection, found: Sequence[Mover]
) -> list[tuple[ScoreRef, ScoreRef]]:
    """The ids and probabilities of the two scores each mover compares: the lead's last
    score at or before each of its two times (of two scores at one time the later stored,
    as the movers' query chose), read on ``conn``."""
    wanted = [(m.lead_id, at) for m in found for at in (m.scored_before, m.scored_after)]
    refs = []
    for (lead_id, at), score in zip(wanted, store.scores.at(wanted, conn), strict=True):
        if score is None:  # scores are never deleted: the movers' query just read it
            raise LookupError(f"lead {lead_id!r} has no score at {at.isoformat()} any more")
        refs.append(ScoreRef(score.id, score.score))
    return list(zip(refs[::2], refs[1::2], strict=True))


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The period in UTC, by default the day up to ``end`` (now); ValueError for times
    that do not fit a datetime in UTC (e.g. year 1 east of Greenwich)."""
    try:
        end = _utc(end) if end is not None else datetime.now(UTC)
        return (_utc(start) if start is not None else end - timedelta(days=1)), end
    except OverflowError:
        raise ValueError(f"the period ({start} to {end}) is out of the range of dates") from None


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
