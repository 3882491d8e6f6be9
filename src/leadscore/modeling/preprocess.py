"""From typed lead columns to the numbers each model family needs.

Four encodings, one per model family (see :func:`build_preprocessor`):

``linear``  median imputation with missing indicators, log of skewed counts, scaling;
            one-hot for low-cardinality categories (rare levels grouped), cross-fitted
            target encoding for high-cardinality ones. For logistic regression, MLP, NB.
``tree``    the same without the log and the scaling. For sklearn's tree ensembles.
``native``  numbers untouched (the booster handles missing values), categories as pandas
            ``category`` with a fixed level set. For LightGBM, XGBoost, HistGradientBoosting.
``catboost``categories as text, for CatBoost's own ordered target statistics.

Unseen categories at scoring time never fail: one-hot maps them to the "infrequent"
column (or all zeros), target encoding to the prior, the native coders to ``__other__``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, TargetEncoder
from sklearn.utils.validation import check_is_fitted

from leadscore.features.dates import DateParts

Family = Literal["linear", "tree", "native", "catboost"]

MISSING = "__missing__"
OTHER = "__other__"


@dataclass(frozen=True)
class ColumnPlan:
    """Which columns get which treatment; decided once from the training table."""

    numeric: list[str]
    dates: list[str]
    low_card: list[str]
    high_card: list[str]
    reference_time: str | None = None

    @property
    def categorical(self) -> list[str]:
        return self.low_card + self.high_card

    def numeric_after_dates(self) -> list[str]:
        return DateParts(self.dates, self.reference_time).output_columns(self.numeric + self.dates)


def min_level_count(n_rows: int) -> int:
    """Levels rarer than this are grouped: at least 5 leads and 0.5 % of the table (≤ 50)."""
    return int(min(50, max(5, round(0.005 * n_rows))))


def plan_columns(
    features: pd.DataFrame,
    kinds: dict[str, str],
    reference_time: str | None = None,
    max_onehot_levels: int = 20,
) -> ColumnPlan:
    """Split columns by kind; categories with many frequent levels get target encoding."""
    threshold = min_level_count(len(features))
    numeric, dates, low, high = [], [], [], []
    for column in features.columns:
        kind = kinds[column]
        if kind == "numeric":
            numeric.append(column)
        elif kind == "datetime":
            dates.append(column)
        else:
            counts = features[column].value_counts()
            frequent = int((counts >= threshold).sum())
            (high if frequent > max_onehot_levels else low).append(column)
    return ColumnPlan(numeric, dates, low, high, reference_time)


# ----------------------------------------------------------------------------- transformers


_UNSAFE_NAME = re.compile(r'[\[\]<>{}",:]')


def safe_names(names: Sequence[str]) -> list[str]:
    """Column names the boosters accept (LightGBM and XGBoost reject JSON characters, [ ] <).

    Example
    -------
    >>> safe_names(["Visits [count]", "Visits (count)"])
    ['Visits _count_', 'Visits (count)']
    """
    out: list[str] = []
    for name in names:
        candidate = _UNSAFE_NAME.sub("_", str(name))
        while candidate in out:
            candidate += "_"
        out.append(candidate)
    return out


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as plain Python strings with an explicit missing level."""
    return frame.astype(object).where(frame.notna(), MISSING).astype(str).astype(object)


class SkewedLog(TransformerMixin, BaseEstimator):
    """``log1p`` on non-negative columns whose skew exceeds ``max_skew`` (counts, seconds).

    Linear models see "twice the time on site" rather than "1,000 more seconds".
    """

    def __init__(self, max_skew: float = 2.0) -> None:
        self.max_skew = max_skew

    def fit(self, X: pd.DataFrame, y: object = None) -> SkewedLog:
        frame = pd.DataFrame(X)
        minimum = frame.min(skipna=True)
        skew = frame.skew(skipna=True).fillna(0.0)
        self.log_columns_ = [
            c for c in frame.columns if minimum[c] >= 0 and abs(skew[c]) > self.max_skew
        ]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        frame = pd.DataFrame(X).copy()
        for column in self.log_columns_:
            frame[column] = np.log1p(frame[column].clip(lower=0))
        return frame

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


