"""From typed lead columns to the numbers each model family needs.

Five encodings, one per kind of estimator (see :func:`build_preprocessor`):

``linear``  median imputation with missing indicators, log of skewed counts, scaling;
            one-hot for low-cardinality categories (rare levels grouped), cross-fitted
            target encoding for high-cardinality ones. For logistic regression, the MLP.
``tree``    the same without the log and the scaling. For sklearn's tree ensembles.
``native``  numbers untouched (the booster handles missing values), categories as pandas
            ``category`` with a fixed level set. For LightGBM, XGBoost, HistGradientBoosting.
``catboost``categories as text, for CatBoost's own ordered target statistics.
``binned``  every number (and date part) as its quantile bin with a bin of its own for
            missing values (:class:`QuantileBins`), every category as its level code
            (missing a level of its own). For naive Bayes
            (:class:`leadscore.modeling.naive_bayes.BinnedNB`).

Unseen categories at scoring time never fail: one-hot maps them to the "infrequent"
column (or all zeros), target encoding to the prior, the native coders to ``__other__``,
the binned encoding to code −1 (a level naive Bayes never saw, which tells it nothing).
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
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)
from sklearn.utils.validation import check_is_fitted

from leadscore.features.dates import DateParts

#: the encodings, one per kind of estimator (see the module docstring)
Encoding = Literal["linear", "tree", "native", "catboost", "binned"]

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
    """Split columns by kind; categories with many frequent levels get target encoding.

    Date columns are measured from ``reference_time`` (the lead's creation time). Without
    one, when a table has two or more dates, the one that comes first for most leads is
    the reference: a booking date before a trip date, a sign-up before a demo — the gaps
    between them (how long ahead a trip was booked) are what dates say about a lead.
    """
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
    if reference_time is None and len(dates) >= 2:
        reference_time = earliest_date(features[dates])
    return ColumnPlan(numeric, dates, low, high, reference_time)


def earliest_date(dates: pd.DataFrame) -> str | None:
    """The date column that holds the earliest of a lead's dates most often (filled in for
    at least half of the leads; ``None`` when none is).

    Example
    -------
    >>> frame = pd.DataFrame({
    ...     "trip": pd.to_datetime(["2026-03-10", "2026-04-02"]),
    ...     "booked": pd.to_datetime(["2026-03-01", "2026-03-30"]),
    ... })
    >>> earliest_date(frame)
    'booked'
    """
    filled = [c for c in dates.columns if dates[c].notna().mean() >= 0.5]
    if not filled:
        return None
    stamps = dates[filled].apply(pd.to_datetime)
    first = stamps.eq(stamps.min(axis=1), axis=0).mean()
    return str(first.idxmax())


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


def auto_bins(fewest: int) -> int:
    """Quantile bins per number when the rarer outcome has ``fewest`` leads: about
    ``√fewest``, between 5 and 32.

    A bin's conversion rate rests on its share of the rarer outcome: with ``b`` bins each
    holds about ``fewest / b`` of those leads, so ``b = √fewest`` lets the resolution (the
    number of bins) and the evidence per bin grow together. 100 leads at 12 % converted
    (about 10 converted in a training fold): 5 bins; 2,000 leads (190): 14; from about
    1,000 of the rarer outcome on: 32 (finer bins gained nothing measurable on 100,000 demo
    leads or on the X Education data, and the per-lead lookup stays short).

    Example
    -------
    >>> [auto_bins(n) for n in (10, 100, 190, 100_000)]
    [5, 10, 14, 32]
    """
    return int(np.clip(round(fewest**0.5), 5, 32))


class QuantileBins(TransformerMixin, BaseEstimator):
    """Numbers → quantile bin codes ``0 … k−1``, missing values → a bin of their own (``k``).

    Cut points are fitted on the training values: at each of the ``n_bins − 1`` inner
    quantiles, between the value found there and the next larger value seen. So ties
    never straddle a cut, and a value with more than a bin's share of the leads (zero
    visits, a yes/no flag, the hour of day) gets a bin of its own instead of sharing one
    with its neighbours; a column with fewer distinct values than bins keeps one bin per
    value. Skew, counts and outliers do not matter: only the order of the values does.

    scikit-learn's ``KBinsDiscretizer`` refuses missing values, and its quantile edges sit
    on tied values, so a point mass shares a bin with the values above it (zero time on
    site with a few seconds); hence this small transformer.

    Parameters
    ----------
    n_bins:
        Bins per column, or ``"auto"``: :func:`auto_bins` of the leads of the rarer outcome
        in the ``y`` given to ``fit`` (without ``y``: of all the rows).

    Attributes
    ----------
    cuts_ : list of ndarray
        Per column, the sorted cut points; a value ``x`` is in bin
        ``searchsorted(cuts, x, side="right")``, a missing value in bin ``len(cuts) + 1``.

    Example
    -------
    >>> frame = pd.DataFrame({"visits": [0.0, 0, 0, 0, 1, 2, 3, 40, None]})
    >>> QuantileBins(n_bins=3).fit_transform(frame)["visits"].tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0]
    """

    def __init__(self, n_bins: int | Literal["auto"] = "auto") -> None:
        self.n_bins = n_bins

    def fit(self, X: pd.DataFrame, y: object = None) -> QuantileBins:
        frame = pd.DataFrame(X)
        values = frame.to_numpy(dtype=float, na_value=np.nan)
        if self.n_bins == "auto":
            # the rarer outcome limits how finely a number's conversion rate can be read
            labels = np.asarray(y, dtype=int) if y is not None else None
            fewest = len(frame) if labels is None else int(np.bincount(labels, minlength=2).min())
            bins = auto_bins(fewest)
        else:
            bins = int(self.n_bins)
        if bins < 2:
            raise ValueError(f"n_bins must be at least 2, not {self.n_bins!r}")
        self.n_bins_ = bins
        self.cuts_ = [self._cuts(values[:, j], bins) for j in range(values.shape[1])]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = values.shape[1]
        return self

    @staticmethod
    def _cuts(column: np.ndarray, bins: int) -> np.ndarray:
        present = column[~np.isnan(column)]
        if present.size == 0:
            return np.zeros(0)
        levels, counts = np.unique(present, return_counts=True)
        below = np.cumsum(counts)  # leads at or below each distinct value
        # the distinct value at each inner quantile (integer products: no rounding at ties)
        wanted = np.arange(1, bins) * present.size / bins
        at = np.unique(np.searchsorted(below, wanted, side="left"))
        at = at[at < len(levels) - 1]  # nothing to cut above the largest value
        low, high = levels[at], levels[at + 1]
        middle = low + (high - low) / 2
        # between two neighbouring floats the middle may round onto the lower one
        return np.where(middle > low, middle, high)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        frame = pd.DataFrame(X)
        values = frame.to_numpy(dtype=float, na_value=np.nan)
        codes = np.empty_like(values)
        for j, cuts in enumerate(self.cuts_):
            column = values[:, j]
            codes[:, j] = np.where(
                np.isnan(column), len(cuts) + 1, np.searchsorted(cuts, column, side="right")
            )
        return pd.DataFrame(codes, columns=frame.columns, index=frame.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def _binned(plan: ColumnPlan, dates: DateParts, numeric: list[str]) -> Pipeline:
    """The ``binned`` encoding: quantile bin codes of the numbers and date parts, level codes
    of the categories (missing a level of its own, an unseen level −1)."""
    text = FunctionTransformer(_as_text, feature_names_out="one-to-one")
    levels = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    transformers = []
    if numeric:
        transformers.append(("num", Pipeline([("bins", QuantileBins())]), numeric))
    if plan.categorical:
        transformers.append(
            ("cat", Pipeline([("text", text), ("encode", levels)]), plan.categorical)
        )
    encode = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    encode.set_output(transform="pandas")
    return Pipeline([("dates", dates), ("encode", encode)])


def build_preprocessor(plan: ColumnPlan, encoding: Encoding, random_state: int = 0) -> Pipeline:
    """The preprocessing pipeline for one encoding (see the module docstring).

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
    if encoding in ("native", "catboost"):
        coder = CategoryCoder(
            plan.categorical,
            min_count=3,
            output="string" if encoding == "catboost" else "category",
        )
        return Pipeline([("dates", dates), ("categories", coder)])
    if encoding == "binned":
        return _binned(plan, dates, numeric)

    min_frequency = 5  # absolute count: one-hot levels rarer than this share one column
    numeric_steps: list[tuple[str, object]] = [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    ]
    if encoding == "linear":
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
    if encoding == "linear":
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
