"""A scored batch appended to the score store: history, attributes and webhooks, as for
the API (``leadscore score … --store``, the dashboard's "score into the store"); for leads
scored from raw events, their events too, as the API stores them.

Example
-------
>>> model.save("model/")
PosixPath('model')
>>> new_leads = leads.drop(columns=["sales_status", "converted"]).head(20)
>>> new_leads.to_csv("new_leads.csv", index=False)
>>> scores = score("model/", "new_leads.csv", store=store, model_version="3")
>>> len(scores), len(store.scores.ranked())
(20, 20)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from leadscore.data.roles import identity_columns
from leadscore.data.sources import TableLike, read_table
from leadscore.jsonutil import jsonable
from leadscore.live.outbox import add_scores
from leadscore.live.sim_store import api_events
from leadscore.modeling.model import LeadModel
from leadscore.scoring.batch import explored, ranked
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.scoring.reasons import reason_records
from leadscore.scoring.reasons import reasons as lead_reasons
from leadscore.store import NewScore, Store


def score(
    model: LeadModel | str | Path,
    data: TableLike,
    *,
    out: str | Path | None = None,
    capacity: int | None = None,
    reasons: int = 0,
    store: Store | None = None,
    model_version: str = "unknown",
    exploration: ExplorationPolicy | None = None,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`leadscore.scoring.batch.score`, and with a ``store`` every score appended to
    the store's history too, with the lead's model inputs merged into its attributes and
    its reasons (``reasons`` each way, 3 when 0), all in one transaction; webhooks fire as
    for the API. ``model_version`` is the version recorded with the stored scores;
    ``exploration`` marks a random share of the leads below the cut-off for contact
    (stored and returned as ``explored``, with each lead's ``propensity``). ``events``
    (``load_events``) are the raw events ``data`` was built from: the scored leads' events
    are stored with them (:func:`store_events`).

    Example
    -------
    >>> new_leads = leads.drop(columns=["sales_status", "converted"]).head(3)
    >>> scores = score(model, new_leads, store=store, model_version="3")
    >>> [s.model_version for s in store.scores.history(scores["lead_id"][0])]
    ['3']
    """
    lead_model = model if isinstance(model, LeadModel) else LeadModel.load(model)
    frame = read_table(data)
    result = explored(lead_model, lead_model.score_leads(frame, capacity=capacity), exploration)
    if store is not None:
        store_scores(store, lead_model, frame, result, model_version, reasons or 3)
        if events is not None:
            store_events(store, events, result[lead_model.id_column_ or "lead"])
    return ranked(lead_model, frame, result, reasons=reasons, out=out)


def store_scores(
    store: Store,
    model: LeadModel,
    frame: pd.DataFrame,
    scores: pd.DataFrame,
    model_version: str,
    reasons: int = 3,
) -> int:
    """Append scores (``model.score_leads(frame)``, same row order) to the store's history,
    with the leads' model inputs merged into their attributes (for a model on event
    features, only its CRM fields) and the webhooks they fire queued, in one transaction.
    The fields saying who a lead is (name, company, e-mail, owner:
    :func:`~leadscore.data.roles.identity_columns`, never model inputs) are kept in its
    attributes too, for the people reading the work queue.
    Returns how many webhook deliveries the scores queued.
    """
    key = model.id_column_ or "lead"
    inputs = model.schema_.conform(frame).astype(object)
    if getattr(model, "feature_builder_", None) is not None:
        # a model on event features: the behaviour is recomputed from the events; only the
        # CRM fields are the lead's own attributes (stored as the API stores them), never
        # features that would come back as fields when the store becomes a training table
        inputs = inputs[[c for c in inputs.columns if c in set(model.crm_fields)]]
    shown = [c for c in identity_columns(frame.columns) if c not in inputs.columns]
    if shown:
        inputs = pd.concat([inputs, frame[shown].astype(object)], axis=1)
    kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    for column in inputs.columns:
        if kinds.get(column) == "datetime":
            inputs[column] = [t.isoformat() if pd.notna(t) else None for t in inputs[column]]
    found = lead_reasons(model, frame, reasons) if reasons else [([], [])] * len(frame)
    ids = scores[key].astype(str).tolist()
    attributes = jsonable(inputs.where(inputs.notna(), None).to_dict("records"))
    # scores explored (scoring.batch.explored) carry the policy's marks; others none
    explored_flags = scores["explored"] if "explored" in scores else [False] * len(scores)
    chances = scores["propensity"] if "propensity" in scores else [None] * len(scores)
    items = [
        NewScore(
            lead_id=lead_id,
            model_version=model_version,
            score=float(row.score),
            score_100=int(row.score_100),
            segment=str(row.segment),
            contact=bool(row.contact),
            reasons=reason_records(up, down),
            explored=bool(flag),
            propensity=None if chance is None else float(chance),
        )
        for lead_id, row, (up, down), flag, chance in zip(
            ids, scores.itertuples(index=False), found, explored_flags, chances, strict=True
        )
    ]
    _, deliveries = add_scores(store, items, attributes=dict(zip(ids, attributes, strict=True)))
    return len(deliveries)


def store_events(store: Store, events: pd.DataFrame, lead_ids: Iterable[str]) -> int:
    """Store the events (``load_events``' columns) of the leads ``lead_ids`` as the API
    stores them: the lead page shows them, and a lead's next event through the API
    re-scores it from all of them (a lead whose earlier events were never stored would be
    re-scored on its newest ones alone). Storing an event again is a no-op. Returns how
    many events were new.

    Example
    -------
    >>> times = ["2026-03-02 09:00", "2026-03-02 09:05", "2026-03-03 10:00"]
    >>> events = pd.DataFrame({"lead_id": ["L1", "L1", "L2"], "event": ["a", "b", "c"],
    ...                        "timestamp": pd.to_datetime(times)})
    >>> store_events(store, events, ["L1"]), [e.name for e in store.events.for_lead("L1")]
    (2, ['a', 'b'])
    """
    ids = events["lead_id"].astype(str)
    wanted = ids.isin({str(i) for i in lead_ids})
    new = 0
    for lead_id, rows in events.loc[wanted].groupby(ids[wanted], sort=False):
        new += store.events.add(str(lead_id), api_events(rows))
    return new
