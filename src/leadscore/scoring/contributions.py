"""How much each business field moved a lead's score: additive contributions.

Contributions are computed where the model is additive — in log-odds — and summed back
from encoded pieces (one-hot levels, missing-value indicators, date parts) to the fields a
person entered:

* gradient boosters (LightGBM, XGBoost, CatBoost): the exact tree SHAP values the boosters
  compute natively (much faster than a generic explainer);
* logistic regression: the linear form, coefficient × (value − background mean);
* naive Bayes (:class:`~leadscore.modeling.naive_bayes.BinnedNB`): additive in log-odds
  too, one log-likelihood ratio per column (a category's level, a number's bin), less its
  mean over the background leads;
* every other model: a model-agnostic attribution (each field set to a typical lead's
  value, the interactions' remainder shared out evenly so the total is exact); for
  scikit-learn's tree ensembles and histogram boosting it runs compiled
  (:mod:`leadscore.scoring.occlusion`).

The bagged fold models are averaged in log-odds, so their contributions average too;
calibration is a linear map of the log-odds, so it scales them. The result adds up:
``base + contributions.sum() == log-odds of the calibrated score``. Shown to people, the
log-odds are turned into score points (0–100) that add up to the score as well.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from leadscore.errors import LeadscoreError
from leadscore.modeling.calibration import logit
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.families import ModelFamily, family
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import CategoryCoder, output_owners
from leadscore.scoring.occlusion import (
    TREE_ESTIMATORS,
    CompiledTrees,
    plain_estimator,
    swap_fields,
)
from leadscore.scoring.treeshap.forest import CompiledForest
from leadscore.scoring.treeshap.pool import CORES, shared_pool


@dataclass
class Contributions:
    """Per lead and business field, the contribution to the calibrated log-odds.

    Attributes
    ----------
    fields:
        The model's input fields, in column order of ``values``.
    values:
        ``(n_leads, n_fields)`` contributions in log-odds.
    base:
        ``(n_leads,)`` log-odds of the reference (the background leads).
    """

    fields: list[str]
    values: np.ndarray
    base: np.ndarray

    @property
    def logit(self) -> np.ndarray:
        """The calibrated log-odds the contributions add up to."""
        return self.base + self.values.sum(axis=1)

    @property
    def score(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit))

    @property
    def base_score(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.base))

    def points(self) -> np.ndarray:
        """Contributions in score points (0–100) that add up to score − base score.

        The probability difference is shared out in proportion to the log-odds
        contributions (exact where they all push the same way, and a close reading
        otherwise), so a salesperson's arithmetic works.
        """
        gap = 100.0 * (self.score - self.base_score)
        total = self.values.sum(axis=1)
        # Where the log-odds barely move, use the local slope of the logistic curve.
        slope = 100.0 * self.score * (1 - self.score)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(np.abs(total) > 1e-9, gap / total, slope)
        return self.values * share[:, None]

    def frame(self, points: bool = True) -> pd.DataFrame:
        """Contributions as a DataFrame, one column per field."""
        return pd.DataFrame(self.points() if points else self.values, columns=self.fields)


# ----------------------------------------------------------------------------- mapping


def field_of(encoded: str, fields: list[str]) -> str:
    """The business field an encoded column came from (longest matching field name).

    ``onehot__source_google`` → ``source``; ``num__missingindicator_visits`` → ``visits``;
    ``created_at__hour`` → ``created_at``.
    """
    step, _, rest = encoded.partition("__")
    name = rest if rest and step in _STEPS else encoded  # drop the ColumnTransformer prefix
    name = name.removeprefix("missingindicator_")
    best = None
    for field in fields:
        matches = name == field or name.startswith(field + "_")
        if matches and (best is None or len(field) > len(best)):
            best = field
    if best is None:
        raise LeadscoreError(f"cannot tell which input field the model column {encoded!r} is")
    return best


_STEPS = {"num", "onehot", "target"}


def _grouping(encoded: list[str], fields: list[str]) -> np.ndarray:
    """``(n_encoded, n_fields)`` 0/1 matrix summing encoded columns into their field."""
    matrix = np.zeros((len(encoded), len(fields)))
    index = {f: i for i, f in enumerate(fields)}
    for row, name in enumerate(encoded):
        matrix[row, index[field_of(name, fields)]] = 1.0
    return matrix


def _encoded_inputs(prep: Pipeline) -> list[str]:
    """The input column (a field, or a date part) behind each column of a fitted
    ``encode`` step, read off its transformers (see :func:`output_owners`)."""
    encode = prep.named_steps["encode"]
    inputs: list[str] = []
    for name, member, columns in encode.transformers_:
        if name != "remainder" and member != "drop":
            inputs += output_owners(member, columns)
    return inputs


def _native_names(prep: Pipeline) -> tuple[list[str], list[str]]:
    """Booster input names and the pre-rename names they stand for (CategoryCoder)."""
    coder = prep.named_steps["categories"]
    assert isinstance(coder, CategoryCoder)
    return list(coder.feature_names_out_), list(coder.feature_names_in_)


# ----------------------------------------------------------------------------- per model


def _member_contributions(
    member: Pipeline,
    X: pd.DataFrame,
    background: pd.DataFrame,
    fields: list[str],
    family: ModelFamily,
) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds contributions per field and base, for one fitted pipeline, by the kind of
    explainer its family declares."""
    prep, estimator = member.named_steps["prep"], member.named_steps["model"]
    if family.explainer == "occlusion":
        return _occlusion(member, X, background, fields)
    encoded = prep.transform(X)
    if family.explainer == "tree_shap":
        raw = _tree_shap(estimator, encoded, family)
        _, original = _native_names(prep)
        return raw[:, :-1] @ _grouping(original, fields), raw[:, -1]
    if family.explainer == "linear":
        columns = _encoded_inputs(prep)
        reference = np.asarray(prep.transform(background), dtype=float).mean(axis=0)
        coef = estimator.coef_.ravel()
        values = (np.asarray(encoded, dtype=float) - reference) * coef
        base = np.full(len(X), float(estimator.intercept_[0] + coef @ reference))
        return values @ _grouping(columns, fields), base
    if family.explainer == "naive_bayes":
        columns = _encoded_inputs(prep)
        terms = estimator.column_terms(encoded)
        reference = estimator.column_terms(prep.transform(background)).mean(axis=0)
        base = np.full(len(X), estimator.intercept_ + float(reference.sum()))
        return (terms - reference) @ _grouping(columns, fields), base
    raise AssertionError(family.explainer)  # every kind of explainer is handled above


