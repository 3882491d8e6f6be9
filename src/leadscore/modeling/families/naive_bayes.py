"""Naive Bayes for mixed data (:class:`~leadscore.modeling.naive_bayes.BinnedNB`): per-level
tables on the ``binned`` encoding, exact per-field terms; its smoothing holds from 100 to
100,000 leads, so it is not tuned."""

from __future__ import annotations

from sklearn.base import BaseEstimator

from leadscore.modeling.families.base import DataProfile, ModelFamily
from leadscore.modeling.naive_bayes import BinnedNB


def _naive_bayes(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return BinnedNB(alpha=10.0)


NAIVE_BAYES = ModelFamily(
    "naive_bayes", "Naive Bayes", "binned", 0, _naive_bayes,
    explainer="naive_bayes", realtime="naive_bayes", cost=1, fast=True,
)  # fmt: skip
