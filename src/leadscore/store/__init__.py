"""The score store: leads (and their attribute history), scores, events, outcomes, sales
overrides, API keys, webhooks, dashboard users, settings and idempotency keys, one
repository each over one database.

SQLite file by default (``sqlite:///leadscore.db``), PostgreSQL by URL
(``LEADSCORE_DATABASE_URL=postgresql://user@host:5432/db``). The schema is managed by the
Alembic migrations shipped in ``leadscore/store/migrations`` and applied on opening.
:class:`Store` holds the repositories (``store.leads``, ``store.scores``, ``store.events``,
``store.outcomes``, ``store.overrides``, ``store.keys``, ``store.webhooks``,
``store.users``, ``store.settings``, ``store.idempotency``); the store imports nothing
above the foundation and data layers, so which webhooks a score fires is decided by the
scoring flow (:mod:`leadscore.live`).

Example
-------
>>> from leadscore.store import NewScore, Store
>>> store = Store("sqlite:///scores.db")
>>> _ = store.leads.upsert("L1", {"source": "google"})
>>> with store.scores.scoring(["L1"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.82, 82, "hot", True)])
>>> [s.segment for s in store.scores.ranked(segment="hot")]
['hot']
"""

from leadscore.store.db import make_engine, mask, normalise_url, upgrade
from leadscore.store.errors import UNAVAILABLE, NotFoundError, StoreError, StoreUnavailable
from leadscore.store.keys import KEY_PREFIX
from leadscore.store.overrides import OVERRIDE_SEGMENTS, OverrideRecord
from leadscore.store.records import (
    DEFAULT_WEBHOOK_KINDS,
    ROLES,
    SCOPES,
    WEBHOOK_KINDS,
    ApiKeyRecord,
    DeliveryRecord,
    EventRecord,
    LeadRecord,
    LoginResult,
    NewDelivery,
    NewScore,
    OutcomeRecord,
    QueueEntry,
    ScorePoint,
    ScoreRecord,
    StoredScore,
    UserRecord,
    WebhookRecord,
)
from leadscore.store.saved import read_saved_settings, saved_settings
from leadscore.store.store import Store

__all__ = [
    "DEFAULT_WEBHOOK_KINDS",
    "KEY_PREFIX",
    "OVERRIDE_SEGMENTS",
    "ROLES",
    "SCOPES",
    "UNAVAILABLE",
    "WEBHOOK_KINDS",
    "ApiKeyRecord",
    "DeliveryRecord",
    "EventRecord",
    "LeadRecord",
    "LoginResult",
    "NewDelivery",
    "NewScore",
    "NotFoundError",
    "OutcomeRecord",
    "OverrideRecord",
    "QueueEntry",
    "ScorePoint",
    "ScoreRecord",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredScore",
    "UserRecord",
    "WebhookRecord",
    "make_engine",
    "mask",
    "normalise_url",
    "read_saved_settings",
    "saved_settings",
    "upgrade",
]