class CategoryCoder(TransformerMixin, BaseEstimator):
    """Fix the level set of categorical columns for boosters with native categories.

    Levels seen fewer than ``min_count`` times, beyond the ``max_levels`` most frequent,
    or never seen at all become ``__other__``; missing values become ``__missing__``.
    Output column names are made safe for the boosters (see :func:`safe_names`).

    Parameters
    ----------
    columns:
        Categorical columns; all other columns pass through as floats.
    min_count:
        Minimum training count for a level to keep its own code.
    max_levels:
        Cap on kept levels per column (HistGradientBoosting allows at most 255 bins).
    output:
        ``"category"`` gives pandas categoricals (LightGBM, XGBoost, HGB); ``"string"``
        gives text (CatBoost).

    Example
    -------
    >>> coder = CategoryCoder(["src"], min_count=1).fit(pd.DataFrame({"src": ["a", "b", "a"]}))
    >>> coder.transform(pd.DataFrame({"src": ["a", "zzz", None]}))["src"].tolist()
    ['a', '__other__', '__missing__']
    """

    def __init__(
        self,
        columns: Sequence[str] = (),
        min_count: int = 5,
        max_levels: int = 200,
        output: Literal["category", "string"] = "category",
    ) -> None:
        self.columns = columns
        self.min_count = min_count
        self.max_levels = max_levels
        self.output = output

    def fit(self, X: pd.DataFrame, y: object = None) -> CategoryCoder:
        self.levels_: dict[str, list[str]] = {}
        for column in self.columns:
            counts = _as_text(X[[column]])[column].value_counts()
            kept = counts[counts >= self.min_count].index.tolist()[: self.max_levels]
            self.levels_[column] = sorted({*kept, MISSING, OTHER})
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.feature_names_out_ = np.asarray(safe_names(list(X.columns)), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        out = X.copy()
        for column, levels in self.levels_.items():
            text = _as_text(X[[column]])[column]
            text = text.where(text.isin(levels), OTHER)
            if self.output == "category":
                out[column] = pd.Categorical(text, categories=levels)
            else:
                out[column] = text
        for column in out.columns:
            if column not in self.levels_:
                out[column] = out[column].astype(float)
        out.columns = list(self.feature_names_out_)
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_out_


def build_preprocessor(plan: ColumnPlan, family: Family, random_state: int = 0) -> Pipeline:
    """The preprocessing pipeline for one model family (see the module docstring).

    Example
    -------
    >>> plan = ColumnPlan(numeric=["visits"], dates=[], low_card=["source"], high_card=[])
    >>> prep = build_preprocessor(plan, "linear")
    >>> frame = pd.DataFrame({"visits": [1.0, None, 3.0], "source": ["a", "b", None]})
    >>> prep.fit_transform(frame, [0, 1, 1]).shape[0]
    3
    """
    dates = DateParts(plan.dates, plan.reference_time)
    numeric = plan.numeric_after_dates()
    if family in ("native", "catboost"):
        coder = CategoryCoder(
            plan.categorical,
            min_count=3,
            output="string" if family == "catboost" else "category",
        )
        return Pipeline([("dates", dates), ("categories", coder)])

    min_frequency = 5  # absolute count: one-hot levels rarer than this share one column
    numeric_steps: list[tuple[str, object]] = [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    ]
    if family == "linear":
        numeric_steps = [("log", SkewedLog()), *numeric_steps, ("scale", StandardScaler())]
    text = FunctionTransformer(_as_text, feature_names_out="one-to-one")
    onehot = OneHotEncoder(
        handle_unknown="infrequent_if_exist",
        min_frequency=min_frequency,
        sparse_output=False,
    )
    target_steps: list[tuple[str, object]] = [
        ("text", text),
        (
            "target",
            TargetEncoder(
                target_type="binary",
                cv=StratifiedKFold(5, shuffle=True, random_state=random_state),
            ),
        ),
    ]
    if family == "linear":
        target_steps.append(("scale", StandardScaler()))
    transformers = []
    if numeric:
        transformers.append(("num", Pipeline(numeric_steps), numeric))
    if plan.low_card:
        transformers.append(
            ("onehot", Pipeline([("text", text), ("encode", onehot)]), plan.low_card)
        )
    if plan.high_card:
        transformers.append(("target", Pipeline(target_steps), plan.high_card))
    encode = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    encode.set_output(transform="pandas")
    return Pipeline([("dates", dates), ("encode", encode)])


def output_owners(member: Pipeline, columns: Sequence[str]) -> list[str]:
    """The input column behind each output column of one fitted part of the ``encode``
    step of :func:`build_preprocessor` (its ``num``, ``onehot`` or ``target`` pipeline).

    Read off the fitted transformers, not the output names: the one-hot column of level
    ``medium`` of ``source`` is named ``source_medium``, like a field of that name.

    Example
    -------
    >>> prep = build_preprocessor(
    ...     ColumnPlan(numeric=[], dates=[], low_card=["source", "source_medium"], high_card=[]),
    ...     "linear",
    ... )
    >>> frame = pd.DataFrame({"source": ["medium", "web"] * 5, "source_medium": ["cpc"] * 10})
    >>> encode = prep.fit(frame, [0, 1] * 5).named_steps["encode"]
    >>> _, onehot, used = encode.transformers_[0]
    >>> list(onehot.get_feature_names_out(used)), output_owners(onehot, used)
    (['source_medium', 'source_web', 'source_medium_cpc'], ['source', 'source', 'source_medium'])
    """
    columns = list(columns)
    steps = dict(member.steps)
    encoder, imputer = steps.get("encode"), steps.get("impute")
    if isinstance(encoder, OneHotEncoder):
        owners = []
        rare = getattr(encoder, "infrequent_categories_", [None] * len(columns))
        for column, levels, grouped in zip(columns, encoder.categories_, rare, strict=True):
            # infrequent levels share one column
            width = len(levels) - (len(grouped) - 1 if grouped is not None else 0)
            owners += [column] * width
    elif isinstance(imputer, SimpleImputer):
        indicated = imputer.indicator_.features_ if imputer.indicator_ is not None else []
        owners = [*columns, *(columns[j] for j in indicated)]  # the missing-value flags last
    else:  # target encoding of a binary target: one column per input
        owners = columns
    width = len(member.get_feature_names_out(columns))
    if len(owners) != width:
        raise ValueError(f"cannot tell the inputs of {width} encoded columns from {columns}")
    return owners
