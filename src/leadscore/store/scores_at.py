"""Leads' scores as they stood at given times, found by the database
(:meth:`ScoreRepository.at <leadscore.store.scores.ScoreRepository.at>`).

Each wanted ``(lead, time)`` gets the lead's last score at or before that time: "last" by
``(scored_at, id)``, as everywhere in the store (of two scores at one instant the later
stored one). The pairs go to the database in chunks, each chunk as one parameter (SQLite:
a JSON array read by ``json_each``; PostgreSQL: arrays unnested), and each pair is
answered by one probe of the ``(lead_id, scored_at)`` index, so a caller reads one row per
pair, never a lead's whole history (nor the store's).

Example
-------
>>> from datetime import UTC, datetime, timedelta
>>> from leadscore.store import NewScore
>>> day = datetime(2026, 3, 2, tzinfo=UTC)
>>> for hours, p in ((0, 0.2), (30, 0.6)):
...     with store.scores.scoring(["L1"]) as writer:
...         _ = writer.add([NewScore("L1", "1", p, int(100 * p), "cold", False,
...                                  scored_at=day + timedelta(hours=hours))])
>>> wanted = [("L1", day + timedelta(hours=12)), ("L1", day - timedelta(hours=1))]
>>> with store.engine.connect() as conn:
...     found = scores_at(conn, wanted)
>>> found[0].score_100, found[1]
(20, None)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.dialects import postgresql

from leadscore.store.checks import check_lead_id
from leadscore.store.scoring import SCORES
from leadscore.store.tables import as_utc, sqlite_time


class ScoreAt(NamedTuple):
    """A stored score (without its reasons) as :func:`scores_at` finds it."""

    id: int
    lead_id: str
    score: float
    score_100: int
    segment: str
    contact: bool
    scored_at: datetime
    model_version: str
    explored: bool
    propensity: float | None


#: the columns of a :class:`ScoreAt`, in order
FIELDS = ScoreAt._fields
#: the most pairs per query
CHUNK = 5_000


def scores_at(
    conn: Connection, wanted: Sequence[tuple[str, datetime]], *, chunk: int = CHUNK
) -> list[ScoreAt | None]:
    """Each ``(lead_id, time)`` of ``wanted``'s last score at or before ``time`` (None when
    the lead had none by then), in the order of ``wanted``, read on ``conn``.

    Parameters
    ----------
    conn:
        The connection to read on: a scoring transaction's, or one of the caller's own.
    wanted:
        ``(lead_id, time)`` pairs; a naive time is UTC. A pair may repeat.
    chunk:
        The most pairs per query.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> with store.engine.connect() as conn:
    ...     scores_at(conn, [("nobody", datetime.now(UTC))])
    [None]
    """
    if chunk < 1:
        raise ValueError(f"chunk must be 1 or more, not {chunk!r}")
    for lead_id, at in wanted:
        check_lead_id(lead_id)
        if not isinstance(at, datetime):
            raise TypeError(f"the time of lead {lead_id!r} must be a datetime, not {at!r}")
    found: list[ScoreAt | None] = [None] * len(wanted)
    on_postgresql = conn.dialect.name == "postgresql"
    query = _POSTGRESQL if on_postgresql else _SQLITE
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        if on_postgresql:
            params: dict[str, Any] = {
                "ids": [lead for lead, _ in part], "ats": [as_utc(at) for _, at in part],
            }  # fmt: skip
        else:
            # the times as the column stores them: its text order is time order
            params = {"pairs": json.dumps([[lead, sqlite_time(as_utc(at))] for lead, at in part])}
        for row in conn.execute(query, params):
            found[start + row[0]] = ScoreAt(*row[1:])
    return found


def _statement(pairs: Any, *, lateral: bool) -> Select[Any]:
    """The scores of the pairs (columns ``n``: 0-based position, ``lead_id``, ``at``):
    rows ``(n, *FIELDS)``, pairs without a score left out."""
    earlier = SCORES.alias("earlier")
    last = (
        select(earlier.c.id)
        .where(earlier.c.lead_id == pairs.c.lead_id, earlier.c.scored_at <= pairs.c.at)
        .order_by(earlier.c.scored_at.desc(), earlier.c.id.desc())
        .limit(1)
    )
    if lateral:
        # PostgreSQL probes the index once per pair in a lateral join; joined on a scalar
        # subquery instead, it may hash every score
        probe = last.lateral("last")
        query = select(pairs.c.n).select_from(pairs).join(probe, true())
        query = query.join(SCORES, SCORES.c.id == probe.c.id)
    else:
        query = select(pairs.c.n).select_from(pairs)
        query = query.join(SCORES, SCORES.c.id == last.scalar_subquery())
    return query.add_columns(*(SCORES.c[name] for name in FIELDS))


# The pairs travel as one or two parameters, so each statement is compiled once (a VALUES
# list of hundreds of rows costs more to compile than to run): on SQLite a JSON array of
# [lead, time], on PostgreSQL two arrays unnested side by side.
_JSON = func.json_each(bindparam("pairs", type_=String())).table_valued("key", "value")
_SQLITE = _statement(
    select(
        cast(_JSON.c.key, Integer).label("n"),
        func.json_extract(_JSON.c.value, "$[0]").label("lead_id"),
        func.json_extract(_JSON.c.value, "$[1]").label("at"),
    ).cte("wanted"),
    lateral=False,
)
_ARRAYS = (
    func.unnest(
        bindparam("ids", type_=postgresql.ARRAY(String())),
        bindparam("ats", type_=postgresql.ARRAY(DateTime(timezone=True))),
    )
    .table_valued("lead_id", "at", with_ordinality="ordinality")
    .render_derived()
)
_POSTGRESQL = _statement(
    select((_ARRAYS.c.ordinality - 1).label("n"), _ARRAYS.c.lead_id, _ARRAYS.c.at).cte("wanted"),
    lateral=True,
)
