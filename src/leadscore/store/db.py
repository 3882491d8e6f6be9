"""Engines and migrations of the score store.

SQLite (a file, the embedded default) and PostgreSQL (psycopg 3) are supported.

* :func:`normalise_url` gives plain ``postgresql://`` and ``postgres://`` URLs the psycopg 3
  driver (the only PostgreSQL driver installed).
* :func:`make_engine` configures SQLite for several writers (WAL, a 30 s busy timeout,
  ``BEGIN IMMEDIATE`` for write transactions, foreign keys on) and PostgreSQL for long-lived
  services (``pool_pre_ping``).
* :func:`upgrade` brings a database to the newest schema with Alembic; it is cheap when
  nothing is to do and safe to call from several processes at once.

Example
-------
>>> engine = make_engine("sqlite://")
>>> upgrade(engine)
>>> with engine.connect() as conn:
...     conn.exec_driver_sql("SELECT count(*) FROM scores").scalar()
0
"""

from __future__ import annotations

import copy
import math
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.pool import StaticPool

from leadscore.data.masking import mask_source
from leadscore.private_files import create_private_file
from leadscore.store.errors import StoreError
from leadscore.store.json_columns import dumps_json, loads_json

#: where the Alembic environment and revisions live (shipped inside the package)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``
WRITE_OPTION = "leadscore_write"

#: how long a SQLite writer waits for the file lock before "database is locked"
SQLITE_BUSY_TIMEOUT_S = 30.0
#: log pages after which a commit checkpoints the write-ahead log (SQLite's default:
#: 1,000). The service's background checkpointer copies the log 4 times a second, so a
#: commit that must checkpoint copies little; a real-time score writes ~12 pages, so at
#: 1,000 one score in ~80 paid a copy and two fsyncs (the p99), at 10,000 one in ~800.
WAL_AUTOCHECKPOINT_PAGES = 10_000

#: PostgreSQL advisory-lock key space of schema migrations (per schema, see `upgrade`)
_MIGRATION_LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(7346151, hashtext(coalesce(current_schema(), '')))"
)


def normalise_url(url: str | URL) -> str:
    """The SQLAlchemy URL of ``url`` as text, with psycopg 3 for plain PostgreSQL URLs.

    Example
    -------
    >>> normalise_url("postgres://me:pw@db:5432/crm")
    'postgresql+psycopg://me:pw@db:5432/crm'
    >>> normalise_url("sqlite:///leadscore.db")
    'sqlite:///leadscore.db'
    """
    return parse_url(url).render_as_string(hide_password=False)


def mask(url: str | URL) -> str:
    """``url`` with its password hidden, for messages and logs: the ``user:password@``
    part and secret query parameters (``?password=``, ``?sslpassword=``, …; see
    :func:`leadscore.data.masking.mask_source`).

    Example
    -------
    >>> mask("postgresql://me:secret@db/crm")
    'postgresql+psycopg://me:***@db/crm'
    >>> mask("postgresql://me@db/crm?password=secret")
    'postgresql+psycopg://me@db/crm?password=***'
    """
    try:
        return mask_source(parse_url(url).render_as_string(hide_password=True))
    except StoreError:
        return "<malformed database URL>"


def parse_url(url: str | URL) -> URL:
    """A database URL as SQLAlchemy reads it, with the driver the store uses for
    PostgreSQL (psycopg 3); ``postgres://`` is accepted as well.

    Raises :class:`~leadscore.store.errors.StoreError` when the URL is malformed.

    Example
    -------
    >>> parse_url("postgres://u@db/leads").drivername
    'postgresql+psycopg'
    """
    if isinstance(url, str) and url.startswith("postgres://"):
        # the Heroku-style spelling that SQLAlchemy does not accept
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"malformed database URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_memory_url(url: URL) -> bool:
    """Whether the URL names an in-memory SQLite database (nothing on disk).

    Example
    -------
    >>> is_memory_url(parse_url("sqlite://")), is_memory_url(parse_url("sqlite:///x.db"))
    (True, False)
    """
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


