"""The candidate models, with defaults that hold up from a hundred leads to millions.

Every candidate becomes a scikit-learn :class:`~sklearn.pipeline.Pipeline`
(preprocessing for its family, then the estimator), so any of them can be cloned,
cross-validated and pickled the same way. Each estimator runs on one thread: the
comparison parallelises across candidates and folds instead, which keeps both cores
busy without oversubscription.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from leadscore.errors import LeadscoreError
from leadscore.modeling.preprocess import ColumnPlan, Family, build_preprocessor


@dataclass(frozen=True)
class DataProfile:
    """What the defaults depend on: how much data and how imbalanced it is."""

    n_rows: int
    n_positive: int

    @property
    def positive_rate(self) -> float:
        return self.n_positive / max(self.n_rows, 1)

    @property
    def small(self) -> bool:
        """Too little data to trust fine differences between flexible models."""
        return self.n_rows < 1000 or self.n_positive < 100

    @property
    def imbalanced(self) -> bool:
        return self.positive_rate < 0.1

    @property
    def balanced_weights(self) -> str | None:
        # Re-weighting helps trees find the rare class; calibration undoes the shift later.
        return "balanced" if self.imbalanced else None

    @property
    def pos_weight(self) -> float:
        # Square root of the imbalance: a milder push than full balancing, better for boosters.
        if not self.imbalanced:
            return 1.0
        return float(np.sqrt((self.n_rows - self.n_positive) / max(self.n_positive, 1)))

    @property
    def min_leaf(self) -> int:
        return int(np.clip(self.n_rows // 200, 3, 20))

    @property
    def tree_sample(self) -> int | None:
        """Leads each tree of a forest sees on large tables (``None``: the usual bootstrap):
        past ~20,000 a bigger sample makes slower trees, not better forests."""
        return 20_000 if self.n_rows > 30_000 else None


@dataclass(frozen=True)
class Candidate:
    """A model family in the zoo.

    ``complexity`` orders candidates from simplest to most flexible; with small data the
    comparison prefers the simplest one whose AUC is within a standard error of the best.
    """

    name: str
    label: str
    family: Family
    complexity: int
    make: Callable[[DataProfile, list[str], int], BaseEstimator]
    #: rough relative fit time, to start the slowest fits first and keep all cores busy
    cost: float = 1.0

    def pipeline(
        self,
        plan: ColumnPlan,
        profile: DataProfile,
        random_state: int = 0,
        params: dict[str, Any] | None = None,
    ) -> Pipeline:
        """Preprocessing plus estimator, ready to fit on a typed feature frame; ``params``
        (found by tuning) replace the estimator's defaults."""
        estimator = self.make(profile, plan.categorical, random_state)
        if params:
            estimator.set_params(**params)
        prep = build_preprocessor(plan, self.family, random_state)
        return Pipeline([("prep", prep), ("model", estimator)])


