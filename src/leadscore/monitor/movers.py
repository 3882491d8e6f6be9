"""Movers: the leads whose score moved most over a period, and why.

For each lead scored in the period ``[start, end)``, its last score there is compared with
its last score before ``start``. A move has causes, read from the store:

* ``behaviour`` — events happened between the two scores (by the events' own time);
* ``attributes`` — its CRM fields changed between them (the lead's attribute history);
* ``model`` — the two scores came from different model versions (a retraining, a new
  champion).

and reasons: the lead's inputs as they were at each score (its events up to that time,
its attributes as of then) explained by the model given, field by field; the fields whose
points changed most are the move's reasons, e.g. "Demo requests: 0 → 2: +31". A move the
model alone caused has no field reasons (the inputs did not change).

Example
-------
>>> from datetime import UTC, datetime, timedelta
>>> from leadscore.store import NewScore
>>> day = datetime(2026, 3, 2, tzinfo=UTC)
>>> with store.scores.scoring(["L1"]) as writer:
...     _ = writer.add([NewScore("L1", "1", 0.2, 20, "cold", False, scored_at=day)])
>>> with store.scores.scoring(["L1"]) as writer:
...     _ = writer.add([NewScore("L1", "2", 0.9, 90, "hot", True,
...                              scored_at=day + timedelta(days=1))])
>>> (mover,) = movers(store, None, start=day + timedelta(hours=12), end=day + timedelta(days=2))
>>> mover.lead_id, mover.change, mover.causes
('L1', 70, ('model',))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from leadscore.explain.wording import field_label
from leadscore.monitor.frames import plain
from leadscore.monitor.inputs import inputs_at
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.scoring.reasons import describe_value
from leadscore.store import Store

#: causes of a move, in the order they are listed
BEHAVIOUR, ATTRIBUTES, MODEL = "behaviour", "attributes", "model"


@dataclass(frozen=True)
class FieldMove:
    """One input's part in a move: its value at each score and its points' change."""

    field: str
    before: Any
    after: Any
    points: float

    @property
    def text(self) -> str:
        """E.g. ``Demo requests: 0 → 2: +31``."""
        before, after = describe_value(self.before, None), describe_value(self.after, None)
        values = f"{before} → {after}" if before != after else after
        return f"{field_label(self.field)}: {values}: {self.points:+.0f}"


@dataclass(frozen=True)
class Mover:
    """A lead whose score moved over the period (0–100 points)."""

    lead_id: str
    before: int
    after: int
    segment_before: str
    segment_after: str
    scored_before: datetime
    scored_after: datetime
    model_before: str
    model_after: str
    causes: tuple[str, ...]
    reasons: tuple[FieldMove, ...] = field(default=())

    @property
    def change(self) -> int:
        return self.after - self.before

    @property
    def text(self) -> str:
        """One line: the move, its causes and first reasons."""
        what = f"{self.lead_id}: {self.before} → {self.after} ({self.change:+d})"
        why = ", ".join(self.causes) or "no recorded cause"
        if MODEL in self.causes:
            why = why.replace(MODEL, f"model {self.model_before} → {self.model_after}")
        reasons = "; ".join(r.text for r in self.reasons)
        return f"{what} — {why}" + (f" — {reasons}" if reasons else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "lead_id": self.lead_id, "before": self.before, "after": self.after,
            "change": self.change, "segment_before": self.segment_before,
            "segment_after": self.segment_after,
            "scored_before": self.scored_before.isoformat(),
            "scored_after": self.scored_after.isoformat(),
            "model_before": self.model_before, "model_after": self.model_after,
            "causes": list(self.causes),
            "reasons": [
                {"field": r.field, "before": plain(r.before), "after": plain(r.after),
                 "points": round(r.points, 2), "text": r.text}
                for r in self.reasons
            ],
        }  # fmt: skip


def movers(
    store: Store,
    scorer: FastScorer | None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    min_jump: int = 10,
    limit: int = 50,
    reasons: int = 3,
) -> list[Mover]:
    """The leads whose score moved by at least ``min_jump`` points over ``[start, end)``,
    the largest moves (up or down) first, at most ``limit``.

    Parameters
    ----------
    store:
        The score store (scores, events, attribute history).
    scorer:
        The scorer of the model that explains the moves field by field (the one serving:
        ``FastScorer(model)``); None: causes only, no field reasons.
    start, end:
        The period; default the last day up to now.
    min_jump:
        The smallest move, in score points.
    limit:
        How many movers at most.
    reasons:
        Field reasons per mover.
    """
    if min_jump < 0 or limit < 1 or reasons < 0:
        raise ValueError("min_jump and reasons must be 0 or more, limit 1 or more")
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - timedelta(days=1)
    if start >= end:
        raise ValueError(f"the period must start before it ends ({start} ≥ {end})")
    moved = _moves(store.scores.moves(start, end, min_jump=min_jump, limit=limit))
    moved = moved.loc[moved["change"].abs() >= min_jump].head(limit)
    out = []
    for row in moved.itertuples(index=False):
        causes = _causes(store, row)
        found: tuple[FieldMove, ...] = ()
        if scorer is not None and reasons and causes != (MODEL,):
            found = _field_moves(store, scorer, row, reasons)
        out.append(
            Mover(
                row.lead_id, int(row.score_100_before), int(row.score_100_after),
                row.segment_before, row.segment_after,
                row.scored_at_before.to_pydatetime(), row.scored_at_after.to_pydatetime(),
                row.model_version_before, row.model_version_after, causes, found,
            )
        )  # fmt: skip
    return out


#: the columns of ScoreRepository.moves, as the movers' frame names them
_MOVE_COLUMNS = [
    "lead_id", "score_100_before", "segment_before", "scored_at_before", "model_version_before",
    "score_100_after", "segment_after", "scored_at_after", "model_version_after",
]  # fmt: skip


def _moves(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The store's moves as a frame, the largest first (ties by lead id)."""
    both = pd.DataFrame(rows, columns=_MOVE_COLUMNS)
    for column in ("scored_at_before", "scored_at_after"):
        both[column] = pd.to_datetime(both[column], utc=True)
    both["change"] = both["score_100_after"] - both["score_100_before"]
    both = both.assign(size=both["change"].abs())
    return both.sort_values(["size", "lead_id"], ascending=[False, True], kind="stable")


