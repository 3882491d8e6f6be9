"""Scores: each lead's append-only history and its latest score (``store.scores``).

A ``latest_scores`` table, written in the same transaction as each score, makes the work
queue an index scan instead of a "latest row per lead" query over the whole history.

Transactions:

* :meth:`ScoreRepository.scoring` is the one write: opened before the scores are known
  (the leads created and locked, attributes merged, their latest scores read), finished by
  :meth:`ScoreWriter.add <leadscore.store.scoring.ScoreWriter.add>`; what else must commit
  with the scores (webhook deliveries) is written on its connection. Leaving it without
  scores, or with an exception, rolls everything back.
* Every read is one read transaction (a snapshot).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select

from leadscore.store.checks import CHUNK, as_json, check_lead_id, clamp_limit
from leadscore.store.errors import StoreError
from leadscore.store.leads import LeadRepository
from leadscore.store.overrides import in_force
from leadscore.store.records import QueueEntry, ScorePoint, ScoreRecord
from leadscore.store.score_reads import MonitoringReads
from leadscore.store.score_rows import SQLITE_RANKED, score_record, sqlite_score_record
from leadscore.store.scores_at import ScoreAt, scores_at
from leadscore.store.scoring import (
    LATEST,
    SCORES,
    SELECT_STATE,
    SQLITE_STATE,
    Previous,
    ScoreWriter,
    SqliteState,
)
from leadscore.store.segment_counts import SegmentCounts
from leadscore.store.session import Database, Repository
from leadscore.store.tables import (
    Event,
    LatestScore,
    Lead,
    Outcome,
    Score,
    as_utc,
    utcnow,
)  # fmt: skip

_SELECT_LATEST = (
    select(SCORES)
    .join(LATEST, LATEST.c.score_id == SCORES.c.id)
    .where(LATEST.c.lead_id.in_(bindparam("ids", expanding=True)))
)


class ScoreRepository(Repository):
    """Score histories, latest scores, the work queue and the scoring write
    (``store.scores``).

    Example
    -------
    >>> from leadscore.store import NewScore
    >>> with store.scores.scoring(["L1", "L2"]) as writer:
    ...     _ = writer.add([NewScore("L1", "3", 0.82, 82, "hot", True),
    ...                     NewScore("L2", "3", 0.10, 10, "cold", False)])
    >>> [s.lead_id for s in store.scores.ranked(segment="hot")]
    ['L1']
    """

    def __init__(self, db: Database, leads: LeadRepository) -> None:
        super().__init__(db)
        self._leads = leads
        #: what monitoring asks of the history (:mod:`leadscore.store.score_reads`)
        self.reads = MonitoringReads(db)
        #: the last segment counts read, moved by this store's scoring writes since
        self._segment_counts = SegmentCounts()
        upsert = db.insert(LatestScore)
        self._upsert_latest = upsert.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={
                "score_id": upsert.excluded.score_id,
                "score": upsert.excluded.score,
                "segment": upsert.excluded.segment,
                "scored_at": upsert.excluded.scored_at,
            },
        )

    # ------------------------------------------------------------------ the write

    @contextmanager
    def scoring(
        self,
        lead_ids: Iterable[str],
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Iterator[ScoreWriter]:
        """A scoring transaction, opened before the scores are known: the leads are
        created and locked, ``attributes`` (lead id → fields) merged into them as
        :meth:`LeadRepository.upsert_many <leadscore.store.leads.LeadRepository.upsert_many>`
        does, and their latest scores read; then :meth:`ScoreWriter.add
        <leadscore.store.scoring.ScoreWriter.add>` appends the scores, once.

        The service computes a lead's score while the database does this first half.
        Leaving the block without :meth:`ScoreWriter.add` (or with an exception) rolls it
        all back.

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1"], {"L1": {"visits": 3}}) as writer:
        ...     stored = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
        >>> store.leads.get("L1").attributes, store.scores.latest("L1").score_100
        ({'visits': 3}, 90)
        """
        attributes = attributes or {}
        for lead_id, fields in attributes.items():
            check_lead_id(lead_id)
            if not isinstance(fields, Mapping):
                raise StoreError(f"attributes of lead {lead_id!r} must be a mapping")
        ids = sorted(set(lead_ids) | set(attributes))
        for lead_id in ids:
            check_lead_id(lead_id)
        # as they will be stored (NaN → None, dates → text), so the records say the same;
        # converted before the write lock is taken, which is then held the shorter
        fields = {lead_id: as_json(dict(f)) for lead_id, f in attributes.items()}
        db = self._db
        # Core statements on one connection (no ORM session: nothing here needs identity
        # or unit-of-work tracking); still one transaction, BEGIN IMMEDIATE on SQLite
        counts = self._segment_counts
        with counts.writing() as moves, db.write_lock, db.writer.begin() as conn:
            stored, latest = self._lock_state(conn, ids, fields)
            # the default scored_at is taken once the leads are locked (SQLite: since the
            # BEGIN), so concurrent writers' scores are in time order, and one that waited
            # for the lock is not mistaken for a backfill
            now = utcnow()
            if fields:
                self._leads.merge(conn, fields, stored, now)
            writer = ScoreWriter(conn, self._upsert_latest, frozenset(ids), latest, now)
            yield writer
            if not writer.done:
                conn.rollback()  # no scores: nothing of it is kept
            moves += writer.moves  # applied to the counts once committed

    def _lock_state(
        self, conn: Connection, lead_ids: list[str], fields: Mapping[str, dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Previous]]:
        """Create the missing leads of ``lead_ids`` (sorted) with their new ``fields``, lock
        them all, and read what the transaction needs: the stored attributes of the leads
        in ``fields`` and the latest score of each lead that has one.

        PostgreSQL: two statements (create and lock, then read). SQLite, where the write
        transaction is the lock and nobody else writes meanwhile: the read comes first,
        and only leads it does not find are created (their state is then known)."""
        now = utcnow()
        new = {lead_id: fields.get(lead_id, {}) for lead_id in lead_ids}
        postgres = self._db.dialect == "postgresql"
        if postgres:
            self._leads.lock(conn, new, now)
        one = len(lead_ids) == 1
        stmt = SELECT_STATE[bool(fields), one]
        chunks = (
            [{"id": lead_ids[0]}]
            if one
            else [{"ids": lead_ids[i : i + CHUNK]} for i in range(0, len(lead_ids), CHUNK)]
        )
        stored: dict[str, dict[str, Any]] = {}
        latest: dict[str, Previous] = {}
        found: set[str] = set()
        created: dict[str, dict[str, Any]] = {}
        driver = conn.connection.driver_connection if one and not postgres else None
        for chunk in chunks:
            rows = (
                [SqliteState.of(r) for r in driver.execute(SQLITE_STATE[bool(fields)], lead_ids)]
                if driver is not None  # a real-time score: see SQLITE_STATE
                else conn.execute(stmt, chunk)
            )
            for row in rows:
                found.add(row.id)
                if fields:
                    stored[row.id] = row.attributes or {}
                    if postgres and row.created_at == now:  # created by the lock above
                        created[row.id] = new[row.id]
                if row.scored_at is not None:
                    latest[row.id] = row
        if not postgres and len(found) < len(lead_ids):
            missing = {lead_id: new[lead_id] for lead_id in lead_ids if lead_id not in found}
            self._leads.lock(conn, missing, now)
            stored.update(missing)
            created.update(missing)
        # a new lead's attributes are its first recorded state (later changes: merge)
        self._leads.record_changes(conn, created, now)
        return stored, latest

    # ------------------------------------------------------------------ one lead

    def latest(self, lead_id: str) -> ScoreRecord | None:
        """The lead's latest score, or ``None`` when it has none.

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     _ = writer.add([NewScore("L1", "3", 0.82, 82, "hot", True)])
        >>> store.scores.latest("L1").score_100, store.scores.latest("L2")
        (82, None)
        """
        with self._db.engine.begin() as conn:
            row = conn.execute(_SELECT_LATEST, {"ids": [lead_id]}).first()
        return None if row is None else score_record(row)

    def latest_many(
        self, lead_ids: Iterable[str], conn: Connection | None = None
    ) -> dict[str, ScoreRecord]:
        """The latest score of each of ``lead_ids`` that has one, by lead; read on
        ``conn`` when given (a write transaction's connection), else in a read of its own.

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     _ = writer.add([NewScore("L1", "3", 0.82, 82, "hot", True)])
        >>> {k: v.segment for k, v in store.scores.latest_many(["L1", "L2"]).items()}
        {'L1': 'hot'}
        """
        ids = sorted(set(lead_ids))
        if not ids:
            return {}
        with self._db.engine.begin() if conn is None else nullcontext(conn) as connection:
            return {
                row.lead_id: score_record(row)
                for start in range(0, len(ids), CHUNK)
                for row in connection.execute(_SELECT_LATEST, {"ids": ids[start : start + CHUNK]})
            }

    def at(
        self, wanted: Sequence[tuple[str, datetime]], conn: Connection | None = None
    ) -> list[ScoreAt | None]:
        """Each ``(lead_id, time)``'s last score at or before ``time`` (None: none by then),
        in the order given, one index probe per pair (:mod:`leadscore.store.scores_at`);
        read on ``conn`` when given (a write transaction's connection), else in a read of
        its own.

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     _ = writer.add([NewScore("L1", "3", 0.82, 82, "hot", True)])
        >>> now = datetime.now(UTC)
        >>> [s and s.score_100 for s in store.scores.at([("L1", now), ("L1", now - timedelta(1))])]
        [82, None]
        """
        with self._db.engine.begin() if conn is None else nullcontext(conn) as connection:
            return scores_at(connection, wanted)

    def history(self, lead_id: str, limit: int = 100) -> list[ScoreRecord]:
        """The lead's scores, newest first (at most ``limit``).

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> for score_100 in (25, 40, 82):
        ...     with store.scores.scoring(["L1"]) as writer:
        ...         _ = writer.add([NewScore("L1", "3", score_100 / 100, score_100, "cold", False)])
        >>> [s.score_100 for s in store.scores.history("L1", limit=2)]
        [82, 40]
        """
        with self._read() as session:
            rows = session.scalars(
                select(Score)
                .where(Score.lead_id == lead_id)
                .order_by(Score.scored_at.desc(), Score.id.desc())
                .limit(clamp_limit(limit))
            )
            return [score_record(row) for row in rows]

    # ------------------------------------------------------------------ every lead

    def ranked(
        self,
        segment: str | None = None,
        limit: int = 50,
        offset: int = 0,
        without_overrides_at: datetime | None = None,
    ) -> list[ScoreRecord]:
        """The work queue: each lead's latest score, best first (ties by lead id),
        optionally only one segment. An index scan on either database, however long the
        history. With ``without_overrides_at``, leads with an override in force at that
        time are left out (:mod:`leadscore.live.overrides` places them).

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1", "L5", "L7"]) as writer:
        ...     _ = writer.add([NewScore("L1", "3", 0.82, 82, "hot", True),
        ...                     NewScore("L5", "3", 0.30, 30, "cold", False),
        ...                     NewScore("L7", "3", 0.95, 95, "hot", True)])
        >>> [(s.lead_id, s.segment) for s in store.scores.ranked("hot", limit=2)]
        [('L7', 'hot'), ('L1', 'hot')]
        """
        if self._db.dialect == "sqlite" and without_overrides_at is None:
            return self._ranked_sqlite(segment, clamp_limit(limit), max(0, int(offset)))
        # Core rows, not ORM objects: a page of the queue is read many times a second
        query: Select[Any] = select(SCORES).join(LATEST, LATEST.c.score_id == SCORES.c.id)
        if segment is not None:
            query = query.where(LATEST.c.segment == segment)
        if without_overrides_at is not None:
            query = query.where(LATEST.c.lead_id.not_in(in_force(without_overrides_at)))
        query = (
            query.order_by(LATEST.c.score.desc(), LATEST.c.lead_id)
            .limit(clamp_limit(limit))
            .offset(max(0, int(offset)))
        )
        with self._db.engine.connect() as conn:
            return [score_record(row) for row in conn.execute(query)]

    def _ranked_sqlite(self, segment: str | None, limit: int, offset: int) -> list[ScoreRecord]:
        """:meth:`ranked` straight from sqlite3: SQLAlchemy's row processing costs five
        times the query on a page of 50 (the service's work queue)."""
        where, params = ("WHERE l.segment = ? ", (segment,)) if segment is not None else ("", ())
        with self._db.engine.connect() as conn:
            rows = conn.connection.driver_connection.execute(
                SQLITE_RANKED.format(where=where), (*params, limit, offset)
            ).fetchall()
        return [sqlite_score_record(row) for row in rows]

    def segment_counts(
        self, without_overrides_at: datetime | None = None, *, max_age_s: float = 0.0
    ) -> dict[str, int]:
        """How many leads are in each segment now (by their latest score); hot, warm and
        cold are always present. ``without_overrides_at``: as for :meth:`ranked`.
        ``max_age_s`` (without overrides only): counts read by this store within that
        many seconds are good enough; this store's own scoring writes since have moved
        them (see :mod:`leadscore.store.segment_counts`), so they are exact for it and at
        most that old as other processes' writes go. The count reads every lead's latest
        score: the work queue, asked many times a second, does not.

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1", "L2", "L3"]) as writer:
        ...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
        ...                     NewScore("L2", "3", 0.1, 10, "cold", False),
        ...                     NewScore("L3", "3", 0.2, 20, "cold", False)])
        >>> store.scores.segment_counts()
        {'hot': 1, 'warm': 0, 'cold': 2}
        """
        plain = without_overrides_at is None
        if plain and max_age_s > 0:
            cached = self._segment_counts.cached(max_age_s)
            if cached is not None:
                return cached
        token = self._segment_counts.before_read()
        counts = {"hot": 0, "warm": 0, "cold": 0}
        query = select(LatestScore.segment, func.count()).group_by(LatestScore.segment)
        if without_overrides_at is not None:
            query = query.where(LatestScore.lead_id.not_in(in_force(without_overrides_at)))
        with self._read() as session:
            for segment, count in session.execute(query):
                counts[segment] = int(count)
        if plain:
            self._segment_counts.offer(token, counts)
        return counts

    def queue(self, limit: int | None = None) -> list[QueueEntry]:
        """Every lead's latest score with its attributes, best first (ties by lead id).

        One query for the whole work queue: what the dashboard filters and charts.
        """
        query = (
            select(
                Score.lead_id, Score.score, Score.score_100, Score.segment, Score.contact,
                Score.reasons, Score.scored_at, Score.model_version, Lead.attributes,
                Lead.created_at, Score.explored,
            )
            .join(LatestScore, LatestScore.score_id == Score.id)
            .join(Lead, Lead.id == Score.lead_id)
            .order_by(LatestScore.score.desc(), LatestScore.lead_id)
        )  # fmt: skip
        if limit is not None:
            query = query.limit(clamp_limit(limit))
        with self._read() as session:
            return [
                QueueEntry(
                    lead_id=r[0], score=r[1], score_100=r[2], segment=r[3], contact=r[4],
                    reasons=r[5], scored_at=r[6], model_version=r[7],
                    attributes=dict(r[8] or {}), lead_created_at=r[9], explored=bool(r[10]),
                )
                for r in session.execute(query)
            ]  # fmt: skip

    def points(self, since: datetime | None = None) -> list[ScorePoint]:
        """The score history (every score, oldest first) without reasons, optionally only
        scores at or after ``since``."""
        query = select(
            Score.lead_id, Score.score_100, Score.segment, Score.scored_at, Score.model_version
        ).order_by(Score.scored_at, Score.id)
        if since is not None:
            query = query.where(Score.scored_at >= as_utc(since))
        with self._read() as session:
            return [ScorePoint(*row) for row in session.execute(query)]

    def rows(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[tuple[str, float, int, str, bool, datetime, str, bool, float | None]]:
        """Every score at or after ``since`` and before ``until`` (either open), oldest
        first, without reasons: ``(lead_id, score, score_100, segment, contact, scored_at,
        model_version, explored, propensity)`` — what monitoring reads into a frame.

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     _ = writer.add([NewScore("L1", "3", 0.82, 82, "hot", True)])
        >>> [(r[0], r[2], r[6]) for r in store.scores.rows()]
        [('L1', 82, '3')]
        """
        columns = SCORES.c
        query = select(
            columns.lead_id, columns.score, columns.score_100, columns.segment, columns.contact,
            columns.scored_at, columns.model_version, columns.explored, columns.propensity,
        ).order_by(columns.scored_at, columns.id)  # fmt: skip
        if since is not None:
            query = query.where(columns.scored_at >= as_utc(since))
        if until is not None:
            query = query.where(columns.scored_at < as_utc(until))
        with self._db.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]

    def moves(
        self, start: datetime, end: datetime, *, min_jump: int = 0, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """For each lead scored in ``[start, end)`` that was scored before ``start`` too:
        ``(lead_id, score_100, segment, scored_at, model_version`` of its last score before
        ``start``, ``score_100, segment, scored_at, model_version`` of its last score in the
        period``)`` — what monitoring's movers compare, found by the database (each lead's
        last score before the period by one index probe) rather than read from the whole
        history. ``min_jump`` and ``limit``: only moves of that many points, the largest
        ``limit`` (:meth:`MonitoringReads.moves
        <leadscore.store.score_reads.MonitoringReads.moves>`).

        Example
        -------
        >>> from datetime import UTC, datetime
        >>> from leadscore.store import NewScore
        >>> day = datetime(2026, 3, 2, tzinfo=UTC)
        >>> for p in (0.2, 0.9):
        ...     with store.scores.scoring(["L1"]) as writer:
        ...         _ = writer.add([NewScore("L1", "3", p, int(100 * p), "hot", True,
        ...                                  scored_at=day.replace(day=2 + int(p * 2)))])
        >>> [(r[0], r[1], r[5]) for r in store.scores.moves(day.replace(day=3), day.replace(day=5))]
        [('L1', 20, 90)]
        """
        return self.reads.moves(start, end, min_jump=min_jump, limit=limit)

    def change_token(self) -> tuple[Any, ...]:
        """A value that changes whenever scores, outcomes, events or leads change: a cheap
        cache key for what the dashboard reads from the store."""
        query = select(
            select(func.max(Score.id)).scalar_subquery(),
            select(func.count()).select_from(LatestScore).scalar_subquery(),
            select(func.max(Outcome.id)).scalar_subquery(),
            select(func.max(Event.id)).scalar_subquery(),
            select(func.max(Lead.updated_at)).scalar_subquery(),
        )
        with self._read() as session:
            row = session.execute(query).one()
            return tuple(str(v) for v in row)
