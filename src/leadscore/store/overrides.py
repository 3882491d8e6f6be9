"""Sales overrides of a lead's segment (``store.overrides``): a person's correction that
the work queue, the API and the webhooks respect while the model's scores go on beneath.

A rep who spoke to a lead knows things the model does not ("not a buyer", "VIP
referral"): an override pins the lead's segment to ``hot``, ``warm`` or ``cold``, or
``exclude``\\s it from the work queue, with who, why and until when. Overrides are
append-only data: setting one again replaces the lead's current one, clearing it keeps
the row (who cleared it and when), and an expired one simply stops counting. A lead's
override is its latest row while it is neither cleared nor expired.

Example
-------
>>> _ = store.leads.upsert("L1", {})
>>> pinned = store.overrides.set("L1", "hot", "VIP referral", "maria")
>>> store.overrides.active(["L1"])["L1"].segment
'hot'
>>> _ = store.overrides.clear("L1", "maria")
>>> store.overrides.active(["L1"])
{}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session

from leadscore.store.checks import CHUNK, check_lead_id
from leadscore.store.errors import NotFoundError, StoreError
from leadscore.store.session import Repository
from leadscore.store.tables import Lead, Override, as_utc, from_sqlite_time, utcnow

#: what an override may set: a segment, or ``exclude`` (out of the work queue)
OVERRIDE_SEGMENTS: tuple[str, ...] = ("hot", "warm", "cold", "exclude")
#: longest reason kept
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """One override of one lead: the segment set (or ``exclude``), by whom, why, from
    ``created_at`` until ``until`` (None: until cleared), and its clearing if any."""

    id: int
    lead_id: str
    segment: str
    reason: str
    author: str
    created_at: datetime
    until: datetime | None
    cleared_at: datetime | None
    cleared_by: str | None

    def in_force(self, now: datetime | None = None) -> bool:
        """Whether it counts at ``now`` (default: now): not cleared, not expired."""
        when = now or utcnow()
        return self.cleared_at is None and (self.until is None or self.until > when)


def _record(row: Override) -> OverrideRecord:
    return OverrideRecord(
        row.id, row.lead_id, row.segment, row.reason, row.author, row.created_at,
        row.until, row.cleared_at, row.cleared_by,
    )  # fmt: skip


#: what :meth:`OverrideRepository.set` and :meth:`~OverrideRepository.clear` call in their
#: transaction: its connection, the lead's override in force before and after the change
Then = Callable[[Connection, "OverrideRecord | None", "OverrideRecord | None"], None]

_OVERRIDES = Override.__table__
# every override of the given leads, oldest first (the last one per lead is its current)
_OF_LEADS = (
    select(_OVERRIDES)
    .where(_OVERRIDES.c.lead_id.in_(bindparam("ids", expanding=True)))
    .order_by(_OVERRIDES.c.id)
)
# the same for one lead (a real-time score): an expanding IN costs a compilation per call
_OF_LEAD = (
    select(_OVERRIDES).where(_OVERRIDES.c.lead_id == bindparam("id")).order_by(_OVERRIDES.c.id)
)


# the overrides in force at ``when``: each lead's newest, not cleared and not expired
_CURRENT = (_OVERRIDES.c.cleared_at.is_(None)) & (
    _OVERRIDES.c.until.is_(None) | (_OVERRIDES.c.until > bindparam("when"))
)
_IN_FORCE = select(_OVERRIDES).where(
    _OVERRIDES.c.id.in_(select(func.max(_OVERRIDES.c.id)).group_by(_OVERRIDES.c.lead_id)),
    _CURRENT,
)
# the same for some leads: the newest per lead looked up among theirs only
_IN_FORCE_OF = select(_OVERRIDES).where(
    _OVERRIDES.c.id.in_(
        select(func.max(_OVERRIDES.c.id))
        .where(_OVERRIDES.c.lead_id.in_(bindparam("ids", expanding=True)))
        .group_by(_OVERRIDES.c.lead_id)
    ),
    _CURRENT,
)


_FIELDS = "id, lead_id, segment, reason, author, created_at, until, cleared_at, cleared_by"
_SQLITE_NEWEST = f"SELECT {_FIELDS} FROM overrides WHERE lead_id = ? ORDER BY id DESC LIMIT 1"


def _sqlite_record(row: tuple[Any, ...]) -> OverrideRecord:
    """An override read straight from sqlite3 (the columns of ``_FIELDS``)."""
    oid, lead_id, segment, reason, author, created, until, cleared, cleared_by = row
    return OverrideRecord(
        oid, lead_id, segment, reason, author, from_sqlite_time(created),  # type: ignore[arg-type]
        from_sqlite_time(until), from_sqlite_time(cleared), cleared_by,
    )  # fmt: skip


def in_force(now: datetime) -> Select[tuple[str]]:
    """The ids of the leads with an override in force at ``now``: a subquery for the
    work queue (:meth:`ScoreRepository.ranked <leadscore.store.scores.ScoreRepository.ranked>`
    leaves them out)."""
    newest = select(func.max(Override.id)).group_by(Override.lead_id)
    return select(Override.lead_id).where(
        Override.id.in_(newest),
        Override.cleared_at.is_(None),
        (Override.until.is_(None)) | (Override.until > as_utc(now)),
    )


class OverrideRepository(Repository):
    """Overrides of leads' segments (``store.overrides``)."""

    def set(
        self,
        lead_id: str,
        segment: str,
        reason: str,
        author: str,
        until: datetime | None = None,
        then: Then | None = None,
    ) -> OverrideRecord:
        """Pin the lead's segment (``hot``/``warm``/``cold``) or exclude it from the work
        queue, replacing its current override. ``reason`` and ``author`` are required
        (a correction nobody can explain cannot be reviewed); ``until`` must be ahead.
        ``then`` is called in the same transaction (the lead locked) with its connection,
        the override in force before and the new one: what it writes commits with it
        (the webhooks the change fires, see :mod:`leadscore.live.overrides`).
        """
        check_lead_id(lead_id)
        if segment not in OVERRIDE_SEGMENTS:
            raise StoreError(
                f"an override sets one of {', '.join(OVERRIDE_SEGMENTS)}, not {segment!r}"
            )
        reason, author = (reason or "").strip(), (author or "").strip()
        if not reason:
            raise StoreError("an override needs a reason (what the rep learned)")
        if len(reason) > MAX_REASON:
            raise StoreError(f"the reason is longer than {MAX_REASON:,} characters")
        if not author:
            raise StoreError("an override needs its author")
        now = utcnow()
        if until is not None and as_utc(until) <= now:
            raise StoreError(f"the override would end at {as_utc(until):%Y-%m-%d %H:%M} UTC, "
                             "which has passed")  # fmt: skip
        with self._write() as session:
            # locked (PostgreSQL) as a scoring transaction locks it: the two take turns
            if session.get(Lead, lead_id, with_for_update=True) is None:
                raise NotFoundError(f"no lead with id {lead_id!r}")
            before = self._current(session, lead_id, now)
            row = Override(
                lead_id=lead_id, segment=segment, reason=reason, author=author,
                created_at=now, until=as_utc(until) if until is not None else None,
            )  # fmt: skip
            session.add(row)
            session.flush()
            record = _record(row)
            if then is not None:
                then(session.connection(), before, record)
            return record

    def clear(self, lead_id: str, by: str, then: Then | None = None) -> OverrideRecord | None:
        """End the lead's override now (kept as data, with who ended it); the cleared
        record, or None when it had none in force. ``then`` is called as by :meth:`set`
        (the cleared override before, None after), only when one was cleared."""
        now = utcnow()
        with self._write() as session:
            session.get(Lead, lead_id, with_for_update=True)
            row = session.scalars(
                select(Override)
                .where(Override.lead_id == lead_id)
                .order_by(Override.id.desc())
                .limit(1)
            ).first()
            if row is None or not _record(row).in_force(now):
                return None
            row.cleared_at, row.cleared_by = now, (by or "").strip() or "unknown"
            session.flush()
            record = _record(row)
            if then is not None:
                then(session.connection(), record, None)
            return record

    @staticmethod
    def _current(session: Session, lead_id: str, now: datetime) -> OverrideRecord | None:
        row = session.scalars(
            select(Override).where(Override.lead_id == lead_id).order_by(Override.id.desc())
        ).first()
        record = None if row is None else _record(row)
        return record if record is not None and record.in_force(now) else None

    def active_on(
        self, conn: Connection, lead_ids: Iterable[str], now: datetime
    ) -> dict[str, OverrideRecord]:
        """The overrides in force at ``now`` of ``lead_ids``, read on ``conn`` (a scoring
        transaction's connection: the answer and the webhooks of a score see the override
        the score was made under).

        Example
        -------
        >>> from leadscore.store import NewScore
        >>> _ = store.leads.upsert("L1", {})
        >>> _ = store.overrides.set("L1", "exclude", "existing customer", "maria")
        >>> with store.scores.scoring(["L1"]) as writer:
        ...     pinned = store.overrides.active_on(writer.connection, ["L1"], writer.now)
        ...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True)])
        >>> pinned["L1"].segment
        'exclude'
        """
        ids = sorted(set(lead_ids))
        when = as_utc(now)
        if len(ids) == 1 and self._db.dialect == "sqlite":
            # a real-time score: its lead's newest override, straight from sqlite3 (the
            # usual answer is none, and SQLAlchemy's execution costs more than the lookup)
            row = conn.connection.driver_connection.execute(_SQLITE_NEWEST, ids).fetchone()
            record = None if row is None else _sqlite_record(row)
            return {record.lead_id: record} if record and record.in_force(when) else {}
        newest: dict[str, OverrideRecord] = {}
        chunks = (
            [(_OF_LEAD, {"id": ids[0]})]
            if len(ids) == 1
            else [(_OF_LEADS, {"ids": ids[i : i + CHUNK]}) for i in range(0, len(ids), CHUNK)]
        )
        for statement, params in chunks:
            for row in conn.execute(statement, params):
                newest[row.lead_id] = _record(row)
        return {k: v for k, v in newest.items() if v.in_force(when)}

    def active(
        self, lead_ids: Iterable[str] | None = None, now: datetime | None = None
    ) -> dict[str, OverrideRecord]:
        """The overrides in force, by lead (of ``lead_ids``, else of every lead)."""
        when = as_utc(now) if now is not None else utcnow()
        out: dict[str, OverrideRecord] = {}
        # Core rows on one connection, statements built once: the work queue reads this
        # on every page, and building the query cost more than running it
        with self._db.engine.connect() as conn, conn.begin():
            if lead_ids is None:
                chunks = [(_IN_FORCE, {"when": when})]
            else:
                ids = sorted(set(lead_ids))
                chunks = [
                    (_IN_FORCE_OF, {"when": when, "ids": ids[start : start + CHUNK]})
                    for start in range(0, len(ids), CHUNK)
                ]
            for statement, params in chunks:
                for row in conn.execute(statement, params):
                    out[row.lead_id] = _record(row)
        return out

    def history(self, lead_id: str) -> list[OverrideRecord]:
        """Every override of the lead, newest first (expired and cleared ones too)."""
        with self._read() as session:
            rows = session.scalars(
                select(Override).where(Override.lead_id == lead_id).order_by(Override.id.desc())
            )
            return [_record(row) for row in rows]
