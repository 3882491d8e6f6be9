"""Errors raised by the score store.

All derive from :class:`~leadscore.errors.LeadscoreError`, so the CLI prints them as one
line (exit status 2) and the service can map them to 4xx answers.
"""

from __future__ import annotations

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from leadscore.errors import LeadscoreError


class StoreError(LeadscoreError):
    """A request the store cannot carry out: an unknown scope, a bad webhook URL, an
    ambiguous key prefix, an unreachable database."""


class NotFoundError(StoreError, KeyError):
    """The API key, webhook or delivery asked for does not exist.

    Also a :class:`KeyError`, so ``except KeyError`` works; unlike a plain ``KeyError`` its
    message is printed without quotes.

    Example
    -------
    >>> str(NotFoundError("no API key with prefix 'ls_abcde'"))
    "no API key with prefix 'ls_abcde'"
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StoreUnavailable(StoreError):
    """The store cannot serve the request now, and a retry later may succeed: another
    writer held the database past the wait allowed (see ``wait_s`` of
    :class:`~leadscore.store.Store`), the server or file is unreachable.

    Example
    -------
    >>> issubclass(StoreUnavailable, StoreError)
    True
    """


#: the driver and pool errors that mean "the database is unavailable now", not "this
#: request is wrong": a lock not granted in time ("database is locked", PostgreSQL's
#: lock timeout), a lost or refused connection, a file moved away, the pool exhausted
UNAVAILABLE: tuple[type[Exception], ...] = (
    StoreUnavailable,
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
)
