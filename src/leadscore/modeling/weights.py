"""Sample weights through the modelling stack: checked once, handed to the estimator.

A weighted lead counts as that many leads in every fit (the estimator's own
``sample_weight``), in calibration, in the profit-optimal threshold and in the metrics.
Retraining from the score store weights each lead with an outcome by the inverse of its
chance of having been contacted (:func:`leadscore.lifecycle.store_dataset.propensity_weights`),
so that the few explored leads below the contact cut-off stand for all the leads like
them that nobody called.

Every family's final estimator takes ``sample_weight`` (CatBoost and naive Bayes through
leadscore's own wrappers), so a weighted comparison leaves no family out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from leadscore.errors import SchemaError


def check_weights(sample_weight: Any, n_rows: int, name: str = "sample_weight") -> np.ndarray:
    """``sample_weight`` as a float array of ``n_rows`` finite, non-negative weights with a
    positive sum; anything else is an error naming ``name``.

    Example
    -------
    >>> check_weights([1, 20, 1.5], 3).tolist()
    [1.0, 20.0, 1.5]
    """
    w = np.asarray(sample_weight, dtype=float).reshape(-1)
    if len(w) != n_rows:
        raise SchemaError(f"{name} holds {len(w):,} weights for {n_rows:,} rows")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(bad)[:5])
        raise SchemaError(f"{name} must hold finite weights of zero or more; rows {rows} do not")
    if w.sum() <= 0:
        raise SchemaError(f"{name} weighs nothing: every weight is zero")
    return w


def fit_weighted(
    pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None
) -> Pipeline:
    """Fit a preprocessing + estimator pipeline, the estimator (its last step) with
    ``sample_weight`` when given; exactly ``pipeline.fit(X, y)`` without.

    Example
    -------
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = Pipeline([("model", LogisticRegression())])
    >>> X, y = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), np.array([0, 0, 1, 1])
    >>> fit_weighted(pipe, X, y, np.array([1.0, 1.0, 1.0, 5.0])).predict(X).tolist()
    [0, 0, 1, 1]
    """
    if sample_weight is None:
        return pipeline.fit(X, y)
    last = pipeline.steps[-1][0]
    return pipeline.fit(X, y, **{f"{last}__sample_weight": sample_weight})


def part(sample_weight: np.ndarray | None, rows: Any) -> np.ndarray | None:
    """The weights of ``rows`` (None stays None)."""
    return None if sample_weight is None else sample_weight[rows]
