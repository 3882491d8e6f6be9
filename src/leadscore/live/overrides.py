"""Sales overrides, live: setting and clearing them with the webhooks they fire, a lead's
segment as sales sees it, and the work queue that respects them.

A rep's override (:mod:`leadscore.store.overrides`) pins a lead's segment to ``hot``,
``warm`` or ``cold``, or ``exclude``\\s it from the work queue. The model goes on scoring
underneath: the score history keeps the model's own segments, and every answer shows the
override's segment beside the model's (:func:`effective_segment`).

* **Webhooks.** Setting or clearing an override that turns the lead hot (from what it
  counted as before: its previous override, else the model's latest segment) queues one
  ``lead.hot`` delivery per webhook subscribed to ``hot``, with ``overridden`` saying
  whether an override made it hot, **in the override's own transaction** (the lead
  locked, as a scoring transaction locks it): the override is stored with its
  notifications, or neither is. Scores of an overridden lead fire no ``hot``
  (:mod:`leadscore.live.outbox`).
* **The work queue.** Excluded leads never appear. A lead pinned to a segment is listed
  in that segment's queue, first (pins in the order they were set, oldest first), and not
  in its model segment's; the counts per segment follow. With overrides in force the whole
  queue lists hot, then warm, then cold, each so; without any it is the model's score
  order, as ever.
* **Overrides stay data**: nothing here, nor in training, uses them as outcomes.

Example
-------
>>> from leadscore.store import NewScore
>>> with store.scores.scoring(["L1", "L2"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
...                     NewScore("L2", "3", 0.2, 20, "cold", False)])
>>> change = set_override(store, "L2", "hot", "VIP referral", "maria")
>>> change.segment, change.model_segment
('hot', 'cold')
>>> [(q.record.lead_id, q.segment) for q in work_queue(store, "hot").leads]
[('L2', 'hot'), ('L1', 'hot')]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection

from leadscore.store import (
    DeliveryRecord,
    NewDelivery,
    NotFoundError,
    OverrideRecord,
    ScoreRecord,
    Store,
)
from leadscore.webhooks.triggers import HOT, HOT_SEGMENT, override_payload

#: the override that takes a lead out of the work queue
EXCLUDE = "exclude"
#: the order of the whole work queue when overrides are in force
QUEUE_ORDER = ("hot", "warm", "cold")


def effective_segment(model_segment: str | None, override: OverrideRecord | None) -> str | None:
    """The lead's segment as sales sees it: the override's while one is in force (``exclude``
    included), else the model's.

    Example
    -------
    >>> effective_segment("warm", None)
    'warm'
    """
    return model_segment if override is None else override.segment


def effective_contact(model_contact: bool, override: OverrideRecord | None) -> bool:
    """Whether to contact the lead: an override to ``hot`` says yes, to ``cold`` or
    ``exclude`` no, to ``warm`` leaves the model's decision.

    Example
    -------
    >>> effective_contact(True, None)
    True
    """
    if override is None or override.segment == "warm":
        return model_contact
    return override.segment == HOT_SEGMENT


def through_day(day: date) -> datetime:
    """The end of ``day`` (UTC): an override "until 2026-12-31" holds through that day.

    Example
    -------
    >>> through_day(date(2026, 12, 31)).isoformat()
    '2027-01-01T00:00:00+00:00'
    """
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


# ----------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class OverrideChange:
    """What setting or clearing an override did."""

    lead_id: str
    #: the override in force now (None after a clear)
    override: OverrideRecord | None
    #: the override in force before: the one replaced, or the one cleared
    previous: OverrideRecord | None
    #: the model's latest score of the lead (None: not scored yet)
    latest: ScoreRecord | None
    #: the ``lead.hot`` deliveries queued with the change
    deliveries: tuple[DeliveryRecord, ...] = ()

    @property
    def model_segment(self) -> str | None:
        """The model's own segment (None: not scored yet)."""
        return None if self.latest is None else self.latest.segment

    @property
    def segment(self) -> str | None:
        """What the lead counts as now."""
        return effective_segment(self.model_segment, self.override)


class _Notify:
    """The ``then`` of an override change: in its transaction, read the model's latest
    score and queue a ``lead.hot`` delivery per webhook if the change turned the lead hot."""

    def __init__(self, store: Store, lead_id: str) -> None:
        self.store, self.lead_id = store, lead_id
        self.latest: ScoreRecord | None = None
        self.before: OverrideRecord | None = None
        self.deliveries: list[DeliveryRecord] = []

    def __call__(
        self, conn: Connection, before: OverrideRecord | None, after: OverrideRecord | None
    ) -> None:
        self.before = before
        self.latest = self.store.scores.latest_many([self.lead_id], conn).get(self.lead_id)
        model = None if self.latest is None else self.latest.segment
        was, now = effective_segment(model, before), effective_segment(model, after)
        if now != HOT_SEGMENT or was == HOT_SEGMENT:
            return
        hooks = [h for h in self.store.webhooks.active_on(conn) if HOT in h.kinds]
        if not hooks:
            return
        payload = override_payload(
            lead_id=self.lead_id, previous_segment=was, override=after, latest=self.latest
        )
        outbox = [NewDelivery(h.id, self.lead_id, HOT, payload) for h in hooks]
        self.deliveries = self.store.webhooks.enqueue(conn, outbox, datetime.now(UTC))


