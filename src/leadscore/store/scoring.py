"""The scoring write: appending scores to locked leads, and the ``latest_scores`` table
kept in step in the same transaction.

This is the path every API request takes, so it is written for its cost: SQLAlchemy Core
statements built once (SQLAlchemy then finds their compiled form in its cache by identity
instead of building, coercing and hashing a new statement per call, which for a
single-lead write costs more than the SQL), on one connection, no ORM session. The
transaction is opened by
:meth:`ScoreRepository.scoring <leadscore.store.scores.ScoreRepository.scoring>`
(the leads locked, attributes merged, latest scores read) before the scores are known;
:class:`ScoreWriter` is its second half.

Which webhooks a score fires is not decided here: :meth:`ScoreWriter.add` returns each
stored score with the latest score it replaced, and the scoring flow
(:mod:`leadscore.live.outbox`) queues the deliveries on the same connection.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, bindparam, insert, select

from leadscore.store.checks import as_json, check_lead_id
from leadscore.store.errors import StoreError
from leadscore.store.json_columns import dumps_json
from leadscore.store.leads import LEADS
from leadscore.store.records import NewScore, ScoreRecord, StoredScore
from leadscore.store.tables import LatestScore, Score, as_utc, from_sqlite_time, sqlite_time

SCORES, LATEST = Score.__table__, LatestScore.__table__
# what the scoring transaction needs of locked leads, in one statement: the latest score
# (outer joins: a lead may have none; score_100 is only in scores, and the reasons are not
# needed) and, when attributes are merged, the stored attributes
_STATE = select(LEADS.c.id, SCORES.c.segment, SCORES.c.score_100, SCORES.c.scored_at).select_from(
    LEADS.outerjoin(LATEST, LATEST.c.lead_id == LEADS.c.id).outerjoin(
        SCORES, SCORES.c.id == LATEST.c.score_id
    )
)
#: by (with attributes, of one lead): one lead (a real-time call) is looked up by ``id``,
#: as an expanding IN list costs a compilation step per call
SELECT_STATE = {
    (attributes, one): (
        _STATE.add_columns(LEADS.c.attributes, LEADS.c.created_at) if attributes else _STATE
    ).where(
        LEADS.c.id == bindparam("id") if one else LEADS.c.id.in_(bindparam("ids", expanding=True))
    )
    for attributes in (False, True)
    for one in (False, True)
}
#: ``SELECT_STATE`` of one lead on SQLite, straight to sqlite3 (see _SQLITE_INSERT_SCORE)
SQLITE_STATE = {
    attributes: (
        "SELECT leads.id, scores.segment, scores.score_100, scores.scored_at"
        + (", leads.attributes, leads.created_at" if attributes else "")
        + " FROM leads LEFT OUTER JOIN latest_scores ON latest_scores.lead_id = leads.id"
        " LEFT OUTER JOIN scores ON scores.id = latest_scores.score_id WHERE leads.id = ?"
    )
    for attributes in (False, True)
}


class SqliteState(NamedTuple):
    """A row of ``SQLITE_STATE`` typed as SQLAlchemy reads ``SELECT_STATE``'s."""

    id: str
    segment: str | None
    score_100: int | None
    scored_at: datetime | None
    attributes: dict[str, Any] | None = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> SqliteState:
        lead_id, segment, score_100, scored_at, *rest = row
        attributes = json.loads(rest[0]) if rest and rest[0] is not None else None
        created_at = from_sqlite_time(rest[1]) if rest else None
        return cls(lead_id, segment, score_100, from_sqlite_time(scored_at), attributes, created_at)


_INSERT_SCORES = insert(SCORES).returning(SCORES.c.id, sort_by_parameter_order=True)

# One real-time score on SQLite, straight to sqlite3: SQLAlchemy's execution of a
# statement costs several times the statement, and these two run for every lead scored.
# They write what the column types write (JSON text, booleans as 1/0, naive UTC time);
# the scoring tests read them back through SQLAlchemy on both databases.
_SQLITE_INSERT_SCORE = (
    "INSERT INTO scores (lead_id, model_version, score, score_100, segment, contact, "
    "reasons, scored_at, explored, propensity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "RETURNING id"
)
_SQLITE_UPSERT_LATEST = (
    "INSERT INTO latest_scores (lead_id, score_id, score, segment, scored_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (lead_id) DO UPDATE SET score_id = excluded.score_id, "
    "score = excluded.score, segment = excluded.segment, scored_at = excluded.scored_at"
)


def _sqlite_driver(conn: Connection) -> Any:
    """The sqlite3 connection under ``conn``, or None on another database."""
    return conn.connection.driver_connection if conn.dialect.name == "sqlite" else None


#: what a new score is compared with: the lead's latest stored score (a row of
#: ``SELECT_STATE``: segment, score_100, scored_at) or an earlier one of the same batch
Previous = Row[Any] | SqliteState | ScoreRecord


