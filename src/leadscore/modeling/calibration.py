"""Turn a model's raw scores into probabilities that mean what they say.

A calibrated 0.35 means that about 35 % of such leads convert. The calibrator is
fitted on out-of-fold predictions, so it corrects the model as it behaves on leads it
has not seen.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

#: Boosters output probabilities far below 1e-6; clip only to keep the logit finite.
EPS = 1e-15


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


class LogitCalibrator(BaseEstimator):
    """Platt scaling on the logit of the raw probability: ``σ(a·logit(p) + b)``.

    Two parameters cannot overfit, and the map is strictly increasing (for ``a > 0``),
    so the ranking, and with it the AUC, is exactly preserved.

    Example
    -------
    >>> raw = np.array([0.1, 0.4, 0.6, 0.9, 0.2, 0.8])
    >>> cal = LogitCalibrator().fit(raw, np.array([0, 0, 1, 1, 0, 1]))
    >>> bool(np.all(np.diff(cal.transform(np.sort(raw))) > 0))
    True
    """

    def fit(
        self, raw: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> LogitCalibrator:
        """Fit the two numbers on raw scores and outcomes (each lead counted by its
        ``sample_weight`` when given: the calibration of the population the weights
        stand for)."""
        x = logit(raw).reshape(-1, 1)
        # Nearly unregularised: we want the maximum-likelihood fit of two numbers.
        model = LogisticRegression(C=1e4, max_iter=1000).fit(
            x, np.asarray(y).astype(int), sample_weight=sample_weight
        )
        self.slope_ = float(model.coef_[0, 0])
        self.intercept_ = float(model.intercept_[0])
        if self.slope_ <= 0:
            # The raw scores carry no usable ranking signal: predict about the base rate
            # while keeping the order of the raw scores.
            base = float(np.clip(np.average(y, weights=sample_weight), EPS, 1 - EPS))
            self.slope_ = 1e-3
            self.intercept_ = float(np.log(base / (1 - base)) - self.slope_ * x.mean())
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        z = self.slope_ * logit(raw) + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))
