"""Errors raised by the score store.

Both derive from :class:`~leadscore.errors.LeadscoreError`, so the CLI prints them as one
line (exit status 2) and the service can map them to 4xx answers.
"""

from __future__ import annotations

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
