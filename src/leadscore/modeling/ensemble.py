"""The final model as the average of its cross-validation fold models.

Cross-validation already fits one model per fold; averaging them (in log-odds) gives a
bagged model that is usually a little better than one refit on all rows, costs no
further training, and behaves like the out-of-fold predictions its calibration was
fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from leadscore.modeling.calibration import logit


class FoldEnsemble(ClassifierMixin, BaseEstimator):
    """Log-odds average of models fitted on the folds of a cross-validation.

    Parameters
    ----------
    estimator:
        The model (usually a preprocessing + estimator pipeline) to fit on every fold.
    folds:
        ``(train_indices, validation_indices)`` pairs; defaults to 5 stratified folds.

    Attributes
    ----------
    members_ : list
        The fitted fold models.
    oof_ : ndarray
        Out-of-fold probability of every training row (NaN if never validated).

    Example
    -------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": np.arange(40.0)})
    >>> y = (np.arange(40) % 3 == 0).astype(int)
    >>> bag = FoldEnsemble(LogisticRegression()).fit(X, y)
    >>> len(bag.members_), bag.predict_proba(X.head(1)).shape
    (5, (1, 2))
    """

    def __init__(
        self, estimator: BaseEstimator, folds: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
    ) -> None:
        self.estimator = estimator
        self.folds = folds

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> FoldEnsemble:
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y).astype(int)
        folds = self.folds or list(
            StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y)
        )
        self.members_ = []
        self.oof_ = np.full(len(y), np.nan)
        for train, test in folds:
            member = clone(self.estimator).fit(X.iloc[train], y[train])
            self.oof_[test] = member.predict_proba(X.iloc[test])[:, 1]
            self.members_.append(member)
        self.classes_ = np.array([0, 1])
        return self

    @classmethod
    def from_fitted(cls, members: Sequence[BaseEstimator]) -> FoldEnsemble:
        """Wrap fold models that are already fitted (as returned by cross-validation)."""
        if not members:
            raise ValueError("a fold ensemble needs at least one fitted member")
        ensemble = cls(members[0])
        ensemble.members_ = list(members)
        ensemble.classes_ = np.array([0, 1])
        return ensemble

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "members_")
        z = np.mean([logit(m.predict_proba(X)[:, 1]) for m in self.members_], axis=0)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