def set_override(
    store: Store,
    lead_id: str,
    segment: str,
    reason: str,
    author: str,
    until: datetime | None = None,
) -> OverrideChange:
    """Pin a known lead's segment (``hot``, ``warm``, ``cold``) or exclude it from the work
    queue, replacing its current override, with the ``lead.hot`` webhooks the change fires
    queued in the same transaction (see the module's notes).

    Example
    -------
    >>> _ = store.leads.upsert("L1", {})
    >>> set_override(store, "L1", "exclude", "existing customer", "maria").segment
    'exclude'
    """
    notify = _Notify(store, lead_id)
    record = store.overrides.set(lead_id, segment, reason, author, until, then=notify)
    return OverrideChange(lead_id, record, notify.before, notify.latest, tuple(notify.deliveries))


def clear_override(store: Store, lead_id: str, by: str) -> OverrideChange:
    """End a known lead's override now (kept as data); ``previous`` is the cleared one
    (None when none was in force, and then nothing changes). Clearing an override that
    kept a model-hot lead out of hot queues its ``lead.hot``.

    Example
    -------
    >>> _ = store.leads.upsert("L1", {})
    >>> _ = set_override(store, "L1", "cold", "not a buyer", "maria")
    >>> clear_override(store, "L1", "maria").previous.segment
    'cold'
    """
    if store.leads.get(lead_id) is None:
        raise NotFoundError(f"no lead with id {lead_id!r}")
    notify = _Notify(store, lead_id)
    cleared = store.overrides.clear(lead_id, by, then=notify)
    latest = notify.latest if cleared is not None else store.scores.latest(lead_id)
    return OverrideChange(lead_id, None, cleared, latest, tuple(notify.deliveries))


def overrides_in_force(
    store: Store, now: datetime | None = None
) -> list[tuple[OverrideRecord, ScoreRecord | None]]:
    """Every override in force, oldest first, with the lead's latest model score.

    Example
    -------
    >>> _ = store.leads.upsert("L1", {})
    >>> _ = set_override(store, "L1", "hot", "VIP referral", "maria")
    >>> [(o.lead_id, latest) for o, latest in overrides_in_force(store)]
    [('L1', None)]
    """
    active = store.overrides.active(now=now)
    latest = store.scores.latest_many(active)
    return [(o, latest.get(o.lead_id)) for o in sorted(active.values(), key=lambda o: o.id)]


# ----------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueuedLead:
    """One lead of the work queue: the model's latest score and the override in force."""

    record: ScoreRecord
    override: OverrideRecord | None = None

    @property
    def segment(self) -> str:
        """The segment it is queued in."""
        return self.record.segment if self.override is None else self.override.segment

    @property
    def contact(self) -> bool:
        """Whether to contact it (see :func:`effective_contact`)."""
        return effective_contact(self.record.contact, self.override)


@dataclass(frozen=True)
class WorkQueue:
    """A page of the work queue and the leads per segment (overrides counted)."""

    leads: list[QueuedLead]
    counts: dict[str, int]


#: how old the work queue's counts per segment may be (seconds): counting reads every
#: lead's latest score, and a busy CRM asks for the queue many times a second
COUNTS_MAX_AGE_S = 1.0


def work_queue(
    store: Store,
    segment: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> WorkQueue:
    """The work queue as sales sees it (see the module's notes): scored leads, best first,
    optionally only one segment, overrides in force at ``now`` (default: now) respected.

    Example
    -------
    >>> from leadscore.store import NewScore
    >>> with store.scores.scoring(["L1", "L2"]) as writer:
    ...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
    ...                     NewScore("L2", "3", 0.8, 80, "hot", True)])
    >>> _ = set_override(store, "L1", "exclude", "existing customer", "maria")
    >>> queue = work_queue(store, "hot")
    >>> [q.record.lead_id for q in queue.leads], queue.counts["hot"]
    (['L2'], 1)
    """
    when = now or datetime.now(UTC)
    active = store.overrides.active(now=when)
    if not active:
        records = store.scores.ranked(segment, limit, offset)
        counts = store.scores.segment_counts(max_age_s=COUNTS_MAX_AGE_S)
        return WorkQueue([QueuedLead(r) for r in records], counts)
    latest = store.scores.latest_many(active)
    pins: dict[str, list[QueuedLead]] = {}
    for override in sorted(active.values(), key=lambda o: o.id):
        if override.segment != EXCLUDE and override.lead_id in latest:
            pins.setdefault(override.segment, []).append(
                QueuedLead(latest[override.lead_id], override)
            )
    # the leads with an override in force are counted where sales placed them, not by
    # their score: taken out of the (cached) counts here, not by a count of its own
    model_counts = store.scores.segment_counts(max_age_s=COUNTS_MAX_AGE_S)
    for record in latest.values():
        model_counts[record.segment] = model_counts.get(record.segment, 0) - 1
    counts = dict(model_counts)
    for pinned_segment, pinned in pins.items():
        counts[pinned_segment] = counts.get(pinned_segment, 0) + len(pinned)
    segments = (
        [segment]
        if segment is not None
        else [*QUEUE_ORDER, *sorted(set(model_counts) - set(QUEUE_ORDER))]
    )
    leads: list[QueuedLead] = []
    skip, room = max(0, offset), max(0, limit)
    for name in segments:
        pinned = pins.get(name, [])
        page = pinned[skip : skip + room]
        leads += page
        room -= len(page)
        skip = max(0, skip - len(pinned))
        size = model_counts.get(name, 0)
        if room <= 0:
            break
        if skip >= size:
            skip -= size
            continue
        records = store.scores.ranked(name, room, skip, without_overrides_at=when)
        leads += [QueuedLead(r) for r in records]
        room -= len(records)
        skip = 0
    return WorkQueue(leads, counts)
