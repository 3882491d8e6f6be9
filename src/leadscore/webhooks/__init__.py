"""Webhooks: tell a CRM when a lead turns hot or its score jumps.

* :mod:`~leadscore.webhooks.triggers` — when a new score notifies a webhook, and the
  payload it gets;
* :mod:`~leadscore.webhooks.signing` — HMAC-SHA256 signatures (``X-Leadscore-Signature``)
  and :func:`verify` for receivers;
* :mod:`~leadscore.webhooks.dispatcher` — :class:`WebhookDispatcher` sends the deliveries
  queued in the score store, with retries, at least once.

Example
-------
>>> import httpx
>>> from leadscore.live import add_score
>>> from leadscore.store import Store
>>> from leadscore.webhooks import WebhookDispatcher
>>> store = Store("sqlite:///scores.db")
>>> _ = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
>>> _ = add_score(store, "L1", "3", 0.91, 91, "hot", True)   # queues a lead.hot delivery
>>> crm = httpx.MockTransport(lambda request: httpx.Response(200))  # stands in for the CRM
>>> WebhookDispatcher(store, client=httpx.Client(transport=crm)).deliver_due()
1
"""

from leadscore.webhooks.dispatcher import WebhookDispatcher, encode_payload
from leadscore.webhooks.signing import SIGNATURE_HEADER, sign, signature_header, verify
from leadscore.webhooks.triggers import WEBHOOK_KINDS, triggered_kinds, webhook_payload

__all__ = [
    "SIGNATURE_HEADER",
    "WEBHOOK_KINDS",
    "WebhookDispatcher",
    "encode_payload",
    "sign",
    "signature_header",
    "triggered_kinds",
    "verify",
    "webhook_payload",
]
