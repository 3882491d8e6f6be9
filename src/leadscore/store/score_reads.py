"""What monitoring reads of the score history, asked of the database (``store.scores.reads``).

The monitoring report used to read every score into pandas to find, per lead, one or two
rows: the last score before an outcome, the last score of a period, the last of each week.
These reads let the database find those rows (an index probe per outcome on ``(lead_id,
scored_at)``, the ``latest_scores`` table when the period reaches the newest score, one
pass over a window's scores in that index's order otherwise) and return only them, in
the order the pandas path had them, so the numbers computed from them are the same to
the last bit. Times come as whole microseconds since the epoch (UTC); the report's own
reads (``*_columns``, :meth:`~MonitoringReads.period_scan`) come as NumPy columns
(:func:`~leadscore.store.packing.packed_columns`).

"Last" is by ``(scored_at, id)``: of two scores at the same instant the later stored one,
as :class:`~leadscore.store.scoring.ScoreWriter` makes it the latest. An outcome is always
a lead's latest recorded one (the highest id), and a score counts before it only when
given strictly before it (a score at or after it already knew it).

Example
-------
>>> from datetime import UTC, datetime
>>> store.scores.reads.judged(datetime.now(UTC)), store.scores.reads.score_count(
...     datetime(2026, 1, 1, tzinfo=UTC), datetime.now(UTC))
([], 0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection, Subquery, and_, case, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY

from leadscore.store.events import latest_outcomes
from leadscore.store.packing import Kind, epoch_us, packed_columns
from leadscore.store.scoring import LATEST, SCORES
from leadscore.store.session import Database
from leadscore.store.tables import Lead, as_utc

#: PostgreSQL's memory for each sort and hash of these reads
WORK_MEM = "64MB"
#: the columns of a score row these reads return, in order (``score_id``: its key, which
#: orders scores given at the same instant)
SCORE_FIELDS = (
    "score", "score_100", "segment", "contact", "scored_at", "model_version", "explored",
    "propensity", "score_id",
)  # fmt: skip
#: the columns of a lead's latest outcome
OUTCOME_FIELDS = ("converted", "occurred_at", "contacted")
#: :meth:`MonitoringReads.judged` rows
JUDGED_FIELDS = ("lead_id", *OUTCOME_FIELDS, *SCORE_FIELDS)
#: :meth:`MonitoringReads.period_latest` rows
PERIOD_FIELDS = ("lead_id", *SCORE_FIELDS, *OUTCOME_FIELDS)
#: :meth:`MonitoringReads.leads` rows
LEAD_FIELDS = ("lead_id", "created_at", "score", "score_100", "segment", "scored_at",
               "converted", "occurred_at")  # fmt: skip
#: :meth:`MonitoringReads.cohort_columns` segment codes (3: another segment or none)
SEGMENT_CODES = ("hot", "warm", "cold")


class MonitoringReads:
    """The score and outcome reads of the monitoring report, each one query.

    Parameters
    ----------
    db:
        The store's database.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> store.scores.reads.period_leads(datetime(2026, 1, 1, tzinfo=UTC), datetime.now(UTC))
    []
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def judged(self, end: datetime, since: datetime | None = None) -> list[tuple[Any, ...]]:
        """Each lead's latest outcome beside the lead's last score strictly before it,
        among the scores given before ``end`` (and at or after ``since``); outcomes
        without such a score are left out. Rows of :data:`JUDGED_FIELDS` (times in
        microseconds since the epoch), by outcome time, then the order recorded.

        Parameters
        ----------
        end, since:
            The scores that count: ``[since, end)`` (``since`` None: from the first).

        Example
        -------
        >>> from datetime import UTC, datetime
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     _ = writer.add([NewScore("L1", "1", 0.4, 40, "warm", True)])
        >>> _ = store.outcomes.add("L1", False)
        >>> [(r[0], r[1], r[5]) for r in store.scores.reads.judged(datetime.now(UTC))]
        [('L1', False, 40)]
        """
        j = self._judged(end, since).c
        times = {"occurred_at", "scored_at"}
        columns = [epoch_us(j[n]).label(n) if n in times else j[n] for n in JUDGED_FIELDS]
        return self._rows(select(*columns).order_by(j.occurred_at, j.outcome_id))

    def judged_columns(self, end: datetime) -> dict[str, np.ndarray]:
        """:meth:`judged` (every score before ``end``) as columns, what the report's
        figures on outcomes read: ``converted`` (0/1), ``score``, ``score_100``,
        ``contact`` (0/1) and ``scored_at`` (microseconds since the epoch).

        Example
        -------
        >>> from datetime import UTC, datetime
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     _ = writer.add([NewScore("L1", "1", 0.4, 40, "warm", True)])
        >>> _ = store.outcomes.add("L1", True)
        >>> found = store.scores.reads.judged_columns(datetime.now(UTC))
        >>> found["converted"].tolist(), found["score_100"].tolist()
        ([1], [40])
        """
        j = self._judged(end).c
        columns: dict[str, tuple[Any, Kind]] = {
            "converted": (j.converted, "flag"), "score": (j.score, "float"),
            "score_100": (j.score_100, "int"), "contact": (j.contact, "flag"),
            "scored_at": (j.scored_at, "time"),
        }  # fmt: skip
        with self._connect() as conn:
            return packed_columns(conn, columns, (j.occurred_at, j.outcome_id))

    def _judged(self, end: datetime, since: datetime | None = None) -> Subquery:
        """:meth:`judged`'s rows with the outcome's ``outcome_id``, times as stored."""
        out = latest_outcomes()
        earlier = SCORES.alias("earlier")
        conditions = [
            earlier.c.lead_id == out.c.lead_id,
            earlier.c.scored_at < out.c.occurred_at,
            earlier.c.scored_at < as_utc(end),
        ]
        if since is not None:
            conditions.append(earlier.c.scored_at >= as_utc(since))
        # one probe per outcome on (lead_id, scored_at), not a pass over every score
        last = (
            select(*_score_columns(earlier))
            .where(*conditions)
            .order_by(earlier.c.scored_at.desc(), earlier.c.id.desc())
            .limit(1)
        )
        outcome = (out.c.lead_id, out.c.converted, out.c.occurred_at, out.c.contacted,
                   out.c.id.label("outcome_id"))  # fmt: skip
        if self._db.dialect == "postgresql":
            # a lateral join reads the score with its probe; joined on a probe's id instead,
            # PostgreSQL hashes every score and runs the probe twice
            found = last.lateral("last")
            query = select(*outcome, *found.c).select_from(out).join(found, true())
        else:
            probe = last.with_only_columns(earlier.c.id).scalar_subquery()
            query = select(*outcome, *_score_columns(SCORES)).join_from(
                out, SCORES, SCORES.c.id == probe
            )
        return query.subquery("judged")

    def period_latest(self, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
        """Each lead scored in ``[start, end)`` at its last score there: rows of
        :data:`PERIOD_FIELDS` (times in microseconds since the epoch), with the lead's
        latest outcome (None without one), in the order of those scores (oldest first).

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> from leadscore.store import NewScore
        >>> for p in (0.3, 0.7):
        ...     with store.scores.scoring(["L1"]) as writer:
        ...         _ = writer.add([NewScore("L1", "1", p, int(100 * p), "hot", True)])
        >>> now = datetime.now(UTC)
        >>> [(r[0], r[2]) for r in store.scores.reads.period_latest(now - timedelta(days=1), now)]
        [('L1', 70)]
        """
        with self._connect() as conn:
            latest = self._latest_in(conn, start, end)
            out = latest_outcomes()
            s = SCORES.c
            query = (
                select(s.lead_id, *_score_columns(SCORES, epoch=True), out.c.converted,
                       epoch_us(out.c.occurred_at), out.c.contacted)
                .join_from(latest, SCORES, s.id == latest.c.score_id)
                .outerjoin(out, out.c.lead_id == latest.c.lead_id)
                .order_by(s.scored_at, s.id)
            )  # fmt: skip
            return self._fetch(conn, query)

    def period_leads(self, start: datetime, end: datetime) -> list[str]:
        """The leads scored in ``[start, end)``, by id.

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L2", "L1"]) as writer:
        ...     _ = writer.add([NewScore(i, "1", 0.3, 30, "warm", True) for i in ("L2", "L1")])
        >>> now = datetime.now(UTC)
        >>> store.scores.reads.period_leads(now - timedelta(days=1), now)
        ['L1', 'L2']
        """
        with self._connect() as conn:
            latest = self._latest_in(conn, start, end)
            if self._db.dialect == "postgresql":  # one array, not a row per lead
                found = conn.execute(select(func.array_agg(latest.c.lead_id))).scalar()
                return sorted(found or [])
            return sorted(row[0] for row in conn.execute(select(latest.c.lead_id)))

    def period_scan(
        self, start: datetime, end: datetime, cuts: Sequence[datetime], version: str | None = None
    ) -> dict[str, np.ndarray]:
        """The scores of ``[start, end)`` read once for the report's period figures: each
        lead's last of each period (split at ``cuts``, ascending, inside the window) and
        its last there strictly before its latest outcome, in the order of the scores
        (which is which follows from their times: :func:`~leadscore.monitor.data.period_scores`).

        Columns: ``scored_at``, ``next_at`` (the lead's next score in the window; NaT:
        none), ``occurred_at`` (the lead's latest outcome; NaT: none), as microseconds
        since the epoch; ``score``, ``contact``, ``explored`` (0/1), ``propensity`` (NaN:
        not stored), the outcome's ``converted`` and ``contacted`` (-1: none, not said),
        and ``own`` (1 when the score's model version is ``version``; 1 without one).

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> from leadscore.store import NewScore
        >>> day = datetime(2026, 3, 2, tzinfo=UTC)
        >>> for hours, p in ((1, 0.2), (2, 0.3), (30, 0.6)):
        ...     with store.scores.scoring(["L1"]) as writer:
        ...         _ = writer.add([NewScore("L1", "1", p, int(100 * p), "cold", False,
        ...                                  scored_at=day + timedelta(hours=hours))])
        >>> store.scores.reads.period_scan(day, day + timedelta(2), [day + timedelta(1)])["score"]
        array([0.3, 0.6])
        """
        s = SCORES.c
        bounds = [as_utc(cut) for cut in cuts]

        def period_of(time: Any) -> Any:
            if not bounds:
                return literal(0)
            if self._db.dialect == "postgresql":
                # a binary search over the cuts, not a CASE testing each: the same numbers
                cuts = sa.bindparam(None, bounds, type_=ARRAY(sa.DateTime(timezone=True)))
                return func.width_bucket(time, cuts)
            return case(*((time < cut, i) for i, cut in enumerate(bounds)), else_=len(bounds))

        # the lead's next score in the window: in the order of the (lead_id, scored_at)
        # index, so PostgreSQL sorts only scores given at one instant
        following = func.lead(s.scored_at, type_=s.scored_at.type).over(
            partition_by=s.lead_id, order_by=(s.scored_at, s.id)
        )
        own = true() if version is None else s.model_version == version
        scan = (
            select(s.id, s.lead_id, s.scored_at, s.score, s.contact, s.explored, s.propensity,
                   own.label("own"), period_of(s.scored_at).label("period"),
                   following.label("next_at"))
            .where(s.scored_at >= as_utc(start), s.scored_at < as_utc(end))
            .subquery("scan")
        )  # fmt: skip
        w, out = scan.c, latest_outcomes()
        last = or_(w.next_at.is_(None), period_of(w.next_at) != w.period)
        before = and_(
            or_(out.c.occurred_at.is_(None), w.scored_at < out.c.occurred_at),
            or_(w.next_at.is_(None), w.next_at >= out.c.occurred_at),
        )
        rows = (
            select(w.id, w.scored_at, w.next_at, out.c.occurred_at, w.score, w.propensity,
                   w.contact, w.explored, w.own, out.c.converted, out.c.contacted)
            .select_from(scan)
            .outerjoin(out, out.c.lead_id == w.lead_id)
            .where(or_(last, before))
            .subquery("rows")
        )  # fmt: skip
        kinds: dict[str, Kind] = {"id": "int", "scored_at": "time", "next_at": "time",
            "occurred_at": "time", "score": "float", "propensity": "float"}  # fmt: skip
        columns = {c.name: (c, kinds.get(c.name, "flag")) for c in rows.c}
        with self._connect() as conn:  # NumPy puts them in order: cheaper than a sort here
            found = packed_columns(conn, columns, sort_by=("scored_at", "id"))
        del found["id"]
        return found

    def moves(
        self, start: datetime, end: datetime, *, min_jump: int = 0, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """:meth:`ScoreRepository.moves <leadscore.store.scores.ScoreRepository.moves>`:
        each lead scored in ``[start, end)`` and before it, its last score before beside
        its last score in the period; only moves of at least ``min_jump`` points, and with
        ``limit`` the largest that many (ties by lead id), else by lead id.

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> store.scores.reads.moves(datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
        []
        """
        since = as_utc(start)
        with self._connect() as conn:
            after = self._latest_in(conn, start, end)
            now, earlier = SCORES.alias("now"), SCORES.alias("earlier")
            fields = ("score_100", "segment", "scored_at", "model_version")
            # each such lead's last score before the period: one index probe per lead
            last = (
                select(*(earlier.c[name] for name in fields))
                .where(earlier.c.lead_id == after.c.lead_id, earlier.c.scored_at < since)
                .order_by(earlier.c.scored_at.desc(), earlier.c.id.desc())
                .limit(1)
            )
            current: Any = now
            before: Any
            if self._db.dialect == "postgresql":
                # the latest scores by their key, a probe each (OFFSET 0 keeps PostgreSQL
                # from turning it into a hash of every score, which costs more)
                by_key = select(*(now.c[name] for name in fields)).where(
                    now.c.id == after.c.score_id
                )
                current, before = by_key.offset(0).lateral("now"), last.lateral("before")
                query = select(after.c.lead_id).select_from(after).join(current, true())
                query = query.join(before, true())
            else:
                before = SCORES.alias("before")
                probe = last.with_only_columns(earlier.c.id).scalar_subquery()
                query = select(after.c.lead_id).join_from(after, now, now.c.id == after.c.score_id)
                query = query.join(before, before.c.id == probe)
            query = query.add_columns(
                *(before.c[name] for name in fields), *(current.c[name] for name in fields)
            )
            change = func.abs(current.c.score_100 - before.c.score_100)
            if min_jump:
                query = query.where(change >= min_jump)
            if limit is None:
                query = query.order_by(after.c.lead_id)
            else:
                query = query.order_by(change.desc(), after.c.lead_id).limit(limit)
            rows = self._fetch(conn, query)
        return [
            (r[0], r[1], r[2], as_utc(r[3]), r[4], r[5], r[6], as_utc(r[7]), r[8]) for r in rows
        ]

    def score_count(self, start: datetime, end: datetime) -> int:
        """How many scores were given in ``[start, end)`` (to how many leads: the length
        of :meth:`period_leads`, or of any read of the period's leads).

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> store.scores.reads.score_count(datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
        0
        """
        s = SCORES.c
        query = select(func.count()).where(s.scored_at >= as_utc(start), s.scored_at < as_utc(end))
        with self._connect() as conn:
            return int(conn.execute(query).scalar_one())

    def leads(self, end: datetime) -> list[tuple[Any, ...]]:
        """Every lead with its creation time, its last score before ``end`` (None without
        one) and its latest outcome (None without one): rows of :data:`LEAD_FIELDS` (times
        in microseconds since the epoch), by creation time, then lead id.

        Example
        -------
        >>> from datetime import UTC, datetime
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1", "L2"]) as writer:
        ...     _ = writer.add([NewScore("L1", "1", 0.4, 40, "warm", True)])
        >>> _ = store.outcomes.add("L2", True)
        >>> [(r[0], r[3], r[6]) for r in store.scores.reads.leads(datetime.now(UTC))]
        [('L1', 40, None), ('L2', None, True)]
        """
        leads = Lead.__table__.c
        with self._connect() as conn:
            latest = self._latest_in(conn, None, end)
            out = latest_outcomes()
            s = SCORES.c
            query = (
                select(leads.id, epoch_us(leads.created_at), s.score, s.score_100, s.segment,
                       epoch_us(s.scored_at), out.c.converted, epoch_us(out.c.occurred_at))
                .select_from(Lead.__table__)
                .outerjoin(latest, latest.c.lead_id == leads.id)
                .outerjoin(SCORES, s.id == latest.c.score_id)
                .outerjoin(out, out.c.lead_id == leads.id)
                .order_by(leads.created_at, leads.id)
            )  # fmt: skip
            return self._fetch(conn, query)

    def cohort_columns(self, end: datetime) -> dict[str, np.ndarray]:
        """:meth:`leads` as columns, what the cohort table reads: ``created_at``,
        ``score`` (NaN: never scored before ``end``), ``segment`` (its index in
        :data:`SEGMENT_CODES`, 3 for any other), ``converted`` (-1: no outcome) and
        ``occurred_at`` (times in microseconds since the epoch; no outcome: NaT), by
        creation time, then lead id.

        Example
        -------
        >>> from datetime import UTC, datetime
        >>> from leadscore.store import NewScore
        >>> with store.scores.scoring(["L1", "L2"]) as writer:
        ...     _ = writer.add([NewScore("L1", "1", 0.4, 40, "warm", True)])
        >>> _ = store.outcomes.add("L2", True)
        >>> found = store.scores.reads.cohort_columns(datetime.now(UTC))
        >>> found["segment"].tolist(), found["converted"].tolist()
        ([1, 3], [-1, 1])
        """
        leads = Lead.__table__.c
        with self._connect() as conn:
            latest = self._latest_in(conn, None, end)
            out = latest_outcomes()
            segment = case(
                *((latest.c.segment == name, i) for i, name in enumerate(SEGMENT_CODES)),
                else_=len(SEGMENT_CODES),
            )
            rows = (
                select(leads.id, leads.created_at, latest.c.score, segment.label("segment"),
                       out.c.converted, out.c.occurred_at)
                .select_from(Lead.__table__)
                .outerjoin(latest, latest.c.lead_id == leads.id)
                .outerjoin(out, out.c.lead_id == leads.id)
                .subquery("leads")
            )  # fmt: skip
            r = rows.c
            columns: dict[str, tuple[Any, Kind]] = {
                "created_at": (r.created_at, "time"), "score": (r.score, "float"),
                "segment": (r.segment, "flag"), "converted": (r.converted, "flag"),
                "occurred_at": (r.occurred_at, "time"),
            }  # fmt: skip
            return packed_columns(conn, columns, (r.created_at, r.id))

    def _latest_in(self, conn: Connection, start: datetime | None, end: datetime) -> Subquery:
        """``(lead_id, score_id, scored_at, score, segment)`` of each lead's last score in
        ``[start, end)``: the ``latest_scores`` table when no score was given at or after
        ``end`` (a period reaching now), else a window function over the period's scores."""
        s = SCORES.c
        until = as_utc(end)
        beyond = conn.execute(select(s.id).where(s.scored_at >= until).limit(1)).first()
        if beyond is None:
            l = LATEST.c  # noqa: E741
            query = select(l.lead_id, l.score_id, l.scored_at, l.score, l.segment)
            if start is not None:
                query = query.where(l.scored_at >= as_utc(start))
            return query.subquery("latest")
        rank = func.row_number().over(
            partition_by=s.lead_id, order_by=(s.scored_at.desc(), s.id.desc())
        )
        window = [s.scored_at < until] + ([s.scored_at >= as_utc(start)] if start else [])
        ranked = (
            select(s.lead_id, s.id.label("score_id"), s.scored_at, s.score, s.segment,
                   rank.label("rank"))
            .where(and_(*window))
            .subquery("ranked")
        )  # fmt: skip
        r = ranked.c
        return (
            select(r.lead_id, r.score_id, r.scored_at, r.score, r.segment)
            .where(r.rank == 1)
            .subquery("latest")
        )

    def _rows(self, query: Any) -> list[tuple[Any, ...]]:
        with self._connect() as conn:
            return self._fetch(conn, query)

    def _fetch(self, conn: Connection, query: Any) -> list[tuple[Any, ...]]:
        result = conn.execute(query)
        if self._db.dialect == "postgresql":
            # the driver's own tuples (its times aware already): on a period's hundreds of
            # thousands of rows SQLAlchemy's row processing costs more than the query
            return list(result.cursor.fetchall())
        return [tuple(row) for row in result]

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A read transaction; on PostgreSQL with room to sort and hash these reads in
        memory (the default 4 MB spills them to disk), and without JIT compilation: their
        plans cost enough to trigger it, and it takes longer (0.1–0.3 s) than they run."""
        with self._db.engine.begin() as conn:
            if self._db.dialect == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
                conn.exec_driver_sql("SET LOCAL jit = off")
            yield conn


def _score_columns(scores: Any, *, epoch: bool = False) -> list[Any]:
    """The :data:`SCORE_FIELDS` of a scores table (or alias); ``epoch``: the time as
    microseconds since the epoch."""
    columns = [scores.c[name] for name in SCORE_FIELDS[:-1]]
    if epoch:
        columns = [epoch_us(c).label(c.name) if c.name == "scored_at" else c for c in columns]
    return [*columns, scores.c.id.label("score_id")]