#: compiled forests of the LightGBM boosters explained so far (built once per booster)
_COMPILED: weakref.WeakKeyDictionary[Any, CompiledForest] = weakref.WeakKeyDictionary()


def _lightgbm_rows(booster: Any, encoded: pd.DataFrame) -> np.ndarray:
    """The rows as LightGBM reads a DataFrame: categories as their training codes, an
    unknown level as missing."""
    levels = iter(booster.pandas_categorical or [])
    columns = []
    for column in encoded.columns:
        values = encoded[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.set_categories(next(levels)).cat.codes.to_numpy(dtype=float)
            codes[codes < 0] = np.nan
            columns.append(codes)
        else:
            columns.append(values.to_numpy(dtype=float, na_value=np.nan))
    return np.column_stack(columns) if columns else np.zeros((len(encoded), 0))


def _lightgbm_shap(estimator: BaseEstimator, encoded: pd.DataFrame) -> np.ndarray:
    """LightGBM's tree SHAP values through the compiled kernel (the same numbers as
    ``pred_contrib``, several times faster), rows split over the cores."""
    booster = estimator.booster_  # type: ignore[attr-defined]
    forest = _COMPILED.get(booster)
    if forest is None:
        forest = _COMPILED[booster] = CompiledForest.from_lightgbm([booster])
    rows = _lightgbm_rows(booster, encoded)
    parts = CORES if len(rows) >= 64 else 1  # a few rows: waking threads costs more
    _, values, base = forest.explain(rows, shared_pool(), parts)
    return np.column_stack([values, np.full(len(rows), base)])


def _xgboost_shap(estimator: BaseEstimator, encoded: pd.DataFrame) -> np.ndarray:
    import xgboost as xgb

    matrix = xgb.DMatrix(encoded, enable_categorical=True)
    return np.asarray(estimator.get_booster().predict(matrix, pred_contribs=True), dtype=float)  # type: ignore[attr-defined]


def _catboost_shap(estimator: BaseEstimator, encoded: pd.DataFrame) -> np.ndarray:
    from catboost import Pool

    booster = estimator.model_  # type: ignore[attr-defined]
    cats = [c for c in encoded.columns if not pd.api.types.is_numeric_dtype(encoded[c].dtype)]
    pool = Pool(encoded, cat_features=cats)
    return np.asarray(booster.get_feature_importance(pool, type="ShapValues"), dtype=float)


#: tree SHAP by the booster's library (``ModelFamily.library``): LightGBM's through the
#: compiled kernel, the others' own
_TREE_SHAP = {"lightgbm": _lightgbm_shap, "xgboost": _xgboost_shap, "catboost": _catboost_shap}


def _tree_shap(estimator: BaseEstimator, encoded: pd.DataFrame, family: ModelFamily) -> np.ndarray:
    """The boosters' tree SHAP values: ``(n, n_columns + 1)``, last column the base."""
    if family.library not in _TREE_SHAP:
        raise LeadscoreError(f"no tree SHAP for the {family.label} family's library")
    return _TREE_SHAP[family.library](estimator, encoded)


def typical_lead(background: pd.DataFrame) -> pd.DataFrame:
    """One made-up lead of typical values: the median of numbers and dates, the most common
    level of categories (missing where a column is all missing)."""
    row: dict[str, object] = {}
    for column in background.columns:
        values = background[column].dropna()
        if values.empty:
            row[column] = background[column].iloc[0]
        elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            row[column] = values.median()
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            row[column] = values.sort_values().iloc[len(values) // 2]
        else:
            row[column] = values.mode().iloc[0]
    return background.head(1).assign(**row).reset_index(drop=True)


def occlusion_effects(own: np.ndarray, swapped: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each field's effect from the log-odds of the leads (``own``, shape ``(...)``), of the
    leads with one field at a time set to the typical lead's value (``swapped``,
    ``(..., n_fields)``) and of the typical lead (``base``, ``(...)``): ``own − swapped``,
    with what interactions leave over (the effects do not add up to ``own − base``)
    shared out evenly. The total is exact, each field keeps its own effect, and no sign
    flips the way a multiplicative rescaling flips them all when the effects nearly
    cancel."""
    effects = own[..., None] - swapped
    remainder = (own - base) - effects.sum(axis=-1)
    return effects + remainder[..., None] / swapped.shape[-1]


#: compiled trees of the scikit-learn tree ensembles explained so far
_TREES: weakref.WeakKeyDictionary[Any, CompiledTrees] = weakref.WeakKeyDictionary()
#: copies of other estimators that read plain arrays
_PLAIN: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
#: leads whose swapped rows go to the estimator at once (leads × fields × columns floats)
SWAP_CHUNK = 256


_HIST = "HistGradientBoostingClassifier"


def _swappable(member: Pipeline) -> bool:
    """Whether each column the member's estimator reads is computed from one field, so
    that a lead with one field swapped is encoded by swapping that field's columns: true
    of the tree and linear encodings, and of histogram boosting on the native one, unless
    a date's gap to a reference time is computed from two fields."""
    prep, estimator = member.named_steps["prep"], member.named_steps["model"]
    if "encode" not in prep.named_steps and type(estimator).__name__ != _HIST:
        return False
    dates = prep.named_steps.get("dates")
    return dates is None or not dates.has_gaps


def estimator_inputs(member: Pipeline, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """What the member's estimator reads for ``frame``, as numbers, and the input column
    (a field, or a date part) behind each of its columns."""
    prep, estimator = member.named_steps["prep"], member.named_steps["model"]
    if "encode" in prep.named_steps:
        return np.asarray(prep.transform(frame), dtype=float), _encoded_inputs(prep)
    # histogram boosting: its own preprocessing codes the categories and puts them first
    coded = prep.transform(frame)
    names = [str(c) for c in prep.named_steps["categories"].feature_names_in_]
    if estimator._preprocessor is None:
        return np.asarray(coded, dtype=float), names
    categorical = np.asarray(estimator.is_categorical_, dtype=bool)
    order = [*np.flatnonzero(categorical), *np.flatnonzero(~categorical)]
    rows = np.asarray(estimator._preprocessor.transform(coded), dtype=float)
    return rows, [names[j] for j in order]


def _compiled_trees(estimator: BaseEstimator) -> CompiledTrees:
    trees = _TREES.get(estimator)
    if trees is None:
        if type(estimator).__name__ == _HIST:
            trees = CompiledTrees.from_hist_gradient_boosting([estimator], [0])
        else:
            trees = CompiledTrees.from_sklearn([estimator], [0])
        _TREES[estimator] = trees
    return trees


def _swapped_occlusion(
    member: Pipeline, X: pd.DataFrame, typical: pd.DataFrame, fields: list[str]
) -> tuple[np.ndarray, np.ndarray, float]:
    """The log-odds of the leads, of the leads with each field swapped ``(n, fields)`` and
    of the typical lead, from encoded rows with the swapped field's columns replaced: one
    transform instead of one per field."""
    estimator = member.named_steps["model"]
    # the leads and the typical lead in one transform (it costs more than the models)
    encoded, inputs = estimator_inputs(member, pd.concat([X, typical]))
    index = {f: i for i, f in enumerate(fields)}
    field_index = np.array([index[field_of(c, fields)] for c in inputs])
    rows, typical_row = encoded[:-1], encoded[-1]
    if type(estimator).__name__ in (*TREE_ESTIMATORS, _HIST):
        # walks only the trees a swap can change
        trees = _compiled_trees(estimator)
        base = trees.proba(typical_row[None, :])[0, 0]
        parts = CORES if len(X) >= 64 else 1  # a few rows: waking threads costs more
        proba, swapped = trees.occlude(
            rows, typical_row, field_index, len(fields), shared_pool(), parts
        )
        return logit(proba[:, 0]), logit(swapped[:, 0, :]), float(logit(base))
    plain = _PLAIN.get(estimator)
    if plain is None:
        plain = _PLAIN[estimator] = plain_estimator(estimator)
    base = plain.predict_proba(typical_row[None, :])[0, 1]
    own = plain.predict_proba(rows)[:, 1] if len(rows) else np.zeros(0)
    replaced = [np.zeros((0, len(fields)))]
    for start in range(0, len(rows), SWAP_CHUNK):
        chunk = rows[start : start + SWAP_CHUNK]
        swapped = swap_fields(chunk, typical_row, field_index, len(fields))
        p = plain.predict_proba(swapped.reshape(-1, rows.shape[1]))[:, 1]
        replaced.append(p.reshape(len(chunk), len(fields)))
    return logit(own), logit(np.vstack(replaced)), float(logit(base))


def _occlusion(
    member: Pipeline, X: pd.DataFrame, background: pd.DataFrame, fields: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Model-agnostic: each field's effect is the log-odds change when it alone is set to a
    typical lead's value (see :func:`occlusion_effects`). Where the encoding allows it,
    the swaps are made on encoded rows (:func:`_swapped_occlusion`); otherwise each field
    is swapped in the leads and the pipeline predicts them all."""
    typical = typical_lead(background)
    if _swappable(member):
        own, replaced, base_value = _swapped_occlusion(member, X, typical, fields)
    else:
        base_value = float(logit(member.predict_proba(typical)[:, 1])[0])
        own = logit(member.predict_proba(X)[:, 1])
        # every field swapped at once: one predict call on len(fields) × len(X) rows
        copies = []
        for field in fields:
            copy = X.copy()
            copy[field] = typical[field].iloc[0]
            copies.append(copy)
        replaced = logit(member.predict_proba(pd.concat(copies, ignore_index=True))[:, 1])
        replaced = replaced.reshape(len(fields), len(X)).T
    effects = occlusion_effects(own, replaced, np.full(len(X), base_value))
    return effects, np.full(len(X), base_value)


# ----------------------------------------------------------------------------- public


def is_exact(model: LeadModel) -> bool:
    """Whether the model's contributions are exact and fast (not the fallback)."""
    return family_of(model).exact


def family_of(model: LeadModel) -> ModelFamily:
    """The family of a fitted model (its ``model`` name)."""
    return family(model.model)


def contributions(model: LeadModel, X: pd.DataFrame) -> Contributions:
    """Per-field contributions to each lead's calibrated log-odds.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel`.
    X:
        Leads with the model's input columns (extra columns are ignored).

    Example
    -------
    >>> result = contributions(model, leads.head(3))
    >>> bool(np.allclose(result.score, model.predict_proba(leads.head(3))[:, 1]))
    True
    """
    background = getattr(model, "background_", None)
    if background is None:
        raise LeadscoreError(
            "this model was saved by an older leadscore without reference leads; retrain it "
            "to explain its scores"
        )
    conformed = model.schema_.conform(X)
    fields = list(model.schema_.names)
    estimator = model.pipeline_
    members = estimator.members_ if isinstance(estimator, FoldEnsemble) else [estimator]
    kind = family_of(model)
    parts = [_member_contributions(m, conformed, background, fields, kind) for m in members]
    values = np.mean([p[0] for p in parts], axis=0)
    base = np.mean([p[1] for p in parts], axis=0)
    # calibration is a*logit + b: contributions scale by a, the base moves to a*base + b
    slope, intercept = model.calibrator_.slope_, model.calibrator_.intercept_
    return Contributions(fields, values * slope, base * slope + intercept)


def raw_logit(model: LeadModel, X: pd.DataFrame) -> np.ndarray:
    """Log-odds of the uncalibrated ensemble output (what member contributions add up to)."""
    return logit(model.predict_raw(X))
