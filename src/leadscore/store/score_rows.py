"""A score row as its frozen record, whichever way it was read: SQLAlchemy (ORM or Core)
or straight from sqlite3 on the hot reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadscore.store.json_columns import loads_json
from leadscore.store.records import ScoreRecord
from leadscore.store.tables import from_sqlite_time

#: the work queue's page on SQLite (``ScoreRepository.ranked``), in ``sqlite_score_record``'s
#: column order; ``{where}`` is empty or filters on the latest score's segment
SQLITE_RANKED = (
    "SELECT s.id, s.lead_id, s.model_version, s.score, s.score_100, s.segment, s.contact, "
    "s.reasons, s.scored_at, s.explored, s.propensity FROM scores s JOIN latest_scores l "
    "ON l.score_id = s.id {where}ORDER BY l.score DESC, l.lead_id LIMIT ? OFFSET ?"
)


def sqlite_score_record(row: Sequence[Any]) -> ScoreRecord:
    """A score row read straight from sqlite3 (the columns of ``SQLITE_RANKED``) typed as
    the column types read it."""
    sid, lead_id, version, score, score_100, segment, contact, reasons, at, explored, p = row
    return ScoreRecord(
        id=sid, lead_id=lead_id, model_version=version, score=score, score_100=score_100,
        segment=segment, contact=bool(contact),
        reasons=None if reasons is None else loads_json(reasons),
        scored_at=from_sqlite_time(at),  # type: ignore[arg-type]
        explored=bool(explored), propensity=p,
    )  # fmt: skip


def score_record(row: Any) -> ScoreRecord:
    """The frozen record of a score row (ORM or Core)."""
    return ScoreRecord(
        id=row.id,
        lead_id=row.lead_id,
        model_version=row.model_version,
        score=row.score,
        score_100=row.score_100,
        segment=row.segment,
        contact=row.contact,
        reasons=row.reasons,
        scored_at=row.scored_at,
        explored=bool(row.explored),
        propensity=row.propensity,
    )