def make_engine(url: str | URL, *, wait_s: float | None = None, **kwargs: Any) -> Engine:
    """An engine for the score store at ``url`` (SQLite or PostgreSQL).

    SQLite: WAL journal (readers never wait for the writer), ``synchronous=NORMAL`` (safe
    against a process crash; a power loss may lose the last commits), a 30 s busy timeout,
    foreign keys enforced, connections usable from any thread, and ``BEGIN IMMEDIATE`` on
    connections with the ``leadscore_write`` execution option: a write transaction takes
    the file lock when it starts, so two writers queue on the busy timeout instead of
    failing with "database is locked" when a reader tries to become a writer. An in-memory
    database (``sqlite://``) lives on one shared connection (single-threaded use only).
    A database file is created when the engine is made, readable by its owner only
    (0600, as SQLite then makes its ``-wal`` and ``-shm``), never by a later connection
    (they open it read-write only: a file moved away is an error, not a new empty
    store), and a pooled connection to a file that was moved or replaced since it was
    opened is discarded when it is next checked out (see :func:`_guard_file`).

    PostgreSQL: ``pool_pre_ping`` (a restarted server does not break the first request).

    ``wait_s`` bounds how long one statement waits for the database instead of the
    defaults made for batch jobs: SQLite's busy timeout (default 30 s), and on PostgreSQL
    the wait for a pooled connection, for a new connection and for a row or table lock
    (default: unbounded). A service sets it short so that a request answers "busy, retry"
    (:class:`~leadscore.store.errors.StoreUnavailable`) instead of hanging behind another
    process's lock.

    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.

    Example
    -------
    >>> make_engine("sqlite:///scores.db").dialect.name
    'sqlite'
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        busy_s = SQLITE_BUSY_TIMEOUT_S if wait_s is None else wait_s
        connect_args = {"check_same_thread": False, "timeout": busy_s}
        connect_args.update(kwargs.pop("connect_args", {}))
        path: Path | None = None
        if is_memory_url(parsed):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            # keep a connection for each busy worker thread of the API instead of opening
            # and configuring (WAL, pragmas) an overflow connection per request under load
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
            if "uri" not in connect_args and "creator" not in kwargs:
                path = _create_file(Path(str(parsed.database)))
                kwargs["creator"] = _read_write_opener(path, connect_args)
        kwargs.setdefault("json_serializer", dumps_json)
        kwargs.setdefault("json_deserializer", loads_json)
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, memory=is_memory_url(parsed), busy_s=busy_s)
        if path is not None:
            _guard_file(engine, path)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("json_serializer", dumps_json)
        kwargs.setdefault("json_deserializer", loads_json)
        if wait_s is not None:
            kwargs.setdefault("pool_timeout", wait_s)
            kwargs["connect_args"] = _bounded_pg_args(
                parsed, kwargs.pop("connect_args", {}), wait_s
            )
        return create_engine(parsed, **kwargs)
    raise StoreError(
        f"unsupported database {parsed.get_backend_name()!r} in {mask(parsed)}: "
        "the score store runs on SQLite or PostgreSQL"
    )


def _bounded_pg_args(url: URL, connect_args: Mapping[str, Any], wait_s: float) -> dict[str, Any]:
    """psycopg connection arguments that bound the waits of a PostgreSQL connection: its
    opening (libpq's ``connect_timeout``, whole seconds, at least 2) and any lock
    (``lock_timeout``), added to the ``options`` the URL already has (a ``search_path``,
    say), as connection arguments replace the URL's own."""
    args = dict(connect_args)
    query = {k: (v[-1] if isinstance(v, tuple) else v) for k, v in url.query.items()}
    if "connect_timeout" not in query:
        args.setdefault("connect_timeout", max(2, math.ceil(wait_s)))
    lock = f"-c lock_timeout={max(1, int(wait_s * 1000))}"
    options = args.get("options", query.get("options"))
    args["options"] = f"{options} {lock}" if options else lock
    return args


def _configure_sqlite(engine: Engine, *, memory: bool, busy_s: float) -> None:
    """The pysqlite recipe of the SQLAlchemy docs: sqlite3 stops emitting its own BEGIN
    (it would not start one before SELECT, and would commit before DDL) and SQLAlchemy
    emits ``BEGIN`` itself (``BEGIN IMMEDIATE`` on :func:`write_engine`).

    The recipe's ``begin`` event is replaced by the dialect's ``do_begin``: any
    connection event makes SQLAlchemy dispatch its execute events around every
    statement, which cost about as much as a statement of the scoring write path."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        record.info[_BUSY_DEFAULT] = record.info[_BUSY_NOW] = int(busy_s * 1000)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not memory:
                _set_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        finally:
            cursor.close()

    engine.dialect.do_begin = _sqlite_begin("BEGIN")  # type: ignore[method-assign]


def create_private_sqlite(url: str) -> None:
    """Create the file of a SQLite database URL (``sqlite:///path``) with mode 0600 when it
    is missing and its folder exists, before a library that would make it readable by
    everyone does (MLflow's embedded store); other URLs are left alone.

    Example
    -------
    >>> create_private_sqlite("sqlite:///mlflow.db")
    >>> oct(os.stat("mlflow.db").st_mode & 0o777)
    '0o600'
    """
    if isinstance(url, str) and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///").partition("?")[0])
        if path.parent.is_dir():
            create_private_file(path)


#: the SQLite files this process opened as stores (the default key files of
#: :mod:`leadscore.store.secrets` are beside them)
STORE_FILES: set[Path] = set()


def _create_file(path: Path) -> Path:
    """The store's SQLite file as an absolute path, created (empty, mode 0600: an empty
    file is an empty SQLite database) if it is missing: opening a store creates it; only
    that does."""
    path = path.expanduser().absolute()
    if not path.exists():
        if not path.parent.is_dir():
            raise StoreError(f"cannot open the score store {path}: no folder {path.parent}")
        create_private_file(path)
    STORE_FILES.add(path)
    return path


def _read_write_opener(path: Path, connect_args: Mapping[str, Any]) -> Callable[[], Any]:
    """A sqlite3 connect for ``path`` that opens an existing file read-write and fails
    when it is gone (``mode=rw``; sqlite3's default would create an empty one)."""
    uri = f"file:{urllib.parse.quote(str(path))}?mode=rw"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, **connect_args)

    return connect


def _file_id(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _guard_file(engine: Engine, path: Path) -> None:
    """Discard a pooled connection whose file is no longer the one at ``path``.

    A SQLite connection holds the file it opened: when the file is moved away or replaced
    (a restore, a copy over it), the connection keeps reading and writing the old one.
    Each connection records its file's identity when opened; on checkout a different
    identity (or none: the file is gone) makes the pool drop it and open a new one, which
    fails while the file is missing and serves the new file once it is back. The check is
    one ``stat`` per checkout."""

    @event.listens_for(engine, "connect")
    def _remember(_dbapi_connection: Any, record: Any) -> None:
        record.info["file_id"] = _file_id(path)

    @event.listens_for(engine, "checkout")
    def _check(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        try:
            same = _file_id(path) == record.info.get("file_id")
        except OSError:
            same = False
        if not same:
            raise DisconnectionError(f"the score store's file {path} was moved or replaced")


#: the time (``time.monotonic()``) by which this thread's current write must have its lock,
#: set by a store opened with ``wait_s`` while the thread holds its turn to write: its
#: ``BEGIN IMMEDIATE`` waits only what is left (a thread that waited for its turn does not
#: then wait SQLite's whole busy timeout on top)
WRITE_DEADLINE = threading.local()
#: a connection's busy timeout (ms) as set, and as its engine sets it (connection info)
_BUSY_NOW, _BUSY_DEFAULT = "leadscore_busy_ms", "leadscore_busy_default_ms"


def _sqlite_begin(statement: str) -> Callable[[Any], None]:
    """A ``do_begin`` for a SQLite dialect instance that emits ``statement``."""

    def do_begin(dbapi_connection: Any) -> None:
        # straight to sqlite3: a BEGIN needs none of a SQLAlchemy execution's machinery
        # (statement cache, events, result), which cost more than the BEGIN itself
        driver = dbapi_connection.driver_connection
        deadline = getattr(WRITE_DEADLINE, "at", None)
        info = dbapi_connection.info
        if deadline is not None:  # 0: no wait at all
            wanted = max(0, int((deadline - time.monotonic()) * 1000))
        else:  # the engine's own, should an earlier write on this connection have cut it
            wanted = info.get(_BUSY_DEFAULT)
        if wanted is not None and info.get(_BUSY_NOW) != wanted:
            driver.execute(f"PRAGMA busy_timeout = {wanted}")
            info[_BUSY_NOW] = wanted
        driver.execute(statement)

    return do_begin


def _set_wal(cursor: Any) -> None:
    # Switching a fresh file to WAL needs an exclusive lock and SQLite does not always
    # call the busy handler for it; when several processes open a new store at once,
    # the losers retry briefly (once the file is in WAL mode this is a no-op).
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:  # sqlite3.OperationalError: database is locked
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def write_engine(engine: Engine) -> Engine:
    """``engine`` with the option that makes SQLite write transactions ``BEGIN IMMEDIATE``
    (no effect on PostgreSQL). It shares the connection pool of ``engine``.

    Example
    -------
    >>> write_engine(make_engine("sqlite://")).get_execution_options()["leadscore_write"]
    True
    """
    writer = engine.execution_options(**{WRITE_OPTION: True})
    if "do_begin" in vars(engine.dialect):  # a SQLite engine of make_engine
        # a copy of the dialect that begins with BEGIN IMMEDIATE (see _configure_sqlite);
        # the engine's pool, events and statement cache stay shared
        dialect = copy.copy(engine.dialect)
        dialect.do_begin = _sqlite_begin("BEGIN IMMEDIATE")  # type: ignore[method-assign]
        writer.dialect = dialect
    return writer


def head_revision() -> str:
    """The newest schema revision shipped with this version of leadscore.

    Example
    -------
    >>> head_revision()
    '0006'
    """
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head())


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database behind ``engine`` (``None``: not created yet)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str | URL | Engine) -> None:
    """Create or upgrade the store's tables to the newest revision (Alembic ``upgrade
    head``).

    Safe to call at every start and from several processes at once: when the schema is
    current it only reads the version; otherwise the upgrade runs in one transaction that
    first takes a lock (``BEGIN IMMEDIATE`` on SQLite, a transaction-level advisory lock
    per schema on PostgreSQL), so the second process waits and then finds nothing to do.

    Raises :class:`~leadscore.store.errors.StoreError` when the database is unreachable.

    Example
    -------
    >>> upgrade("sqlite:///scores.db")
    """
    from alembic import command
    from alembic.config import Config

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        head = head_revision()
        if current_revision(engine) == head:
            return
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # the URL is only for `alembic` run by hand; '%' would be read as interpolation
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
        with write_engine(engine).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(_MIGRATION_LOCK_SQL)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(
            f"cannot open the score store at {mask(engine.url)}: {str(exc.orig).strip()}"
        ) from None
    finally:
        if not isinstance(url, Engine):
            engine.dispose()