def _causes(store: Store, row: Any) -> tuple[str, ...]:
    low, high = row.scored_at_before, row.scored_at_after
    causes = []
    # by the events' own time: what the features as of each score read
    if any(low < pd.Timestamp(e.time) <= high for e in store.events.for_lead(row.lead_id)):
        causes.append(BEHAVIOUR)
    history = store.leads.history([row.lead_id])
    if any(low < pd.Timestamp(changed) <= high for _, changed, _ in history[1:]):
        causes.append(ATTRIBUTES)
    if row.model_version_before != row.model_version_after:
        causes.append(MODEL)
    return tuple(causes)


def _field_moves(store: Store, scorer: FastScorer, row: Any, top: int) -> tuple[FieldMove, ...]:
    states = [
        inputs_at(store, scorer.model, row.lead_id, when.to_pydatetime())
        for when in (row.scored_at_before, row.scored_at_after)
    ]
    explained = scorer.contributions(states)
    points = explained.points()
    change = points[1] - points[0]
    order = np.argsort(-np.abs(change), kind="stable")
    out = []
    for i in order[:top]:
        if abs(change[i]) < 0.5:  # less than half a point: not a reason a person would see
            break
        name = explained.fields[i]
        out.append(FieldMove(name, states[0].get(name), states[1].get(name), float(change[i])))
    return tuple(out)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def movers_frame(found: Sequence[Mover]) -> pd.DataFrame:
    """Movers as a table (the dashboard's and the terminal's)."""
    return pd.DataFrame(
        [
            {
                "lead_id": m.lead_id, "before": m.before, "after": m.after, "change": m.change,
                "segment_before": m.segment_before, "segment_after": m.segment_after,
                "causes": ", ".join(m.causes), "reasons": "; ".join(r.text for r in m.reasons),
                "scored_at": m.scored_after,
            }
            for m in found
        ],
        columns=["lead_id", "before", "after", "change", "segment_before", "segment_after",
                 "causes", "reasons", "scored_at"],
    )  # fmt: skip
