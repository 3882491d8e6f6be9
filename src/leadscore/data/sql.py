"""Lead tables in SQL databases, through SQLAlchemy 2.

A source is a SQLAlchemy URL with the table or query in its query string, e.g.
``sqlite:///crm.db?table=leads``, ``postgresql://me@db:5432/crm?table=sales.leads`` or
``postgresql://me@db/crm?query=SELECT%20*%20FROM%20leads%20WHERE%20created%20%3E%20'2025-01-01'``.
Plain ``postgresql://`` (and ``postgres://``) URLs use the psycopg 3 driver. Passwords are
never shown: messages print the URL with the password masked.

Reading is read-only, whoever asks (the command line or the dashboard): a query must be a
single ``SELECT`` (``WITH … SELECT`` included; :func:`check_select` says why another is
refused), and it runs on a read-only connection where the database offers one — SQLite
files are opened with ``mode=ro`` and ``PRAGMA query_only``, PostgreSQL transactions
start with ``SET TRANSACTION READ ONLY`` — in a transaction that is never committed.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from leadscore.data.masking import mask_text
from leadscore.data.sql_guard import check_select
from leadscore.errors import DataError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

    from leadscore.config import Settings

#: libpq waits forever for an unresponsive host by default; give up after this many seconds
DEFAULT_CONNECT_TIMEOUT = 10
_MAX_LISTED_TABLES = 30


def split_sql_source(source: str) -> tuple[str, str | None, str | None]:
    """Split a source URL into ``(sqlalchemy_url, table, query)``.

    The ``table`` and ``query`` parameters are removed (and percent-decoded); the other
    parameters stay for the driver (e.g. ``sslmode=require``).

    Example
    -------
    >>> split_sql_source("sqlite:///crm.db?table=leads")
    ('sqlite:///crm.db', 'leads', None)
    """
    base, _, query_string = source.partition("?")
    table = query = None
    kept: list[tuple[str, str]] = []
    for name, value in urllib.parse.parse_qsl(query_string, keep_blank_values=True):
        if name == "table":
            table = value.strip() or None
        elif name == "query":
            query = value.strip() or None
        else:
            kept.append((name, value))
    url = f"{base}?{urllib.parse.urlencode(kept)}" if kept else base
    return url, table, query


def normalise_url(url: str) -> URL:
    """Parse ``url``; plain ``postgresql://``/``postgres://`` get the psycopg 3 driver.

    Example
    -------
    >>> normalise_url("postgresql://me@db/crm").drivername
    'postgresql+psycopg'
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if url.startswith("postgres://"):  # Heroku-style spelling SQLAlchemy does not accept
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise DataError(f"malformed database URL: {mask_text(str(exc))}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def mask(url: str | URL) -> str:
    """The URL as text with its password replaced by ``***`` (safe for messages and logs).

    Example
    -------
    >>> mask("postgresql://me:s3cret@db/crm")
    'postgresql://me:***@db/crm'
    """
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except Exception:  # unparsable: show only the scheme rather than risk a password
        return str(url).split("://", 1)[0] + "://…"
    # secrets among the driver's parameters too (?password=…, ?sslpassword=…)
    return mask_text(parsed.render_as_string(hide_password=True))


_LOOPBACK = {"", "localhost", "localhost.localdomain", "ip6-localhost", "::1", "[::1]"}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}


def same_database(url: str, other: str) -> bool:
    """Whether two database URLs name one database, whatever their user, password, driver
    and options: the same SQLite file (however the path is spelt, links followed), or the
    same database on the same server (``localhost``, ``127.0.0.1`` and this machine's name
    are one host; the default port is filled in).

    Example
    -------
    >>> same_database("postgresql://a:x@localhost/crm", "postgresql://b@127.0.0.1:5432/crm")
    True
    >>> same_database("sqlite:///crm.db", "sqlite:///./crm.db")
    True
    """
    try:
        first = normalise_url(split_sql_source(url)[0])
        second = normalise_url(split_sql_source(other)[0])
    except DataError:
        return False
    backend = first.get_backend_name()
    if backend != second.get_backend_name():
        return False
    if backend == "sqlite":
        paths = [_sqlite_target(first), _sqlite_target(second)]
        if paths[0] is None or paths[1] is None:
            return False  # in memory: a database of its own
        if paths[0].exists() and paths[1].exists():
            return os.path.samefile(paths[0], paths[1])
        return paths[0].resolve() == paths[1].resolve()
    port = _DEFAULT_PORTS.get(backend)
    if (first.port or port) != (second.port or port):
        return False
    # PostgreSQL's database defaults to the user's name
    names = [
        u.database or (u.username if backend == "postgresql" else None) for u in (first, second)
    ]
    if names[0] != names[1]:
        return False
    return _same_host(
        first.host or first.query.get("host"), second.host or second.query.get("host")
    )