def _logreg_l2(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return LogisticRegression(C=0.5 if p.small else 1.0, max_iter=3000, random_state=seed)


def _logreg_l1(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return LogisticRegression(
        l1_ratio=1.0, solver="liblinear", C=0.3 if p.small else 1.0, max_iter=3000,
        random_state=seed,
    )  # fmt: skip


def _naive_bayes(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    # per-level tables on the binned encoding; its smoothing holds from 100 to 100k leads
    from leadscore.modeling.naive_bayes import BinnedNB

    return BinnedNB(alpha=10.0)


def _decision_tree(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return DecisionTreeClassifier(
        max_depth=4 if p.small else 7,
        min_samples_leaf=max(p.min_leaf, 10),
        class_weight=p.balanced_weights,
        random_state=seed,
    )


def _random_forest(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return RandomForestClassifier(
        n_estimators=150,
        min_samples_leaf=p.min_leaf,
        max_features="sqrt",
        class_weight="balanced_subsample" if p.imbalanced else None,
        max_samples=p.tree_sample,
        n_jobs=1,
        random_state=seed,
    )


def _extra_trees(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return ExtraTreesClassifier(
        n_estimators=150,
        min_samples_leaf=p.min_leaf,
        max_features="sqrt",
        class_weight="balanced_subsample" if p.imbalanced else None,
        # large tables: each tree on a sample, like the random forest
        bootstrap=p.tree_sample is not None,
        max_samples=p.tree_sample,
        n_jobs=1,
        random_state=seed,
    )


def _hist_gb(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return HistGradientBoostingClassifier(
        learning_rate=0.07,
        max_iter=120 if p.small else 200,
        max_leaf_nodes=15,
        min_samples_leaf=max(p.min_leaf, 10),
        l2_regularization=1.0,
        early_stopping=False,
        categorical_features="from_dtype",
        random_state=seed,
    )


def _lightgbm(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=200 if p.small else 400,
        learning_rate=0.03,
        num_leaves=15 if p.small else 31,
        min_child_samples=max(p.min_leaf, 5),
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        reg_lambda=5.0,
        cat_l2=10.0,
        cat_smooth=50.0,
        max_cat_to_onehot=8,
        scale_pos_weight=p.pos_weight,
        n_jobs=1,
        random_state=seed,
        verbose=-1,
    )


def _xgboost(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    import xgboost as xgb

    return xgb.XGBClassifier(
        n_estimators=200 if p.small else 400,
        learning_rate=0.03,
        max_depth=4 if p.small else 5,
        min_child_weight=2,
        subsample=0.8,
        colsample_bytree=0.6,
        reg_lambda=2.0,
        enable_categorical=True,
        max_cat_to_onehot=8,
        tree_method="hist",
        scale_pos_weight=p.pos_weight,
        n_jobs=1,
        random_state=seed,
        eval_metric="logloss",
    )


class CatBoostLeads(ClassifierMixin, BaseEstimator):
    """CatBoost with its categorical columns found at fit time (text columns of ``X``).

    CatBoost's own estimator cannot be cloned once ``cat_features`` is set, which
    cross-validation needs; this thin wrapper keeps plain parameters instead.
    """

    def __init__(
        self,
        iterations: int = 500,
        learning_rate: float = 0.06,
        depth: int = 5,
        l2_leaf_reg: float = 3.0,
        max_ctr_complexity: int = 2,
        one_hot_max_size: int = 4,
        scale_pos_weight: float = 1.0,
        thread_count: int = 1,
        random_state: int = 0,
    ) -> None:
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.max_ctr_complexity = max_ctr_complexity
        self.one_hot_max_size = one_hot_max_size
        self.scale_pos_weight = scale_pos_weight
        self.thread_count = thread_count
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CatBoostLeads:
        from catboost import CatBoostClassifier

        cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)]
        self.model_ = CatBoostClassifier(
            iterations=self.iterations,
            learning_rate=self.learning_rate,
            depth=self.depth,
            l2_leaf_reg=self.l2_leaf_reg,
            # Pairs of categories, not triples: nearly all of the gain at a third of the cost.
            max_ctr_complexity=self.max_ctr_complexity,
            # yes/no and other tiny categories: one-hot, cheaper than target statistics
            one_hot_max_size=self.one_hot_max_size,
            scale_pos_weight=self.scale_pos_weight,
            thread_count=self.thread_count,
            random_seed=self.random_state,
            cat_features=cats,
            allow_writing_files=False,
            verbose=0,
        ).fit(X, np.asarray(y))
        self.classes_ = self.model_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _catboost(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    # Fewer, larger steps: on lead tables 250 trees at 0.1 rank as well as 500 at 0.05
    # (X Education: cross-validated AUC 0.8785 against 0.8790) in 57 % of the time.
    return CatBoostLeads(
        iterations=200 if p.small else 250,
        learning_rate=0.08 if p.small else 0.1,
        depth=4 if p.small else 5,
        scale_pos_weight=p.pos_weight,
        random_state=seed,
    )


def _mlp(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return MLPClassifier(
        hidden_layer_sizes=(32,) if p.small else (64, 32),
        alpha=1e-2 if p.small else 1e-3,
        learning_rate_init=1e-3,
        max_iter=300,
        early_stopping=p.n_rows >= 500,
        n_iter_no_change=15,
        random_state=seed,
    )


ZOO: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("naive_bayes", "Naive Bayes", "binned", 0, _naive_bayes, cost=1),
        Candidate("logreg_l1", "Logistic regression (L1)", "linear", 1, _logreg_l1, cost=3),
        Candidate("logreg_l2", "Logistic regression (L2)", "linear", 1, _logreg_l2, cost=2),
        Candidate("decision_tree", "Decision tree", "tree", 2, _decision_tree, cost=2),
        Candidate("random_forest", "Random forest", "tree", 4, _random_forest, cost=6),
        Candidate("extra_trees", "Extra trees", "tree", 4, _extra_trees, cost=6),
        Candidate("mlp", "Neural network (MLP)", "linear", 5, _mlp, cost=6),
        Candidate("hist_gb", "Histogram gradient boosting", "native", 6, _hist_gb, cost=5),
        Candidate("lightgbm", "LightGBM", "native", 6, _lightgbm, cost=4),
        Candidate("xgboost", "XGBoost", "native", 6, _xgboost, cost=5),
        Candidate("catboost", "CatBoost", "catboost", 6, _catboost, cost=20),
    )
}


def get_candidates(names: list[str] | None = None) -> list[Candidate]:
    """Candidates by name (all when ``names`` is empty); unknown names are an error."""
    if not names:
        return list(ZOO.values())
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        raise LeadscoreError(
            f"unknown model {', '.join(repr(n) for n in unknown)}; choose from: {', '.join(ZOO)}"
        )
    return [ZOO[n] for n in names]
