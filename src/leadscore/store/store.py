"""The score store a face opens: one database, one repository per resource.

:class:`Store` holds the shared :class:`~leadscore.store.session.Database` (engine,
session factories, the SQLite writer lock) and the repositories over it; it has no
resource logic of its own:

================  ==========================================================  ===========
attribute         holds                                                       module
================  ==========================================================  ===========
``leads``         leads and their CRM fields                                  leads.py
``scores``        score histories, latest scores, the work queue, the         scores.py,
                  scoring write, scores as they stood at given times,         scoring.py,
                  monitoring's reads (``scores.reads``)                       scores_at.py,
                                                                              score_reads.py
``events``        behaviour events                                            events.py
``outcomes``      conversions and losses                                      events.py
``keys``          API keys and the process's key cache                        keys.py
``webhooks``      webhooks, the delivery outbox and log                       webhooks.py,
                                                                              webhook_reads.py
``users``         dashboard users and sign-in throttling                      users.py
``settings``      settings changed on the dashboard                           settings.py
``idempotency``   idempotency keys of write requests and their answers        idempotency.py
``overrides``     sales overrides of leads' segments                          overrides.py
``capacity``      the period's contacts under a team's capacity (reads)      capacity.py
================  ==========================================================  ===========

Every repository returns frozen records (:mod:`leadscore.store.records`), never ORM
objects, and opens one short transaction per call (a scoring transaction spans the
``with`` block of :meth:`ScoreRepository.scoring
<leadscore.store.scores.ScoreRepository.scoring>`), so one ``Store`` can be shared
between threads (each call takes its own pooled connection), and processes can open the
same database. Concurrency, as tested with threads and processes on SQLite and PostgreSQL:
writes that may race on a new lead insert it with ``INSERT … ON CONFLICT DO NOTHING``;
read-modify-write on one lead locks the lead row first (see :mod:`leadscore.store.leads`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType

from leadscore.store.capacity import CapacityRepository
from leadscore.store.events import EventRepository, OutcomeRepository
from leadscore.store.idempotency import IdempotencyRepository
from leadscore.store.keys import KeyRepository
from leadscore.store.leads import LeadRepository
from leadscore.store.overrides import OverrideRepository
from leadscore.store.scores import ScoreRepository
from leadscore.store.session import Database
from leadscore.store.settings import SettingRepository
from leadscore.store.users import UserRepository
from leadscore.store.webhooks import WebhookRepository


class Store:
    """The score store at ``url`` (default: ``Settings().database_url``, i.e.
    ``LEADSCORE_DATABASE_URL`` or ``sqlite:///leadscore.db``).

    With ``migrate=True`` the schema is created or upgraded on opening (cheap when current,
    safe from several processes at once). ``wait_s`` bounds every wait for the database
    (locks, connections; default: SQLite's 30 s busy timeout, PostgreSQL unbounded): the
    service sets it short, so a request answers "busy, retry" instead of hanging (see
    :class:`~leadscore.store.session.Database`). Close the store (or use it as a context manager)
    to release its connections.

    Example
    -------
    >>> with Store("sqlite:///scores.db") as store:
    ...     _ = store.leads.upsert("L1", {"source": "google"})
    ...     [lead.id for lead in [store.leads.get("L1")]]
    ['L1']
    """

    def __init__(
        self, url: str | None = None, *, migrate: bool = True, wait_s: float | None = None
    ) -> None:
        if url is None:
            from leadscore.config import Settings

            url = Settings().database_url
        self.db = Database(url, migrate=migrate, wait_s=wait_s)
        self.url = self.db.url
        self.engine = self.db.engine
        self.dialect = self.db.dialect
        self.leads = LeadRepository(self.db)
        self.scores = ScoreRepository(self.db, self.leads)
        self.events = EventRepository(self.db, self.leads)
        self.outcomes = OutcomeRepository(self.db, self.leads)
        self.keys = KeyRepository(self.db)
        self.webhooks = WebhookRepository(self.db)
        self.users = UserRepository(self.db)
        self.idempotency = IdempotencyRepository(self.db)
        self.overrides = OverrideRepository(self.db)
        self.settings = SettingRepository(self.db)
        self.capacity = CapacityRepository(self.db)

    def close(self) -> None:
        """Close the pooled connections (the store can still be used; it reconnects)."""
        self.db.close()

    def ping(self) -> None:
        """Check that the database answers (a readiness probe); raises if it does not.

        Example
        -------
        >>> store.ping()
        """
        self.db.ping()

    def without_waiting(self) -> AbstractContextManager[None]:
        """Writes in this block never wait for a lock or a connection (SQLite only; see
        :meth:`Database.without_waiting
        <leadscore.store.session.Database.without_waiting>`)."""
        return self.db.without_waiting()

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy SQLite's write-ahead log into the database file now (see
        :meth:`Database.checkpoint <leadscore.store.session.Database.checkpoint>`);
        None for PostgreSQL and in-memory stores."""
        return self.db.checkpoint()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"
