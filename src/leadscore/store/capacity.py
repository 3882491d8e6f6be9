"""The period's contacts under a team's capacity (``store.capacity``): which leads of a
period hold a slot, and the best candidates for the others.

The rule is :mod:`leadscore.live.capacity`'s; here are the reads it needs, each one read
transaction, none on the scoring path unless a capacity is set. A *period lead* is a lead
whose latest score was made at or after ``since`` (an index range scan of the period's
scores, whatever the length of the history); for each, its override in force (if any)
and whether an outcome was recorded in the period or before it decide what it is:

* **held** — it keeps a slot: pinned ``hot``, or worked in the period (an outcome
  recorded since ``since``) while the model's latest decision was to contact it;
* **candidate** — the model would contact it, no person has decided it (no override, or
  a ``warm`` one, which leaves the model's decision) and no outcome is recorded: the
  best of these fill the slots left;
* anything else takes no slot (pinned ``cold`` or ``exclude``, closed before the period,
  or not worth a contact).

Example
-------
>>> from datetime import datetime, timedelta, UTC
>>> from leadscore.store import NewScore
>>> with store.scores.scoring(["L1", "L2", "L3"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
...                     NewScore("L2", "3", 0.7, 70, "warm", True),
...                     NewScore("L3", "3", 0.2, 20, "cold", False)])
>>> _ = store.overrides.set("L3", "hot", "VIP referral", "maria")
>>> period = store.capacity.period(datetime.now(UTC) - timedelta(hours=1), limit=5)
>>> period.held, [c.lead_id for c in period.candidates]
(('L3',), ['L1', 'L2'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, bindparam, case, exists, func, literal, null, or_, select

from leadscore.store.checks import CHUNK, clamp_limit
from leadscore.store.session import Repository
from leadscore.store.tables import LatestScore, Outcome, Override, Score, as_utc, utcnow

_SCORES = Score.__table__
_LATEST = LatestScore.__table__
_OUTCOMES = Outcome.__table__
_OVERRIDES = Override.__table__

#: how a lead's outcomes stand against the period: recorded in it, or only before it
WORKED, CLOSED = "worked", "closed"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A period lead the model would contact and nobody has decided yet."""

    lead_id: str
    score: float
    score_100: int


@dataclass(frozen=True, slots=True)
class PeriodContacts:
    """The period's leads as the quota sees them (see the module's notes)."""

    since: datetime
    #: leads that keep a slot (pinned hot, or worked while a contact), by lead id
    held: tuple[str, ...]
    #: candidates, best first (ties by lead id), at most the ``limit`` asked for
    candidates: tuple[Candidate, ...]


def _period_leads(since: datetime, now: datetime, leave_out: bool) -> Select[tuple[object, ...]]:
    """The period's leads: latest score (made since ``since``), the segment of the override
    in force at ``now`` (None: none), and whether an outcome was recorded in the period
    (``worked``) or at all (``closed``)."""
    # the lead's newest override, its segment if it is in force (one correlated lookup on
    # the (lead_id, id) index)
    in_force = and_(
        _OVERRIDES.c.cleared_at.is_(None),
        or_(_OVERRIDES.c.until.is_(None), _OVERRIDES.c.until > as_utc(now)),
    )
    pin = (
        select(case((in_force, _OVERRIDES.c.segment), else_=null()))
        .where(_OVERRIDES.c.lead_id == _SCORES.c.lead_id)
        .order_by(_OVERRIDES.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    outcome = _OUTCOMES.c.lead_id == _SCORES.c.lead_id
    query = (
        select(
            _SCORES.c.lead_id,
            _SCORES.c.score,
            _SCORES.c.score_100,
            # the model's own contact: an explored lead comes on top of the quota
            and_(_SCORES.c.contact, _SCORES.c.explored.is_(False)).label("contact"),
            pin.label("pin"),
            exists().where(outcome, _OUTCOMES.c.recorded_at >= as_utc(since)).label("worked"),
            exists().where(outcome).label("closed"),
        )
        .join(
            _LATEST,
            and_(_LATEST.c.lead_id == _SCORES.c.lead_id, _LATEST.c.score_id == _SCORES.c.id),
        )
        .where(_SCORES.c.scored_at >= as_utc(since))
    )
    if leave_out:
        query = query.where(_SCORES.c.lead_id.not_in(bindparam("leave_out", expanding=True)))
    return query


class CapacityRepository(Repository):
    """The reads behind a capacity per period (``store.capacity``)."""

    def period(
        self,
        since: datetime,
        limit: int,
        *,
        leave_out: Iterable[str] = (),
        now: datetime | None = None,
    ) -> PeriodContacts:
        """The leads of the period starting at ``since`` that hold a slot, and its best
        ``limit`` candidates (see the module's notes); overrides as in force at ``now``
        (default: now). ``leave_out``: leads the caller places itself (those it is
        scoring, whose new scores this read may not see yet).

        Example
        -------
        >>> from datetime import datetime, UTC
        >>> store.capacity.period(datetime(2026, 1, 1, tzinfo=UTC), limit=10).held
        ()
        """
        left_out = sorted(set(leave_out))
        params = {"leave_out": left_out} if left_out else {}
        leads = _period_leads(since, now or utcnow(), bool(left_out)).subquery()
        person = func.coalesce(leads.c.pin, literal("warm")) == literal("warm")
        contact = leads.c.contact.is_(True)
        held_query = select(leads.c.lead_id).where(
            or_(leads.c.pin == literal("hot"), and_(person, contact, leads.c.worked))
        )
        candidates_query = (
            select(leads.c.lead_id, leads.c.score, leads.c.score_100)
            .where(person, contact, ~leads.c.closed)
            .order_by(leads.c.score.desc(), leads.c.lead_id)
            .limit(clamp_limit(max(1, limit)))
        )
        with self._db.engine.begin() as conn:
            held = tuple(sorted(row[0] for row in conn.execute(held_query, params)))
            candidates = tuple(
                Candidate(row[0], float(row[1]), int(row[2]))
                for row in conn.execute(candidates_query, params)
            )
        return PeriodContacts(since, held, candidates if limit > 0 else ())

    def outcomes_since(self, lead_ids: Iterable[str], since: datetime) -> dict[str, str]:
        """How the outcomes of ``lead_ids`` stand against the period starting at ``since``:
        ``worked`` (one recorded in it) or ``closed`` (only before it); leads without an
        outcome are left out.

        Example
        -------
        >>> from datetime import datetime, UTC
        >>> _ = store.leads.upsert("L1", {})
        >>> _ = store.outcomes.add("L1", True)
        >>> store.capacity.outcomes_since(["L1", "L2"], datetime(2026, 1, 1, tzinfo=UTC))
        {'L1': 'worked'}
        """
        ids = sorted(set(lead_ids))
        start = as_utc(since)
        out: dict[str, str] = {}
        query = (
            select(_OUTCOMES.c.lead_id, func.max(_OUTCOMES.c.recorded_at))
            .where(_OUTCOMES.c.lead_id.in_(bindparam("ids", expanding=True)))
            .group_by(_OUTCOMES.c.lead_id)
        )
        if not ids:
            return out
        with self._db.engine.begin() as conn:
            for i in range(0, len(ids), CHUNK):
                for lead_id, last in conn.execute(query, {"ids": ids[i : i + CHUNK]}):
                    out[lead_id] = WORKED if as_utc(last) >= start else CLOSED
        return out
