"""Capacity, live: a team that can make ``per_period`` contacts a day (or a week) contacts
the best leads of the period, a rolling quota that the API's ``contact`` and the work
queue honour (``[capacity]`` in the settings; off by default, and then nothing here runs).

The rule, for the period that started at midnight (the team's time zone; a week starts
on Monday) — its leads are those whose latest score was made in it:

* **Held slots.** A lead pinned ``hot`` by a salesperson is contacted and uses a slot
  (the override wins even past the limit). A lead *worked* in the period (an outcome
  recorded in it) keeps its slot if the model's decision was to contact it: the contact
  was made, a better lead arriving later does not take it back.
* **Candidates.** The other period leads the model would contact, with no person's
  decision on them (no override, or a ``warm`` one, which leaves the model's decision),
  and no outcome recorded: the best of them, by score, fill the slots the held ones
  leave (``limit − held``). A lead that arrives better than the period's cut-off (the
  weakest candidate inside the quota, once it is full) takes its slot: the weakest one
  not yet worked drops out, ``contact: false``.
* **No slot.** Pinned ``cold`` or ``exclude`` (not contacted, as without capacity), an
  outcome recorded before the period (closed), the model's "do not contact", and leads
  last scored before the period: yesterday's leads are not today's quota until they are
  scored again (a pinned-hot one is still contacted, by its override).

The score history keeps the model's own decision; the quota is worked out when an answer
is made (one read of the period's held leads and best candidates, the leads being scored
placed by their new scores), so it follows outcomes, overrides and expiries at once.
Two requests scored at the same instant each see the other's lead only once it is
stored, so a quota can be passed by one lead for a moment; the next answer and the work
queue are exact. Webhooks follow the model's segments, as before (``lead.hot`` says
nothing about the quota).

Example
-------
>>> from datetime import datetime, UTC
>>> from leadscore.config import CapacitySettings
>>> from leadscore.store import NewScore
>>> with store.scores.scoring(["L1", "L2", "L3"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
...                     NewScore("L2", "3", 0.7, 70, "warm", True),
...                     NewScore("L3", "3", 0.6, 60, "warm", True)])
>>> quota = period_quota(store, CapacitySettings(per_period=2))
>>> sorted(quota.contacted), quota.used, quota.limit, quota.cutoff_100
(['L1', 'L2'], 2, 2, 70)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from leadscore.config import CapacitySettings
from leadscore.live.overrides import QueuedLead, effective_contact
from leadscore.store import OverrideRecord, ScoreRecord, Store
from leadscore.store.capacity import WORKED, Candidate
from leadscore.webhooks.triggers import HOT_SEGMENT


def period_start(settings: CapacitySettings, now: datetime | None = None) -> datetime:
    """When the current period began (UTC): midnight of today, or of this week's Monday,
    in the team's time zone.

    Example
    -------
    >>> from leadscore.config import CapacitySettings
    >>> week = CapacitySettings(per_period=50, period="week", timezone="Europe/Madrid")
    >>> period_start(week, datetime(2026, 3, 5, 12, tzinfo=UTC)).isoformat()
    '2026-03-01T23:00:00+00:00'
    """
    zone = ZoneInfo(settings.timezone)
    local = (now or datetime.now(UTC)).astimezone(zone)
    day = local.date()
    if settings.period == "week":
        day -= timedelta(days=day.weekday())
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Quota:
    """The period's quota: who is contacted, how many slots are used, and the cut-off."""

    limit: int
    period: str
    #: when the period began (UTC)
    since: datetime
    #: the period's leads contacted under the quota (held slots and candidates within it)
    contacted: frozenset[str]
    #: slots used: held ones plus candidates within the quota
    used: int
    #: once the quota is full, the weakest candidate's score within it (0–1 and 0–100): a
    #: lead must score above it to be contacted; None while slots are free
    cutoff: float | None = None
    cutoff_100: int | None = None

    @property
    def full(self) -> bool:
        """Whether every slot of the period is taken."""
        return self.used >= self.limit


@dataclass(frozen=True)
class CapacityDecision:
    """One lead's contact under the quota (what an answer says), with the quota."""

    contact: bool
    #: the lead holds one of the period's slots
    within: bool
    quota: Quota


@dataclass(frozen=True)
class Placed:
    """A lead the caller places itself (just scored: the store's read may not see its new
    score yet), with its override in force."""

    record: ScoreRecord
    override: OverrideRecord | None = None


def _model_contact(record: ScoreRecord) -> bool:
    """The model's own contact decision: an explored lead is contacted on top of the
    quota (:mod:`leadscore.scoring.exploration`), never in one of its slots."""
    return record.contact and not record.explored


