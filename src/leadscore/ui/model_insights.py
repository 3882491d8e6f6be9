"""What the dashboard works out from a model for its pages: the business what-if on the
Models page, the insights and the ideal customer of a data set, and a lead's deviations
from that customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Business, Settings
from leadscore.errors import LeadscoreError
from leadscore.modeling.model import LeadModel
from leadscore.modeling.thresholds import ThresholdChoice, choose_threshold, profit_curve
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
        numbers["drivers"] = saved
    else:
        _, explained = explain_sample(model, table.features, sample=500)
        numbers["drivers"] = global_drivers(explained)
    return numbers


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


def deviations(
    model: LeadModel, attributes: dict[str, Any], ideal: dict[str, object]
) -> pd.DataFrame:
    """What each difference from the ideal customer costs one stored lead (score points)."""
    from leadscore.explain.ideal import lead_deviations

    return lead_deviations(model, pd.DataFrame([attributes]), ideal)