def _sqlite_target(parsed: URL) -> Path | None:
    database = parsed.database
    if database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):  # a URI filename: file:crm.db?mode=ro, file:///abs/crm.db
        path = urllib.parse.unquote(urllib.parse.urlsplit(database).path)
        return None if path in ("", ":memory:") else Path(path)
    return Path(database)


def _same_host(first: Any, second: Any) -> bool:
    hosts = [str(h if not isinstance(h, tuple) else h[0]).strip().lower() for h in (first, second)]
    if hosts[0] == hosts[1]:
        return True
    here = {socket.gethostname().lower(), socket.getfqdn().lower()}

    def addresses(host: str) -> set[str]:
        if host in _LOOPBACK or host.startswith(("/", "127.")) or host in here:
            return {"loopback"}  # a Unix socket or this machine
        try:
            return {info[4][0] for info in socket.getaddrinfo(host.strip("[]"), None)}
        except (OSError, UnicodeError):
            return {host}

    found = [addresses(host) for host in hosts]
    return bool(found[0] & found[1])


def _engine(url: str, *, read_only: bool = False) -> tuple[Engine, str]:
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    parsed = normalise_url(url)
    shown = mask(parsed)
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    sqlite_file = _plain_sqlite_file(parsed)
    if read_only and sqlite_file is not None:
        # the file itself opened read-only: no statement can change it
        uri = f"{sqlite_file.resolve().as_uri()}?mode=ro"
        options["creator"] = lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        engine = create_engine(parsed, connect_args=connect_args, **options)
    except NoSuchModuleError:
        raise DataError(
            f"unsupported database {parsed.drivername!r} in {shown}: SQLAlchemy has no such "
            "dialect (supported out of the box: sqlite, postgresql)"
        ) from None
    except ModuleNotFoundError as exc:
        raise DataError(f"the driver for {shown} is not installed: {exc.name}") from None
    except ArgumentError as exc:
        raise DataError(f"invalid database URL {shown}: {exc}") from None
    if read_only and parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

    return engine, shown


def _plain_sqlite_file(parsed: URL) -> Path | None:
    """The database file of a SQLite URL (``None``: not SQLite, in memory, a ``file:`` URI)."""
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:") or parsed.query.get("uri") in ("true", "1"):
        return None
    return Path(database)


def _read_only(connection: Any) -> None:
    """Make the connection's transaction read-only where the database has such a thing."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
    elif connection.dialect.name in ("mysql", "mariadb", "oracle"):  # pragma: no cover
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def _db_message(exc: Exception, url: str) -> str:
    """The database's own message (first lines), without SQLAlchemy's boilerplate."""
    original = getattr(exc, "orig", None) or exc
    # keep the message and its context line (PostgreSQL's "LINE 1: …"), not the caret line
    lines = [" ".join(line.split()) for line in str(original).splitlines()]
    lines = [line for line in lines if line and set(line) != {"^"}]
    text = " ".join(lines[:2]) or type(original).__name__
    password = _password(url)
    return mask_text(text.replace(password, "***") if password else text)


def _password(url: str) -> str | None:
    try:
        return normalise_url(url).password
    except DataError:
        return None


def _where(url: str) -> str:
    """``host:port`` (or the database file) for a connection error message."""
    parsed = normalise_url(url)
    if parsed.host:
        return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
    return parsed.database or "(in memory)"


def _split_table(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return (schema or None), name


def _available_tables(inspector: Any, schema: str | None) -> str:
    """The tables and views in ``schema`` (default schema if ``None``), for a message."""
    names = [*inspector.get_table_names(schema=schema), *inspector.get_view_names(schema=schema)]
    prefix = f"{schema}." if schema else ""
    tables = sorted(prefix + name for name in names)
    listed = ", ".join(tables[:_MAX_LISTED_TABLES]) or "(none)"
    if len(tables) > _MAX_LISTED_TABLES:
        listed += f" and {len(tables) - _MAX_LISTED_TABLES} more"
    return listed


def read_sql(
    url: str,
    table: str | None = None,
    query: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Read a whole table (``table``, optionally ``schema.table``) or a query's result.

    Parameters
    ----------
    url:
        A SQLAlchemy URL (``sqlite:///crm.db``, ``postgresql://user@host:5432/db``); a
        ``?table=``/``?query=`` in it is used when the arguments are not given.
    table, query:
        Exactly one of them.
    settings:
        Accepted for a signature uniform with the other readers; SQL connection options
        travel in the URL (e.g. ``?connect_timeout=5&sslmode=require``).

    Raises :class:`DataError` naming the (password-masked) URL when the database cannot be
    reached, the table does not exist (listing those that do) or the query fails.

    Example
    -------
    >>> leads.head(5).to_sql("leads", "sqlite:///crm.db", index=False)
    5
    >>> read_sql("sqlite:///crm.db", table="leads").shape
    (5, 14)
    >>> read_sql("sqlite:///crm.db?query=SELECT lead_id, source FROM leads LIMIT 2")
       lead_id  source
    0  L000001  direct
    1  L000002   email

    A server's URL reads the same way, e.g. ``read_sql("postgresql://me@db/crm",
    query="SELECT * FROM leads LIMIT 10")``.
    """
    del settings  # nothing SQL-specific among the settings (yet)
    from sqlalchemy import MetaData, Table, inspect, select, text
    from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError

    url, url_table, url_query = split_sql_source(url)
    table, query = table or url_table, query or url_query
    if (table is None) == (query is None):
        raise DataError(
            f"give either a table or a query for {mask(normalise_url(url))} "
            "(e.g. ?table=leads or ?query=SELECT%20*%20FROM%20leads)"
        )
    if query is not None:
        problem = check_select(query)
        if problem is not None:
            raise DataError(
                f"refused the query for {mask(normalise_url(url))}: {problem}. A SQL source "
                "is read-only: give one SELECT (or a table with ?table=NAME)"
            )
    _require_sqlite_file(url)
    engine, shown = _engine(url, read_only=True)
    try:
        with engine.connect() as connection:  # never committed: closing rolls back
            _read_only(connection)
            if query is not None:
                statement: Any = text(query)
            else:
                assert table is not None
                schema, name = _split_table(table)
                inspector = inspect(connection)
                if not inspector.has_table(name, schema=schema):
                    listed = _available_tables(inspector, schema)
                    if schema and listed == "(none)":
                        listed += f" in schema {schema!r} (does it exist?)"
                    raise DataError(f"table {table!r} not found in {shown}; tables: {listed}")
                statement = select(Table(name, MetaData(), schema=schema, autoload_with=connection))
            return pd.read_sql(statement, connection)
    except NoSuchTableError:  # e.g. the schema itself does not exist
        raise DataError(f"table {table!r} not found in {shown}") from None
    except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # pandas wraps the SQLAlchemy error of a failed statement in its own DatabaseError
        cause = exc.__cause__ if isinstance(exc.__cause__, SQLAlchemyError) else exc
        if isinstance(cause, DBAPIError) and (
            cause.connection_invalidated or _is_connect_error(cause)
        ):
            raise DataError(
                f"cannot connect to the database at {_where(url)} ({shown}): "
                f"{_db_message(cause, url)}"
            ) from None
        what = "query" if query is not None else f"reading table {table!r}"
        raise DataError(f"{what} failed on {shown}: {_db_message(cause, url)}") from None
    finally:
        engine.dispose()