def _held(placed: Placed, outcome: str | None) -> bool:
    pin = None if placed.override is None else placed.override.segment
    if pin == HOT_SEGMENT:
        return True
    return pin in (None, "warm") and outcome == WORKED and _model_contact(placed.record)


def _candidate(placed: Placed, outcome: str | None) -> bool:
    pin = None if placed.override is None else placed.override.segment
    return pin in (None, "warm") and outcome is None and _model_contact(placed.record)


def period_quota(
    store: Store,
    settings: CapacitySettings,
    placed: Sequence[Placed] = (),
    now: datetime | None = None,
) -> Quota:
    """The current period's quota (see the module's notes), with the ``placed`` leads at
    their given scores and overrides instead of what the store holds for them.

    Example
    -------
    >>> from leadscore.config import CapacitySettings
    >>> period_quota(store, CapacitySettings(per_period=10)).used
    0
    """
    if settings.per_period is None:
        raise ValueError("no capacity is set ([capacity] per_period)")
    limit = settings.per_period
    when = now or datetime.now(UTC)
    since = period_start(settings, when)
    ids = [p.record.lead_id for p in placed]
    stored = store.capacity.period(since, limit, leave_out=ids, now=when)
    outcomes = store.capacity.outcomes_since(ids, since) if ids else {}
    held = set(stored.held)
    candidates = list(stored.candidates)
    for item in placed:
        record = item.record
        if record.scored_at < since:  # not a lead of this period (a stored score)
            continue
        outcome = outcomes.get(record.lead_id)
        if _held(item, outcome):
            held.add(record.lead_id)
        elif _candidate(item, outcome):
            candidates.append(Candidate(record.lead_id, record.score, record.score_100))
    candidates.sort(key=lambda c: (-c.score, c.lead_id))
    room = max(0, limit - len(held))
    within = candidates[:room]
    used = len(held) + len(within)
    weakest = within[-1] if within and used >= limit else None
    return Quota(
        limit=limit,
        period=settings.period,
        since=since,
        contacted=frozenset(held | {c.lead_id for c in within}),
        used=used,
        cutoff=None if weakest is None else weakest.score,
        cutoff_100=None if weakest is None else weakest.score_100,
    )


def decide(quota: Quota, record: ScoreRecord, override: OverrideRecord | None) -> CapacityDecision:
    """A lead's contact under ``quota``: a ``hot`` override says yes and ``cold`` or
    ``exclude`` no, as without capacity; otherwise only a lead holding a slot of the
    period is contacted.

    Example
    -------
    >>> from leadscore.config import CapacitySettings
    >>> from leadscore.store import NewScore
    >>> with store.scores.scoring(["L1"]) as writer:
    ...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
    >>> record = store.scores.latest("L1")
    >>> decide(period_quota(store, CapacitySettings(per_period=1)), record, None).contact
    True
    """
    within = record.lead_id in quota.contacted
    if override is not None and override.segment != "warm":
        return CapacityDecision(effective_contact(record.contact, override), within, quota)
    return CapacityDecision(within, within, quota)


def decisions(
    store: Store, settings: CapacitySettings, placed: Sequence[Placed]
) -> list[CapacityDecision]:
    """Each ``placed`` lead's decision under the current quota, the quota worked out with
    them at their given (new) scores: one read of the store.

    Example
    -------
    >>> from leadscore.config import CapacitySettings
    >>> from leadscore.store import NewScore
    >>> with store.scores.scoring(["L1", "L2"]) as writer:
    ...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
    ...                     NewScore("L2", "3", 0.8, 80, "hot", True)])
    >>> records = store.scores.latest_many(["L1", "L2"]).values()
    >>> found = decisions(store, CapacitySettings(per_period=1), [Placed(r) for r in records])
    >>> [d.contact for d in found], found[0].quota.used
    ([True, False], 1)
    """
    quota = period_quota(store, settings, placed)
    return [decide(quota, p.record, p.override) for p in placed]


def queue_contacts(quota: Quota, queued: Iterable[QueuedLead]) -> list[CapacityDecision]:
    """The decision for each lead of a work-queue page under ``quota``.

    Example
    -------
    >>> from leadscore.config import CapacitySettings
    >>> from leadscore.live.overrides import work_queue
    >>> from leadscore.store import NewScore
    >>> with store.scores.scoring(["L1", "L2"]) as writer:
    ...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
    ...                     NewScore("L2", "3", 0.8, 80, "hot", True)])
    >>> quota = period_quota(store, CapacitySettings(per_period=1))
    >>> [d.contact for d in queue_contacts(quota, work_queue(store, "hot").leads)]
    [True, False]
    """
    return [decide(quota, q.record, q.override) for q in queued]
