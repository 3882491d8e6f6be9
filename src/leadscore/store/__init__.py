"""The score store: leads, events, score history, outcomes, API keys and webhooks.

SQLite file by default (``sqlite:///leadscore.db``), PostgreSQL by URL
(``LEADSCORE_DATABASE_URL=postgresql://user@host:5432/db``). The schema is managed by the
Alembic migrations shipped in ``leadscore/store/migrations`` and applied on opening.

Example
-------
>>> from leadscore.store import Store
>>> store = Store("sqlite:///scores.db")
>>> _ = store.upsert_lead("L1", {"source": "google"})
>>> score, deliveries = store.add_score("L1", "3", 0.82, 82, "hot", True)
>>> [s.segment for s in store.latest_scores(segment="hot")]
['hot']
"""

from leadscore.store.db import make_engine, mask, normalise_url, upgrade
from leadscore.store.errors import NotFoundError, StoreError
from leadscore.store.records import (
    ROLES,
    SCOPES,
    ApiKeyRecord,
    DeliveryRecord,
    EventRecord,
    LeadRecord,
    LoginResult,
    NewScore,
    OutcomeRecord,
    QueueEntry,
    ScorePoint,
    ScoreRecord,
    UserRecord,
    WebhookRecord,
)
from leadscore.store.repository import KEY_PREFIX, Store

__all__ = [
    "KEY_PREFIX",
    "ROLES",
    "SCOPES",
    "ApiKeyRecord",
    "DeliveryRecord",
    "EventRecord",
    "LeadRecord",
    "LoginResult",
    "NewScore",
    "NotFoundError",
    "OutcomeRecord",
    "QueueEntry",
    "ScorePoint",
    "ScoreRecord",
    "Store",
    "StoreError",
    "UserRecord",
    "WebhookRecord",
    "make_engine",
    "mask",
    "normalise_url",
    "upgrade",
]
