"""Live scoring: new input scored, stored and notified at once, by the model being served.

* :mod:`~leadscore.live.slot` — :class:`ModelSlot`, the model being served, swapped
  atomically on reload (:class:`ServingModel`: the model, its compiled scorer, its origin);
* :mod:`~leadscore.live.watch` — :class:`ModelWatcher`, which follows the registry's
  champion (or a model folder) and reloads the slot when it changes;
* :mod:`~leadscore.live.scorer` — :class:`LiveScoring`, the API's work without the web:
  score a lead's attributes, or re-score it from its stored events, store the score, read
  leads, histories and the work queue back;
* :mod:`~leadscore.live.outbox` — scores and the webhooks they fire in one store
  transaction (:func:`add_scores`, :func:`scoring`): the trigger rule of
  :mod:`leadscore.webhooks.triggers` applied, the deliveries queued with the score;
* :mod:`~leadscore.live.batch` — a scored batch appended to the store the same way.

Example
-------
>>> from leadscore.live import add_score
>>> from leadscore.store import Store
>>> store = Store("sqlite:///scores.db")
>>> _ = store.webhooks.add("https://crm.example.com/hooks/leads", "s3cret")
>>> score, deliveries = add_score(store, "L1", "3", 0.91, 91, "hot", True)
>>> [d.payload["event"] for d in deliveries]
['lead.hot']
"""

from leadscore.live.outbox import ScoreTransaction, add_score, add_scores, scoring
from leadscore.live.scorer import (
    EventIngest,
    LeadUpdate,
    LeadView,
    LiveScore,
    LiveScoring,
    events_frame,
    trend_of,
)
from leadscore.live.slot import ModelSlot, ServingModel

__all__ = [
    "EventIngest",
    "LeadUpdate",
    "LeadView",
    "LiveScore",
    "LiveScoring",
    "ModelSlot",
    "ScoreTransaction",
    "ServingModel",
    "add_score",
    "add_scores",
    "events_frame",
    "scoring",
    "trend_of",
]
