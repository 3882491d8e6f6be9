"""What the dashboard works out from a model for its pages: the business what-if on the
Models page, the insights and the ideal customer of a data set, and a lead's deviations
from that customer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Business, Settings
from leadscore.errors import LeadscoreError
from leadscore.modeling.model import LeadModel
from leadscore.modeling.thresholds import ThresholdChoice, choose_threshold, profit_curve
from leadscore.store import EventRecord
from leadscore.ui.workspace import labelled_rows


@dataclass(frozen=True)
class WhatIf:
    """The contact threshold and profit a model's out-of-fold scores give with some
    business values, next to the values it was trained with."""

    choice: ThresholdChoice
    curve: pd.DataFrame
    trained: ThresholdChoice


def what_if(y: np.ndarray, score: np.ndarray, business: Business, trained: Business) -> WhatIf:
    """Threshold and expected profit with ``business`` against ``trained`` (same scores).

    Example
    -------
    >>> y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9])
    >>> what_if(y, p, Business(cost_per_contact=50), Business()).choice.contacted
    2
    """
    return WhatIf(
        choice=choose_threshold(y, score, business),
        curve=profit_curve(y, score, business),
        trained=choose_threshold(y, score, trained),
    )


def insights(
    model: LeadModel, frame: pd.DataFrame, settings: Settings, target: str | None
) -> dict[str, Any]:
    """Conversion tables, findings, the ideal customer, segment profiles and global
    drivers of the labelled leads of a data set, by the served model."""
    from leadscore.explain.drivers import explain_sample, global_drivers
    from leadscore.explain.insights import compute_insights, load_for_insights

    labelled = labelled_rows(frame, target, settings)
    if labelled.empty:
        raise LeadscoreError(
            "insights need leads with a known outcome: the current data set has none"
        )
    model, table = load_for_insights(model, labelled)
    numbers = compute_insights(model, table)
    saved = getattr(model, "drivers_", None)  # recorded by `train` on its training leads
    if saved is not None:
        drivers = saved
    else:
        _, explained = explain_sample(model, table.features, sample=500)
        drivers = global_drivers(explained)
    numbers["drivers"] = with_auc_drop(drivers, getattr(model, "importance_", None))
    return numbers


#: a driver whose shuffling on held-out leads lowers the AUC by less than this is weak: the
#: model leans on it, but it hardly helps the model rank leads
WEAK_AUC_DROP = 0.001
#: how many fields the segment heatmap and the ideal-customer table show
TOP_FIELDS = 12
#: a field every segment matches the ideal on this often separates nothing
MATCHED_BY_ALL = 0.95


def with_auc_drop(drivers: pd.DataFrame, importance: pd.DataFrame | None) -> pd.DataFrame:
    """``drivers`` with ``auc_drop``: each field's held-out permutation importance (how
    much the AUC falls when the field is shuffled on held-out leads, measured by
    ``train``), the cross-check of its average effect; NaN where not measured.

    Parameters
    ----------
    drivers:
        The global drivers (``field``, ``importance`` in points, …).
    importance:
        The model's ``importance_`` (``feature``, ``importance``), or ``None``.

    Example
    -------
    >>> drivers = pd.DataFrame({"field": ["visits", "source"], "importance": [4.5, 1.0]})
    >>> measured = pd.DataFrame({"feature": ["visits"], "importance": [0.0001]})
    >>> with_auc_drop(drivers, measured)["auc_drop"].tolist()
    [0.0001, nan]
    """
    if importance is None or len(importance) == 0:
        return drivers.assign(auc_drop=np.nan)
    drop = importance.set_index("feature")["importance"]
    return drivers.assign(auc_drop=drivers["field"].map(drop).astype(float))


def weak_drivers(drivers: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Those of the ``top`` drivers whose held-out AUC drop is under
    :data:`WEAK_AUC_DROP` (not the unmeasured ones).

    Example
    -------
    >>> drivers = pd.DataFrame({"field": ["a", "b"], "importance": [4.5, 1.0],
    ...                         "auc_drop": [0.0001, 0.02]})
    >>> weak_drivers(drivers)["field"].tolist()
    ['a']
    """
    ranked = drivers.sort_values("importance", ascending=False, kind="stable").head(top)
    return ranked.loc[ranked["auc_drop"].notna() & (ranked["auc_drop"] < WEAK_AUC_DROP)]


