"""Logistic regression, L1 and L2: the simplest families, exact per-field terms."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from leadscore.modeling.families.base import DataProfile, ModelFamily


def _logreg_l2(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return LogisticRegression(C=0.5 if p.small else 1.0, max_iter=3000, random_state=seed)


def _logreg_l1(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return LogisticRegression(
        l1_ratio=1.0, solver="liblinear", C=0.3 if p.small else 1.0, max_iter=3000,
        random_state=seed,
    )  # fmt: skip


def _space(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 1e-3, 30.0, log=True)}


LOGREG_L1 = ModelFamily(
    "logreg_l1", "Logistic regression (L1)", "linear", 1, _logreg_l1,
    explainer="linear", realtime="linear", space=_space, cost=3,
)  # fmt: skip
LOGREG_L2 = ModelFamily(
    "logreg_l2", "Logistic regression (L2)", "linear", 1, _logreg_l2,
    explainer="linear", realtime="linear", space=_space, cost=2, fast=True,
)  # fmt: skip
