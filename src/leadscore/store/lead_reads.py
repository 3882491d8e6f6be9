"""One lead's stored state in one read: its attributes, score history, latest outcome and
the sales override in force (what ``GET /v1/leads/{id}`` answers).

Four repository reads would open four ORM sessions and transactions, which cost several
times the queries themselves on a lead with a short history; :func:`lead_state` runs the
same four queries as Core statements on one connection, in one transaction, so they also
see one snapshot of the store.

Example
-------
>>> from leadscore.store import NewScore
>>> with store.scores.scoring(["L1"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.4, 40, "warm", False)])
>>> with store.scores.scoring(["L1"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
>>> state = lead_state(store, "L1", history=10)
>>> [s.score_100 for s in state.scores], state.outcome, state.override
([90, 40], None, None)
>>> lead_state(store, "nobody", history=10) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from leadscore.store.checks import clamp_limit
from leadscore.store.events import outcome_record
from leadscore.store.leads import LEADS, lead_record
from leadscore.store.overrides import OverrideRecord
from leadscore.store.records import LeadRecord, OutcomeRecord, ScoreRecord
from leadscore.store.score_rows import score_record
from leadscore.store.scoring import SCORES
from leadscore.store.store import Store
from leadscore.store.tables import Outcome, utcnow

_OUTCOMES = Outcome.__table__
_LEAD = select(LEADS).where(LEADS.c.id == bindparam("lead"))
_HISTORY = (
    select(SCORES)
    .where(SCORES.c.lead_id == bindparam("lead"))
    .order_by(SCORES.c.scored_at.desc(), SCORES.c.id.desc())
    .limit(bindparam("limit"))
)
_OUTCOME = (
    select(_OUTCOMES)
    .where(_OUTCOMES.c.lead_id == bindparam("lead"))
    .order_by(_OUTCOMES.c.id.desc())
    .limit(1)
)


@dataclass(frozen=True)
class LeadState:
    """A stored lead as one snapshot: ``scores`` newest first."""

    lead: LeadRecord
    scores: list[ScoreRecord]
    outcome: OutcomeRecord | None
    override: OverrideRecord | None


def lead_state(
    store: Store, lead_id: str, history: int = 50, now: datetime | None = None
) -> LeadState | None:
    """The lead's attributes, its ``history`` latest scores, latest outcome and the
    override in force at ``now`` (default: now), read in one transaction; None when the
    store knows nothing about the lead.

    Parameters
    ----------
    store:
        The score store.
    lead_id:
        The lead.
    history:
        At most this many scores, newest first (clamped like every list read).
    now:
        When the override must be in force.
    """
    when = now or utcnow()
    with store.engine.connect() as conn, conn.begin():
        row = conn.execute(_LEAD, {"lead": lead_id}).first()
        if row is None:
            return None
        rows = conn.execute(_HISTORY, {"lead": lead_id, "limit": clamp_limit(history)})
        scores = [score_record(r) for r in rows]
        found = conn.execute(_OUTCOME, {"lead": lead_id}).first()
        outcome = None if found is None else outcome_record(found)
        override = store.overrides.active_on(conn, [lead_id], when).get(lead_id)
    return LeadState(lead_record(row), scores, outcome, override)