def fields_that_matter(
    drivers: pd.DataFrame, profiles: pd.DataFrame, limit: int = TOP_FIELDS
) -> list[str]:
    """The fields worth comparing segments on: by the drivers' importance, leaving out
    those every segment matches the ideal on (:data:`MATCHED_BY_ALL`), at most ``limit``.

    Parameters
    ----------
    drivers:
        The global drivers, ``field`` and ``importance``.
    profiles:
        The segment profiles (``segment, field, match_share``, …).
    limit:
        How many fields at most.

    Example
    -------
    >>> drivers = pd.DataFrame({"field": ["a", "b", "c"], "importance": [1.0, 3.0, 2.0]})
    >>> profiles = pd.DataFrame({"segment": ["hot"] * 3, "field": ["a", "b", "c"],
    ...                          "match_share": [0.5, 0.99, 0.4]})
    >>> fields_that_matter(drivers, profiles)
    ['c', 'a']
    """
    if profiles.empty:
        return []
    separating = profiles.groupby("field")["match_share"].min() < MATCHED_BY_ALL
    order = drivers.sort_values("importance", ascending=False, kind="stable")["field"]
    ranked = [str(f) for f in order if f in separating.index and separating[f]]
    rest = [str(f) for f in separating.index[separating] if f not in set(ranked)]
    return (ranked + rest)[:limit]


def profiles_of(profiles: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """The segment profiles of ``fields`` only, in that order, with each segment's
    ``distance_from_ideal`` recomputed over them (1 − its mean match share).

    Example
    -------
    >>> profiles = pd.DataFrame({"segment": ["hot", "hot"], "field": ["a", "b"],
    ...     "match_share": [0.5, 0.9], "distance_from_ideal": [0.3, 0.3]})
    >>> profiles_of(profiles, ["b"])[["field", "distance_from_ideal"]].values.tolist()
    [['b', 0.09999999999999998]]
    """
    kept = profiles.loc[profiles["field"].isin(fields)].copy()
    kept["order"] = kept["field"].map({f: i for i, f in enumerate(fields)})
    kept = kept.sort_values(["order"], kind="stable").drop(columns="order")
    mean_match = kept.groupby("segment", sort=False)["match_share"].transform("mean")
    return kept.assign(distance_from_ideal=1 - mean_match).reset_index(drop=True)


def ideal_customer(
    model: LeadModel, frame: pd.DataFrame, settings: Settings, target: str | None
) -> dict[str, object]:
    """The ideal customer of a data set's labelled leads (cheaper than :func:`insights`:
    no conversion tables, no drivers)."""
    from leadscore.explain.ideal import ideal_profile
    from leadscore.explain.insights import load_for_insights

    labelled = labelled_rows(frame, target, settings)
    if labelled.empty:
        raise LeadscoreError(
            "the ideal customer needs leads with a known outcome: the current data set has none"
        )
    model, table = load_for_insights(model, labelled)
    kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    scores = model.predict_proba(table.features)[:, 1]
    return ideal_profile(table.features, table.y, scores, kinds)


def deviations(model: LeadModel, inputs: dict[str, Any], ideal: dict[str, object]) -> pd.DataFrame:
    """What each difference from the ideal customer costs one stored lead (score points),
    from its model inputs (:func:`lead_inputs`)."""
    from leadscore.explain.ideal import lead_deviations

    return lead_deviations(model, pd.DataFrame([inputs]), ideal)


def lead_inputs(
    model: LeadModel, lead_id: str, attributes: Mapping[str, Any], events: Sequence[EventRecord]
) -> dict[str, Any]:
    """A stored lead's model inputs: its attributes; for a model on event features, the
    features of its stored events (as of the latest) with its CRM fields from its
    attributes, as live scoring builds them (or its attributes, when it was scored with all
    its inputs and has no events). Raises
    :class:`~leadscore.errors.LeadscoreError` when no events of such a lead are stored.

    Parameters
    ----------
    model:
        The served model.
    lead_id, attributes, events:
        The lead, its stored attributes and events.

    Example
    -------
    >>> lead_inputs(model, "L1", {"visits": 3}, [])
    {'visits': 3}
    """
    complete = all(name in attributes for name in model.schema_.names)
    if getattr(model, "feature_builder_", None) is None or (complete and not events):
        return dict(attributes)  # (an event model's lead scored with all its inputs: the API)
    if not events:
        raise LeadscoreError(
            "its behaviour is not known here: no events of it are stored (they are when "
            "they arrive through the API)"
        )
    from leadscore.live.scorer import events_frame

    latest = max(e.time for e in events).astimezone(UTC).replace(tzinfo=None)
    features = model.event_features(events_frame(lead_id, events), as_of=pd.Timestamp(latest))
    row = {k: (None if v is None or v != v else v) for k, v in features.iloc[0].items()}
    row.update({name: attributes.get(name) for name in model.crm_fields})
    return row