class ScoreWriter:
    """The second half of a scoring transaction: appends scores to the locked leads, once.

    Attributes
    ----------
    connection:
        The transaction's connection: what else must commit with the scores (the
        webhook deliveries they trigger) is written on it.
    now:
        The transaction's time, taken once the leads were locked: the default
        ``scored_at``.
    done:
        Whether the scores were added (leaving the transaction without them rolls it
        all back).
    """

    def __init__(
        self,
        conn: Connection,
        upsert_latest: Any,
        lead_ids: frozenset[str],
        latest: dict[str, Previous],
        now: datetime,
    ) -> None:
        self.connection, self.now = conn, now
        self._upsert_latest, self._lead_ids, self._latest = upsert_latest, lead_ids, latest
        self.done = False
        #: each lead's latest segment before and after, of the scores that became latest
        self.moves: list[tuple[str | None, str]] = []

    def add(self, items: Sequence[NewScore]) -> list[StoredScore]:
        """Append the scores (of leads given to the transaction, in order) and move each
        lead's latest score; returns the stored scores, each with the latest score it
        replaced. A score older than the lead's latest one (a backfill) joins the history
        but does not become the latest.

        Example
        -------
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     (stored,) = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
        >>> stored.record.score_100, stored.latest, stored.previous_segment
        (90, True, None)
        """
        if self.done:
            raise StoreError("this scoring transaction has stored its scores already")
        for item in items:
            check_score(item)
            if item.lead_id not in self._lead_ids:
                raise StoreError(f"lead {item.lead_id!r} was not locked for this transaction")
        self.done = True
        conn, latest, now = self.connection, self._latest, self.now
        params = [
            {
                "lead_id": item.lead_id,
                "model_version": str(item.model_version),
                "score": float(item.score),
                "score_100": int(item.score_100),
                "segment": item.segment,
                "contact": bool(item.contact),
                "reasons": as_json(item.reasons),
                "scored_at": as_utc(item.scored_at) if item.scored_at else None,
                "explored": bool(item.explored),
                "propensity": None if item.propensity is None else float(item.propensity),
            }
            for item in items
        ]
        if not params:
            return []
        for p in params:
            if p["scored_at"] is None:
                p["scored_at"] = now
        driver = _sqlite_driver(conn) if len(params) == 1 else None
        if driver is not None:  # one real-time score on SQLite: see _SQLITE_INSERT_SCORE
            p = params[0]
            row = (
                p["lead_id"], p["model_version"], p["score"], p["score_100"], p["segment"],
                int(p["contact"]), dumps_json(p["reasons"]), sqlite_time(p["scored_at"]),
                int(p["explored"]), p["propensity"],
            )  # fmt: skip
            ids = [driver.execute(_SQLITE_INSERT_SCORE, row).fetchone()[0]]
        else:
            ids = conn.execute(_INSERT_SCORES, params).scalars().all()

        stored: list[StoredScore] = []
        new_latest: dict[str, ScoreRecord] = {}
        for i, p in zip(ids, params, strict=True):
            record = ScoreRecord(id=i, **p)
            previous = latest.get(record.lead_id)
            before = (None, None) if previous is None else (previous.segment, previous.score_100)
            backfill = previous is not None and record.scored_at < previous.scored_at
            if not backfill:
                latest[record.lead_id] = new_latest[record.lead_id] = record
            stored.append(StoredScore(record, not backfill, *before))
            if not backfill:
                self.moves.append((before[0], record.segment))

        if new_latest and driver is not None:
            (r,) = new_latest.values()
            driver.execute(
                _SQLITE_UPSERT_LATEST,
                (r.lead_id, r.id, r.score, r.segment, sqlite_time(r.scored_at)),
            )
        elif new_latest:
            conn.execute(
                self._upsert_latest,
                [
                    {
                        "lead_id": r.lead_id,
                        "score_id": r.id,
                        "score": r.score,
                        "segment": r.segment,
                        "scored_at": r.scored_at,
                    }
                    for r in new_latest.values()
                ],
            )
        return stored


def check_score(item: NewScore) -> None:
    """Refuse a score that is not a lead id, a probability 0–1, a whole number 0–100, a
    segment and a list of reasons (or none); numpy scalars from a model are fine."""
    check_lead_id(item.lead_id)
    # numbers.Real / Integral: numpy scalars from a model are fine too
    if not isinstance(item.score, numbers.Real) or not (
        math.isfinite(item.score) and 0.0 <= item.score <= 1.0
    ):
        raise StoreError(f"score of lead {item.lead_id!r} must be within 0–1, not {item.score!r}")
    if (
        isinstance(item.score_100, bool)
        or not isinstance(item.score_100, numbers.Integral)
        or not (0 <= item.score_100 <= 100)
    ):
        raise StoreError(
            f"score_100 of lead {item.lead_id!r} must be a whole number 0–100, "
            f"not {item.score_100!r}"
        )
    if not isinstance(item.segment, str) or not item.segment:
        raise StoreError(f"segment of lead {item.lead_id!r} must be non-empty text")
    if item.reasons is not None and not isinstance(item.reasons, list):
        raise StoreError(f"reasons of lead {item.lead_id!r} must be a list or None")
    if item.propensity is not None and not (
        isinstance(item.propensity, numbers.Real)
        and math.isfinite(item.propensity)
        and 0.0 <= item.propensity <= 1.0
    ):
        raise StoreError(
            f"propensity of lead {item.lead_id!r} must be within 0–1, not {item.propensity!r}"
        )
    if item.explored and not (item.contact and (item.propensity or 0) > 0):
        raise StoreError(
            f"lead {item.lead_id!r} is explored, so its contact must be true and its "
            "propensity above 0"
        )
