"""What a model family is: one object the rest of leadscore asks about it.

A :class:`ModelFamily` holds everything that differs from one family to the next — its
estimator and defaults (as a function of the data's :class:`DataProfile`), the encoding
its estimator reads, where hyperparameter search looks, the library whose version a saved
model must match, how its scores are taken apart into per-field contributions and how the
real-time scorer compiles it — so that comparison, training, explanation, the real-time
scorer, model loading and the dashboard ask the family instead of testing class names.

The explainer and the real-time compiler are named by *kind* here (``"tree_shap"``,
``"linear"``, …): their code lives in :mod:`leadscore.scoring`, a layer above modelling,
and implements each kind once for every family that declares it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from leadscore.modeling.preprocess import ColumnPlan, Encoding, build_preprocessor

#: how a family's scores become per-field contributions (see ``scoring.contributions``):
#: ``tree_shap`` exact tree SHAP values of a booster, ``linear`` a linear model's terms,
#: ``naive_bayes`` the per-level log-likelihood ratios, ``occlusion`` the model-agnostic
#: estimate (each field set to a typical lead's value)
Explainer = Literal["tree_shap", "linear", "naive_bayes", "occlusion"]
#: how the real-time scorer compiles a family (see ``scoring.realtime``): ``booster``
#: numpy rows straight into the booster, ``linear`` / ``naive_bayes`` per-field lookups,
#: ``dense`` the numpy encoders and compiled trees or the estimator on arrays
RealTime = Literal["booster", "linear", "naive_bayes", "dense"]


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


Make = Callable[[DataProfile, list[str], int], BaseEstimator]
Space = Callable[[Any, DataProfile], dict[str, Any]]


@dataclass(frozen=True)
class ModelFamily:
    """One model family: its estimator, encoding, search space, explainer and compiler.

    Parameters
    ----------
    name:
        The name users type (``--model lightgbm``) and models record.
    label:
        How people read it ("LightGBM").
    encoding:
        The preprocessing its estimator reads (:func:`build_preprocessor`).
    complexity:
        Order from simplest to most flexible; with small data the comparison prefers the
        simplest family within a standard error of the best.
    make:
        ``make(profile, categorical_columns, seed)`` → the estimator with its defaults.
    explainer, realtime:
        The kinds of its exact explainer and real-time compiler (see the module docstring).
    space:
        ``space(optuna_trial, profile)`` → estimator settings to try; ``None``: not tuned.
    library:
        The package whose major.minor version a saved model must match to load, if any
        besides scikit-learn.
    cost:
        Rough relative fit time, to start the slowest fits first and keep all cores busy.
    fast:
        Quick to train everywhere: the dashboard's "fast" choice.

    Example
    -------
    >>> from leadscore.modeling.families import FAMILIES
    >>> family = FAMILIES["logreg_l2"]
    >>> family.encoding, family.explainer, family.realtime
    ('linear', 'linear', 'linear')
    """

    name: str
    label: str
    encoding: Encoding
    complexity: int
    make: Make
    explainer: Explainer
    realtime: RealTime
    space: Space | None = None
    library: str | None = None
    cost: float = 1.0
    fast: bool = False

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
        prep = build_preprocessor(plan, self.encoding, random_state)
        return Pipeline([("prep", prep), ("model", estimator)])

    @property
    def exact(self) -> bool:
        """Whether its contributions are exact and fast (not the occlusion estimate)."""
        return self.explainer != "occlusion"
