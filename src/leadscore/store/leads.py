"""Leads and their CRM fields: :class:`LeadRepository` (``store.leads``).

A lead is created by whatever first names it (an upsert, a score, an event, an outcome)
and its ``attributes`` are merged on every upsert: new values win, other fields stay.

Transactions:

* :meth:`LeadRepository.upsert_many` is one write transaction: the leads are created or
  locked first (sorted, so two transactions locking overlapping sets cannot deadlock),
  then read, merged and updated.
* The other repositories create and lock leads inside their own transactions through
  :meth:`LeadRepository.ensure` (``INSERT … ON CONFLICT DO NOTHING``) and
  :meth:`LeadRepository.lock`: on PostgreSQL the ``INSERT … ON CONFLICT DO UPDATE … WHERE
  false`` that creates missing leads updates nothing but locks each existing row with
  ``FOR NO KEY UPDATE`` strength (which does not block inserts of events referring to it);
  on SQLite the write transaction itself is the lock, taken at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, false, select, update

from leadscore.store.checks import CHUNK, as_json, check_lead_id
from leadscore.store.errors import StoreError
from leadscore.store.json_columns import dumps_json
from leadscore.store.records import LeadRecord
from leadscore.store.session import Database, Repository
from leadscore.store.tables import Lead, LeadChange, as_utc, sqlite_time, utcnow

# Core statements built once: SQLAlchemy then finds their compiled form in its cache by
# identity instead of building, coercing and hashing a new statement per call
LEADS = Lead.__table__
CHANGES = LeadChange.__table__
_INSERT_CHANGES = CHANGES.insert()
_SQLITE_INSERT_CHANGES = (
    "INSERT INTO lead_changes (lead_id, attributes, changed_at) VALUES (?, ?, ?)"
)
_SQLITE_ENSURE = (
    "INSERT INTO leads (id, attributes, created_at, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_SELECT_LEADS = select(LEADS).where(LEADS.c.id.in_(bindparam("ids", expanding=True)))
_UPDATE_ATTRIBUTES = (
    update(LEADS)
    .where(LEADS.c.id == bindparam("b_id"))
    .values(attributes=bindparam("b_attributes"), updated_at=bindparam("b_updated_at"))
)


class LeadRepository(Repository):
    """Leads and their attributes (``store.leads``).

    Example
    -------
    >>> store.leads.upsert("L1", {"source": "google"}).attributes
    {'source': 'google'}
    """

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        # the dialect's INSERT … ON CONFLICT statements, built once
        ensure = db.insert(Lead)
        self._ensure_stmt = ensure.on_conflict_do_nothing()
        # PostgreSQL: DO UPDATE … WHERE false changes no row but locks every existing one
        # (documented), and with no key column in SET it is a FOR NO KEY UPDATE lock
        self._lock_stmt = ensure.on_conflict_do_update(
            index_elements=["id"], set_={"attributes": LEADS.c.attributes}, where=false()
        )

    # ------------------------------------------------------------------ reads and writes

    def upsert(self, lead_id: str, attributes: Mapping[str, Any]) -> LeadRecord:
        """Create the lead or merge ``attributes`` over its stored ones (new values win,
        other fields stay). Concurrent upserts of the same new lead are safe.

        Example
        -------
        >>> store.leads.upsert("L1", {"source": "google", "country": "FR"}).attributes
        {'source': 'google', 'country': 'FR'}
        >>> store.leads.upsert("L1", {"country": "DE"}).attributes
        {'source': 'google', 'country': 'DE'}
        """
        return self.upsert_many({lead_id: attributes})[0]

    def upsert_many(self, leads: Mapping[str, Mapping[str, Any]]) -> list[LeadRecord]:
        """:meth:`upsert` for many leads in one transaction (in the given order).

        Example
        -------
        >>> [r.id for r in store.leads.upsert_many({"L1": {"a": 1}, "L2": {"a": 2}})]
        ['L1', 'L2']
        """
        for lead_id, attributes in leads.items():
            check_lead_id(lead_id)
            if not isinstance(attributes, Mapping):
                raise StoreError(f"attributes of lead {lead_id!r} must be a mapping")
        if not leads:
            return []
        # as they will be stored (NaN → None, dates → text), so the records say the same
        fields = {lead_id: as_json(dict(attributes)) for lead_id, attributes in leads.items()}
        now = utcnow()
        with self._db.begin_write() as conn:
            self.lock(conn, fields, now)
            rows = self._by_id(conn, fields)
            # leads this transaction created (with their attributes): their first state
            self.record_changes(
                conn, {i: fields[i] for i, r in rows.items() if r.created_at == now}, now
            )
            stored = {lead_id: row.attributes for lead_id, row in rows.items()}
            for lead_id, merged in self.merge(conn, fields, stored, now).items():
                rows[lead_id] = LeadRecord(lead_id, merged, rows[lead_id].created_at, now)
            return [rows[lead_id] for lead_id in leads]

    def get(self, lead_id: str) -> LeadRecord | None:
        """The lead, or ``None`` when the store knows nothing about it.

        Example
        -------
        >>> store.leads.get("nobody") is None
        True
        """
        with self._read() as session:
            row = session.get(Lead, lead_id)
            return None if row is None else lead_record(row)

    def iter_attributes(self, chunk: int = 1000) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Every stored lead's id and attributes, in chunks by id (for re-scoring); each
        chunk is read in a transaction of its own."""
        last = ""
        while True:
            with self._read() as session:
                rows = session.execute(
                    select(Lead.id, Lead.attributes)
                    .where(Lead.id > last)
                    .order_by(Lead.id)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            yield [(r[0], dict(r[1] or {})) for r in rows]
            last = rows[-1][0]

    # ------------------------------------------------- inside other repositories' writes

    def ensure(self, conn: Connection, lead_ids: Iterable[str], now: datetime) -> None:
        """Create the leads of ``lead_ids`` that do not exist yet, with no attributes, in
        the transaction of ``conn``."""
        # one cached executemany statement (a multi-row VALUES would be compiled per call);
        # sorted, so concurrent batches insert overlapping new leads in the same order
        rows = [
            {"id": i, "attributes": {}, "created_at": now, "updated_at": now}
            for i in sorted(set(lead_ids))
        ]
        if rows:  # an empty list would run the INSERT once, without values
            conn.execute(self._ensure_stmt, rows)

    def lock(self, conn: Connection, leads: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
        """Create the leads that do not exist yet (with the given attributes, as stored)
        and, on PostgreSQL, lock all of them; read their state afterwards, in a statement
        of its own (one snapshot taken before a lock wait would miss what the previous
        holder of the lock committed)."""
        # sorted, one pass: each row is inserted or locked in turn (a row another
        # transaction is inserting is waited for like a lock), so two transactions locking
        # overlapping sets cannot deadlock; NO KEY UPDATE does not block concurrent inserts
        # of events and outcomes for the lead. SQLite: the write transaction already holds
        # the lock, and DO NOTHING suffices (straight to sqlite3, as record_changes: this
        # is the scoring write of every new lead)
        if self._db.dialect == "sqlite":
            when = sqlite_time(now)
            conn.connection.driver_connection.executemany(
                _SQLITE_ENSURE, [(i, dumps_json(leads[i]), when, when) for i in sorted(leads)]
            )
            return
        rows = [
            {"id": i, "attributes": leads[i], "created_at": now, "updated_at": now}
            for i in sorted(leads)
        ]
        conn.execute(self._lock_stmt, rows)  # one cached executemany, like ensure

    def merge(
        self,
        conn: Connection,
        fields: Mapping[str, Mapping[str, Any]],
        stored: Mapping[str, Mapping[str, Any]],
        now: datetime,
    ) -> dict[str, dict[str, Any]]:
        """Merge new attributes (as stored, see :func:`~leadscore.store.checks.as_json`)
        over the ``stored`` ones of locked, existing leads; returns the merged attributes
        of the leads that changed (a lead just created with its attributes does not)."""
        changed: dict[str, dict[str, Any]] = {}
        for lead_id, attributes in fields.items():
            merged = {**stored[lead_id], **attributes}
            if merged != stored[lead_id]:
                changed[lead_id] = merged
        if changed:
            conn.execute(  # one executemany
                _UPDATE_ATTRIBUTES,
                [{"b_id": i, "b_attributes": m, "b_updated_at": now} for i, m in changed.items()],
            )
            self.record_changes(conn, changed, now)
        return changed

    def record_changes(
        self, conn: Connection, attributes: Mapping[str, Mapping[str, Any]], now: datetime
    ) -> None:
        """Append the leads' attributes as they became at ``now`` to their history (in
        the transaction of ``conn``); leads with no attributes are skipped."""
        changed = [(i, a) for i, a in attributes.items() if a]
        if not changed:
            return
        if self._db.dialect == "sqlite":
            # straight to sqlite3, in the scoring transaction of nearly every new lead: the
            # statement is fixed and its values plain, and SQLAlchemy's execution costs
            # several times the INSERT itself. The text is what the column type writes
            # (JSON; naive UTC time, microseconds), so reads through SQLAlchemy match.
            when = sqlite_time(now)
            conn.connection.driver_connection.executemany(
                _SQLITE_INSERT_CHANGES, [(i, dumps_json(a), when) for i, a in changed]
            )
            return
        rows = [{"lead_id": i, "attributes": dict(a), "changed_at": now} for i, a in changed]
        conn.execute(_INSERT_CHANGES, rows)  # one executemany

    def created(self) -> list[tuple[str, datetime]]:
        """Every lead's id and creation time (when the store first heard of it).

        Example
        -------
        >>> _ = store.leads.upsert("L1", {})
        >>> [lead_id for lead_id, _ in store.leads.created()]
        ['L1']
        """
        with self._db.engine.connect() as conn:
            rows = conn.execute(select(LEADS.c.id, LEADS.c.created_at).order_by(LEADS.c.id))
            return [(lead_id, as_utc(created)) for lead_id, created in rows]

    def backdate(self, created: Mapping[str, datetime]) -> None:
        """Move each named lead's creation time, and the times of its recorded attribute
        changes, back to ``created[lead_id]`` — never forward: for data replayed from the
        past (an import of old leads, a simulation), which the store would otherwise stamp
        with the time of writing, so that cohorts by creation week and point-in-time reads
        of a lead's attributes see them when they happened.

        Example
        -------
        >>> from datetime import UTC, datetime
        >>> _ = store.leads.upsert("L1", {"source": "google"})
        >>> store.leads.backdate({"L1": datetime(2026, 3, 2, tzinfo=UTC)})
        >>> store.leads.created()[0][1].date().isoformat()
        '2026-03-02'
        """
        rows = [{"lead": lead_id, "when": as_utc(when)} for lead_id, when in created.items()]
        if not rows:
            return
        changes = LeadChange.__table__
        with self._write() as session:
            conn = session.connection()
            conn.execute(
                update(LEADS)
                .where(LEADS.c.id == bindparam("lead"), LEADS.c.created_at > bindparam("when"))
                .values(created_at=bindparam("when"), updated_at=bindparam("when")),
                rows,
            )
            conn.execute(
                update(changes)
                .where(
                    changes.c.lead_id == bindparam("lead"), changes.c.changed_at > bindparam("when")
                )
                .values(changed_at=bindparam("when")),
                rows,
            )

    def history(
        self, lead_ids: Iterable[str] | None = None
    ) -> list[tuple[str, datetime, dict[str, Any]]]:
        """Every recorded state of the leads' attributes (all leads when None):
        ``(lead_id, changed_at, attributes)``, by lead and then time — what a training
        table reads each lead's fields from as of its outcome.

        Example
        -------
        >>> _ = store.leads.upsert("L1", {"industry": "Retail"})
        >>> _ = store.leads.upsert("L1", {"industry": "Software"})
        >>> [a["industry"] for _, _, a in store.leads.history(["L1"])]
        ['Retail', 'Software']
        """
        query = select(CHANGES.c.lead_id, CHANGES.c.changed_at, CHANGES.c.attributes)
        order = (CHANGES.c.lead_id, CHANGES.c.changed_at, CHANGES.c.id)
        out: list[tuple[str, datetime, dict[str, Any]]] = []
        with self._db.engine.connect() as conn:
            if lead_ids is None:
                rows = conn.execute(query.order_by(*order)).all()
            else:
                ids = sorted(set(lead_ids))
                rows = []
                for start in range(0, len(ids), CHUNK):
                    part = ids[start : start + CHUNK]
                    rows += conn.execute(
                        query.where(CHANGES.c.lead_id.in_(part)).order_by(*order)
                    ).all()
        for lead_id, changed_at, attributes in rows:
            out.append((lead_id, as_utc(changed_at), dict(attributes or {})))
        return out

    def _by_id(self, conn: Connection, lead_ids: Iterable[str]) -> dict[str, LeadRecord]:
        ids = sorted(set(lead_ids))
        out: dict[str, LeadRecord] = {}
        for start in range(0, len(ids), CHUNK):
            for row in conn.execute(_SELECT_LEADS, {"ids": ids[start : start + CHUNK]}):
                out[row.id] = lead_record(row)
        return out


def lead_record(row: Lead | Row[Any]) -> LeadRecord:
    """The frozen record of a lead row."""
    return LeadRecord(row.id, dict(row.attributes or {}), row.created_at, row.updated_at)