def _require_sqlite_file(url: str) -> None:
    # SQLite creates a missing database file on connect: reading must not do that
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    if parsed.database.startswith("file:"):  # a URI filename with its own options
        return
    if not Path(parsed.database).is_file():
        raise DataError(f"database file not found: {parsed.database} ({mask(parsed)})")


def _is_connect_error(exc: Exception) -> bool:
    # SQLAlchemy raises OperationalError both for "cannot connect" and for some query
    # failures; a failed connect never got a statement to run.
    return getattr(exc, "statement", None) is None


def write_sql(
    frame: pd.DataFrame,
    url: str,
    table: str | None = None,
    if_exists: Literal["fail", "replace", "append"] = "fail",
) -> int:
    """Write ``frame`` to ``table`` (``schema.table`` allowed) in one transaction.

    Parameters
    ----------
    frame:
        The rows to write; its index is not written.
    url:
        A SQLAlchemy URL; ``?table=`` in it is used when ``table`` is not given.
    table:
        Table name, created when missing.
    if_exists:
        ``"fail"`` (default: refuse to touch an existing table), ``"replace"`` or
        ``"append"``.

    Returns the number of rows written.

    Example
    -------
    >>> write_sql(leads, "sqlite:///crm.db", "leads", if_exists="replace")
    300
    """
    from sqlalchemy.exc import SQLAlchemyError

    url, url_table, _ = split_sql_source(url)
    table = table or url_table
    if not table:
        raise DataError(f"give the table to write to in {mask(normalise_url(url))} (?table=NAME)")
    engine, shown = _engine(url)
    schema, name = _split_table(table)
    try:
        with engine.begin() as connection:
            frame.to_sql(name, connection, schema=schema, if_exists=if_exists, index=False)
    except ValueError as exc:  # pandas: the table exists and if_exists="fail"
        raise DataError(
            f"cannot write table {table!r} in {shown}: {exc} (use if_exists='replace' or 'append')"
        ) from None
    except SQLAlchemyError as exc:
        if _is_connect_error(exc):
            raise DataError(
                f"cannot connect to the database at {_where(url)} ({shown}): "
                f"{_db_message(exc, url)}"
            ) from None
        raise DataError(
            f"cannot write table {table!r} in {shown}: {_db_message(exc, url)}"
        ) from None
    finally:
        engine.dispose()
    return len(frame)
