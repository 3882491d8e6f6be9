"""The one engine and session factory every repository of the store shares.

:class:`Database` opens the engine of :func:`~leadscore.store.db.make_engine` once and
hands each repository the same ways into it:

* :meth:`Database.read` — an ORM session in a read transaction (a snapshot; never blocks
  a writer on SQLite's WAL);
* :meth:`Database.write` — an ORM session in a write transaction, ``BEGIN IMMEDIATE`` on
  SQLite (the file lock is taken up front, so concurrent writers queue instead of failing
  mid-transaction);
* :meth:`Database.begin_write` — a Core connection in a write transaction, for the paths
  where an ORM session costs more than the SQL (the scoring write);
* :meth:`Database.insert` — the dialect's ``INSERT`` with ``ON CONFLICT``.

SQLite has one writer at a time. Writers of one :class:`Database` queue on a lock that
wakes the next one the moment a commit ends; left to SQLite's busy handler they would
sleep 1, 2, 5, … up to 100 ms between tries (other processes still do).

Example
-------
>>> from sqlalchemy import func, select
>>> from leadscore.store.tables import Lead
>>> db = Database("sqlite:///scores.db")
>>> with db.read() as session:
...     session.scalar(select(func.count()).select_from(Lead))
0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadscore.store.db import WRITE_DEADLINE, make_engine, normalise_url, upgrade, write_engine
from leadscore.store.errors import StoreUnavailable
from leadscore.store.tables import Base


class Database:
    """The store's database at ``url``: one engine (and its pool), its write twin, the
    writer lock and the session factories.

    With ``migrate=True`` the schema is created or upgraded on opening (cheap when current,
    safe from several processes at once). ``wait_s`` bounds each wait for the database
    (see :func:`~leadscore.store.db.make_engine`) and for this process's writer lock; a
    wait beyond it raises :class:`~leadscore.store.errors.StoreUnavailable`, or the
    driver's operational error (which :data:`~leadscore.store.errors.UNAVAILABLE` lists).
    """

    def __init__(self, url: str, *, migrate: bool = True, wait_s: float | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, wait_s=wait_s)
        #: the same pool; SQLite transactions on it begin with ``BEGIN IMMEDIATE``
        self.writer = write_engine(self.engine)
        self.dialect: str = self.engine.dialect.name
        #: what writers of this process queue on (SQLite); a no-op on PostgreSQL
        self.write_lock: AbstractContextManager[Any] = (
            _WriterLock(wait_s) if self.dialect == "sqlite" else nullcontext()
        )
        if migrate:
            try:
                upgrade(self.engine)
            except BaseException:
                self.engine.dispose()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """An ORM session in a read transaction (committed on leaving, rolled back on an
        exception)."""
        with Session(self.engine) as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """An ORM session in a write transaction, behind the writer lock."""
        with self.write_lock, Session(self.writer) as session, session.begin():
            yield session

    @contextmanager
    def begin_write(self) -> Iterator[Connection]:
        """A Core connection in a write transaction, behind the writer lock: committed on
        leaving, rolled back on an exception."""
        with self.write_lock, self.writer.begin() as conn:
            yield conn

    def insert(self, model: type[Base]) -> Any:
        """A dialect-specific INSERT of ``model`` that has ``on_conflict_do_*``."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return dialect_insert(model)

    def ping(self) -> None:
        """Check that the store answers with its own data (a readiness probe): one row of
        a real table is read, so a database that answers but lost its tables (a file moved
        away, the wrong database) is not ready. Raises if it is not."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT id FROM leads LIMIT 1").all()

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy SQLite's write-ahead log into the database file now, without waiting for
        readers or writers (a passive checkpoint): ``(frames in the log, frames copied)``;
        None for PostgreSQL and in-memory stores.

        SQLite otherwise checkpoints inside whichever commit finds the log over 1,000
        pages, and that commit waits the few milliseconds of the copy and its fsync; the
        service calls this from a background thread so requests do not (see
        :class:`leadscore.store.checkpoint.Checkpointer`)."""
        if self.dialect != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return None
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            _busy, logged, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(logged), int(copied)

    @contextmanager
    def without_waiting(self) -> Iterator[None]:
        """Writes in this block never wait: on SQLite, for this process's writer turn or
        for the file lock (busy timeout 0), nor for a pooled connection; each raises
        :class:`StoreUnavailable` (or the driver's "database is locked") at once instead,
        and the caller retries where waiting is harmless. Only SQLite: a PostgreSQL write
        is a network round trip, which no setting makes instant (raises at once).

        Example
        -------
        >>> db = Database("sqlite:///scores.db")
        >>> with db.without_waiting(), db.begin_write() as conn:
        ...     conn.exec_driver_sql("SELECT 1").scalar()
        1
        """
        if self.dialect != "sqlite":
            raise StoreUnavailable("only a SQLite store can be written without waiting")
        pool = self.engine.pool
        idle = getattr(pool, "checkedin", lambda: 1)()
        if not idle and getattr(pool, "overflow", lambda: 0)() >= getattr(pool, "_max_overflow", 1):
            raise StoreUnavailable("no idle connection to the score store")
        _NO_WAIT.on = True
        try:
            yield
        finally:
            _NO_WAIT.on = False

    def close(self) -> None:
        """Close the pooled connections (the database can still be used; it reconnects)."""
        self.engine.dispose()


#: set while this thread writes without waiting (:meth:`Database.without_waiting`)
_NO_WAIT = threading.local()


class _WriterLock:
    """The SQLite writers' queue of one process: a lock taken for at most ``wait_s``
    seconds (None: as long as it takes); past that, :class:`StoreUnavailable`."""

    def __init__(self, wait_s: float | None) -> None:
        self._lock = threading.Lock()
        self._wait_s = wait_s

    def __enter__(self) -> None:
        if getattr(_NO_WAIT, "on", False):
            # a write that must not wait at all (the event loop's attempt, see
            # Database.without_waiting): the turn now or never, and SQLite's lock likewise
            if not self._lock.acquire(blocking=False):
                raise StoreUnavailable("the score store's writer is busy in this process")
            WRITE_DEADLINE.at = time.monotonic()
            return
        if self._wait_s is None:
            self._lock.acquire()
            return
        # one budget for the whole wait: the turn here, then SQLite's lock (the BEGIN
        # waits only what is left, see WRITE_DEADLINE)
        deadline = time.monotonic() + self._wait_s
        if not self._lock.acquire(timeout=self._wait_s):
            raise StoreUnavailable(
                f"the score store is busy: no write turn within {self._wait_s:g} s "
                "(another writer holds the database); retry shortly"
            )
        WRITE_DEADLINE.at = deadline

    def __exit__(self, *_exc: object) -> None:
        WRITE_DEADLINE.at = None
        self._lock.release()


class Repository:
    """Base of the store's repositories: the shared :class:`Database` and its sessions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _read(self) -> AbstractContextManager[Session]:
        return self._db.read()

    def _write(self) -> AbstractContextManager[Session]:
        return self._db.write()
