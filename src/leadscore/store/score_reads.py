"""What monitoring reads of the score history, asked of the database (``store.scores.reads``).

The monitoring report used to read every score into pandas to find, per lead, one or two
rows: the last score before an outcome, the last score of a period, the last of each week.
These reads let the database find those rows (an index probe per outcome on ``(lead_id,
scored_at)``, the ``latest_scores`` table when the period reaches the newest score, window
functions otherwise) and return only them, in the order the pandas path had them, so the
numbers computed from them are the same to the last bit.

The bulk reads give times as whole microseconds since the epoch (UTC), which pandas turns
into times at once, where a driver's datetime objects cost more than the query.

"Last" is by ``(scored_at, id)``: of two scores at the same instant the later stored one,
as :class:`~leadscore.store.scoring.ScoreWriter` makes it the latest. An outcome is always
a lead's latest recorded one (the highest id), and a score counts before it only when
given strictly before it (a score at or after it already knew it).

Example
-------
>>> from datetime import UTC, datetime, timedelta
>>> from leadscore.store import NewScore
>>> day = datetime(2026, 3, 2, tzinfo=UTC)
>>> for hours, p in ((0, 0.2), (30, 0.6)):
...     with store.scores.scoring(["L1"]) as writer:
...         _ = writer.add([NewScore("L1", "1", p, int(100 * p), "cold", False,
...                                  scored_at=day + timedelta(hours=hours))])
>>> _ = store.outcomes.add("L1", True, day + timedelta(hours=12))
>>> [(r[0], r[5]) for r in store.scores.reads.judged(day + timedelta(days=3))]
[('L1', 20)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Subquery, and_, case, func, literal, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from leadscore.store.scoring import LATEST, SCORES
from leadscore.store.session import Database
from leadscore.store.tables import Lead, Outcome, as_utc

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


class epoch_us(FunctionElement[int]):
    """A stored time as whole microseconds since the epoch (UTC), on either database."""

    type = BigInteger()
    name = "epoch_us"
    inherit_cache = True


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    time = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(EPOCH FROM {time}) * 1000000 AS BIGINT)"  # numeric: exact


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # stored as naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (see tables.UTCDateTime)
    time = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', {time}) AS INTEGER) * 1000000"
        f" + CAST(substr({time}, 21, 6) AS INTEGER))"
    )


class MonitoringReads:
    """The score and outcome reads of the monitoring report, each one query.

    Parameters
    ----------
    db:
        The store's database.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> store.scores.reads.counts(datetime(2026, 1, 1, tzinfo=UTC), datetime.now(UTC))
    (0, 0)
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
        out = _latest_outcomes()
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
        outcome = (out.c.lead_id, out.c.converted, epoch_us(out.c.occurred_at), out.c.contacted)
        if self._db.dialect == "postgresql":
            # a lateral join reads the score with its probe; joined on a probe's id instead,
            # PostgreSQL hashes every score and runs the probe twice
            found = last.lateral("last")
            columns = [epoch_us(c).label(c.name) if c.name == "scored_at" else c for c in found.c]
            query = select(*outcome, *columns).select_from(out).join(found, true())
        else:
            probe = last.with_only_columns(earlier.c.id).scalar_subquery()
            query = select(*outcome, *_score_columns(SCORES, epoch=True)).join_from(
                out, SCORES, SCORES.c.id == probe
            )
        return self._rows(query.order_by(out.c.occurred_at, out.c.id))

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
            out = _latest_outcomes()
            s = SCORES.c
            query = (
                select(s.lead_id, *_score_columns(SCORES, epoch=True), out.c.converted,
                       epoch_us(out.c.occurred_at), out.c.contacted)
                .join_from(latest, SCORES, s.id == latest.c.score_id)
                .outerjoin(out, out.c.lead_id == latest.c.lead_id)
                .order_by(s.scored_at, s.id)
            )  # fmt: skip
            return self._fetch(conn, query)

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
            query = select(after.c.lead_id).join_from(after, now, now.c.id == after.c.score_id)
            if self._db.dialect == "postgresql":
                before: Any = last.lateral("before")
                query = query.join(before, true())
            else:
                before = SCORES.alias("before")
                probe = last.with_only_columns(earlier.c.id).scalar_subquery()
                query = query.join(before, before.c.id == probe)
            query = query.add_columns(
                *(before.c[name] for name in fields), *(now.c[name] for name in fields)
            )
            change = func.abs(now.c.score_100 - before.c.score_100)
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

    def last_per_period(
        self, start: datetime, end: datetime, cuts: Sequence[datetime]
    ) -> list[tuple[int, float, bool]]:
        """Each lead's last score in each period of ``[start, end)``, the periods split at
        ``cuts`` (ascending, inside the window): rows ``(period, score, contact)``, period
        0 before the first cut, 1 after it, …, in the order of the scores.

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> from leadscore.store import NewScore
        >>> day = datetime(2026, 3, 2, tzinfo=UTC)
        >>> for hours, p in ((1, 0.2), (2, 0.3), (30, 0.6)):
        ...     with store.scores.scoring(["L1"]) as writer:
        ...         _ = writer.add([NewScore("L1", "1", p, int(100 * p), "cold", False,
        ...                                  scored_at=day + timedelta(hours=hours))])
        >>> store.scores.reads.last_per_period(day, day + timedelta(days=2), [day + timedelta(1)])
        [(0, 0.3, False), (1, 0.6, False)]
        """
        s = SCORES.c
        bounds = [as_utc(cut) for cut in cuts]
        period = (
            case(*((s.scored_at < cut, i) for i, cut in enumerate(bounds)), else_=len(bounds))
            if bounds
            else literal(0)
        )
        rank = func.row_number().over(
            partition_by=(s.lead_id, period), order_by=(s.scored_at.desc(), s.id.desc())
        )
        ranked = (
            select(period.label("period"), s.score, s.contact, s.scored_at, s.id,
                   rank.label("rank"))
            .where(s.scored_at >= as_utc(start), s.scored_at < as_utc(end))
            .subquery("ranked")
        )  # fmt: skip
        r = ranked.c
        query = select(r.period, r.score, r.contact).where(r.rank == 1).order_by(r.scored_at, r.id)
        return self._rows(query)

    def counts(self, start: datetime, end: datetime) -> tuple[int, int]:
        """How many scores were given in ``[start, end)``, and to how many leads.

        Example
        -------
        >>> from datetime import UTC, datetime, timedelta
        >>> from leadscore.store import NewScore
        >>> for p in (0.3, 0.7):
        ...     with store.scores.scoring(["L1"]) as writer:
        ...         _ = writer.add([NewScore("L1", "1", p, int(100 * p), "hot", True)])
        >>> now = datetime.now(UTC)
        >>> store.scores.reads.counts(now - timedelta(days=1), now)
        (2, 1)
        """
        s = SCORES.c
        query = select(func.count(), func.count(s.lead_id.distinct())).where(
            s.scored_at >= as_utc(start), s.scored_at < as_utc(end)
        )
        with self._connect() as conn:
            scores, leads = conn.execute(query).one()
        return int(scores), int(leads)

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
            out = _latest_outcomes()
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

    def _latest_in(self, conn: Connection, start: datetime | None, end: datetime) -> Subquery:
        """``(lead_id, score_id, scored_at)`` of each lead's last score in ``[start, end)``:
        the ``latest_scores`` table when no score was given at or after ``end`` (a period
        reaching now), else a window function over the period's scores."""
        s = SCORES.c
        until = as_utc(end)
        beyond = conn.execute(select(s.id).where(s.scored_at >= until).limit(1)).first()
        if beyond is None:
            query = select(LATEST.c.lead_id, LATEST.c.score_id, LATEST.c.scored_at)
            if start is not None:
                query = query.where(LATEST.c.scored_at >= as_utc(start))
            return query.subquery("latest")
        rank = func.row_number().over(
            partition_by=s.lead_id, order_by=(s.scored_at.desc(), s.id.desc())
        )
        window = [s.scored_at < until] + ([s.scored_at >= as_utc(start)] if start else [])
        ranked = (
            select(s.lead_id, s.id.label("score_id"), s.scored_at, rank.label("rank"))
            .where(and_(*window))
            .subquery("ranked")
        )
        r = ranked.c
        return select(r.lead_id, r.score_id, r.scored_at).where(r.rank == 1).subquery("latest")

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
        memory (the default 4 MB spills them to disk)."""
        with self._db.engine.begin() as conn:
            if self._db.dialect == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
            yield conn


def _score_columns(scores: Any, *, epoch: bool = False) -> list[Any]:
    """The :data:`SCORE_FIELDS` of a scores table (or alias); ``epoch``: the time as
    microseconds since the epoch."""
    columns = [scores.c[name] for name in SCORE_FIELDS[:-1]]
    if epoch:
        columns = [epoch_us(c).label(c.name) if c.name == "scored_at" else c for c in columns]
    return [*columns, scores.c.id.label("score_id")]


def _latest_outcomes() -> Subquery:
    """Each lead's latest recorded outcome (the highest id: a correction replaces it)."""
    o = Outcome.__table__.c
    newer = Outcome.__table__.alias("newer")
    superseded = select(newer.c.id).where(newer.c.lead_id == o.lead_id, newer.c.id > o.id)
    return (
        select(o.id, o.lead_id, o.converted, o.occurred_at, o.contacted)
        .where(~superseded.exists())
        .subquery("outcome")
    )
