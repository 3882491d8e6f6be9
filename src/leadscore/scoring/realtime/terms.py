"""Logistic regression and naive Bayes as per-field terms: exact scores and reasons.

Both models are additive in log-odds, so a fold model becomes an intercept plus one term
per input field — a number's affine term (or its bin's log-likelihood ratio), a
category's looked-up level — compiled once from the fitted pipeline. Scoring a lead is
then a handful of lookups and multiplications, and its per-field contributions (each
term against the reference leads' average term) come for free.
"""

from __future__ import annotations

import bisect
import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.features.dates import PARTS, parts_of
from leadscore.modeling.preprocess import MISSING, output_owners
from leadscore.scoring.dense import NotCompilable, category_tables
from leadscore.scoring.realtime.cleaning import Cleaner


@dataclass(frozen=True)
class _NumericTerm:
    """One numeric input's term: imputed, maybe log1p'd, scaled, times its weight, plus
    its missing-indicator column's term (``(weight, mean, scale)``) if it has one."""

    median: float
    log: bool
    weight: float
    mean: float
    scale: float
    indicator: tuple[float, float, float] | None

    def __call__(self, x: float) -> float:
        missing = math.isnan(x)
        value = self.median if missing else (math.log1p(max(x, 0.0)) if self.log else x)
        total = self.weight * (value - self.mean) / self.scale
        if self.indicator is not None:
            weight, mean, scale = self.indicator
            total += weight * ((1.0 if missing else 0.0) - mean) / scale
        return float(total)


@dataclass(frozen=True)
class _AffineTerm:
    """Several fold models' numeric terms of one input summed into one: ``slope * x +
    log_slope * log1p(max(x, 0)) + offset`` when present (the folds that log-transform the
    input give the second part), ``missing`` when not."""

    slope: float
    log_slope: float
    offset: float
    missing: float

    def __call__(self, x: float) -> float:
        if math.isnan(x):
            return self.missing
        total = self.slope * x + self.offset
        if self.log_slope:
            total += self.log_slope * math.log1p(max(x, 0.0))
        return total

    @classmethod
    def average(cls, terms: Sequence[_NumericTerm]) -> _AffineTerm:
        """The average of ``terms`` as one term."""
        slope = log_slope = offset = missing = 0.0
        for t in terms:
            if t.log:
                log_slope += t.weight / t.scale
            else:
                slope += t.weight / t.scale
            offset -= t.weight * t.mean / t.scale
            missing += t.weight * (t.median - t.mean) / t.scale
            if t.indicator is not None:
                weight, mean, scale = t.indicator
                offset += weight * (0.0 - mean) / scale
                missing += weight * (1.0 - mean) / scale
        n = len(terms)
        return cls(slope / n, log_slope / n, offset / n, missing / n)


class FieldTerms:
    """A fold model additive in log-odds: ``intercept`` + Σ per-field terms, from numeric
    inputs (date parts included) through ``numeric`` and categories through ``lookups``.
    Subclasses compile the two from a fitted pipeline, then call :meth:`_measure`."""

    intercept: float
    fields: list[str]
    dates: Any
    numeric: list[tuple[str, str, Callable[[float], float]]]
    lookups: dict[str, tuple[dict[str, float], float]]
    reference: np.ndarray

    def _measure(self, background: pd.DataFrame, clean: Cleaner) -> np.ndarray:
        """Set :attr:`reference`; returns the background leads' terms ``(n, fields)``."""
        # contributions are measured against the background leads, as in batch reasons
        terms = np.array([self.terms(clean(row)) for row in background.to_dict("records")])
        self.reference = terms.mean(axis=0)
        return terms

    def _field(self, column: str) -> str:
        for field in self.fields:
            if column == field or column.startswith(field + "__"):
                return field
        return column

    def terms(self, row: Mapping[str, Any]) -> np.ndarray:
        """Per-field terms (log-odds) of one cleaned row."""
        return self.terms_of_expanded(row, self.expand(row))

    def expand(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """``row`` with its date parts and gaps as the numeric terms read them (the same
        for every fold model of one pipeline: :class:`TermsEnsemble` expands once)."""
        values = dict(row)
        for column in self.dates.columns_:
            parts = parts_of(row[column])
            for part, value in zip(PARTS, parts, strict=True):
                values[f"{column}__{part}"] = value
            reference = self.dates.reference
            if reference is not None and column != reference:
                stamp, ref = row[column], row[reference]
                gap = (stamp - ref).total_seconds() / 86400 if stamp and ref else math.nan
                values[f"{column}__days_after__{reference}"] = gap
        return values

    def terms_of_expanded(self, row: Mapping[str, Any], values: Mapping[str, Any]) -> np.ndarray:
        """Per-field terms of one cleaned ``row`` whose :meth:`expand` is ``values``."""
        out = [0.0] * len(self.fields)
        index = self._index
        for column, field, term in self.numeric:
            out[index[field]] += term(values[column])
        for column, (table, unknown) in self.lookups.items():
            value = row[column]
            out[index[column]] += table.get(MISSING if value is None else value, unknown)
        return np.array(out)

    @property
    def _index(self) -> dict[str, int]:
        index: dict[str, int] | None = self.__dict__.get("_field_index")
        if index is None:  # built once (models pickled before it existed build it here)
            index = self.__dict__["_field_index"] = {f: i for i, f in enumerate(self.fields)}
        return index


class AveragedLinearTerms(FieldTerms):
    """The fold models of one logistic regression averaged into one set of terms: the
    average of affine terms is affine, and of lookups a lookup, so a lead costs one fold
    model's arithmetic whatever the number of folds (exact up to rounding).

    Raises
    ------
    NotCompilable
        Where the fold models read different inputs.
    """

    def __init__(self, members: Sequence[LinearTerms]) -> None:
        first = members[0]
        self.fields, self.dates = first.fields, first.dates
        self.intercept = float(np.mean([m.intercept for m in members]))
        self.reference = np.mean([m.reference for m in members], axis=0)
        numeric: list[list[tuple[str, str, _NumericTerm]]] = [m.numeric for m in members]  # type: ignore[misc]
        if any(
            [(c, f) for c, f, _ in n] != [(c, f) for c, f, _ in numeric[0]] for n in numeric
        ) or any(list(m.lookups) != list(first.lookups) for m in members):
            raise NotCompilable("the fold models read different inputs")
        if any(
            list(m.dates.columns_) != list(first.dates.columns_)
            or m.dates.reference != first.dates.reference
            for m in members
        ):
            raise NotCompilable("the fold models expand dates differently")
        self.numeric = []
        for j, (column, field, _) in enumerate(first.numeric):
            averaged = _AffineTerm.average([n[j][2] for n in numeric])
            self.numeric.append((column, field, averaged))
        self.lookups = {}
        for column in first.lookups:
            tables = [m.lookups[column] for m in members]
            levels = {level for table, _ in tables for level in table}
            averaged = {
                level: float(np.mean([t.get(level, unknown) for t, unknown in tables]))
                for level in levels
            }
            self.lookups[column] = (averaged, float(np.mean([u for _, u in tables])))


class TermsEnsemble:
    """The fold models of one additive pipeline scored together, as
    :class:`~leadscore.scoring.dense.DenseModel` scores trees: each lead's terms are
    computed once per fold model and give both its log-odds and its contributions.

    Parameters
    ----------
    members:
        The fold models' compiled terms (the same fields and date columns).

    Example
    -------
    >>> from leadscore.scoring.realtime.scorer import FastScorer
    >>> scorer = FastScorer(model)  # a logistic regression: its fold models' terms
    >>> ensemble = scorer.terms
    >>> all(isinstance(m, LinearTerms) for m in ensemble.members)
    True
    >>> raw, values, base = ensemble.explain([scorer.clean(leads.iloc[0].to_dict())])
    >>> bool(np.allclose(raw, base + values.sum(axis=1)))
    True
    """

    def __init__(self, members: list[FieldTerms]) -> None:
        if not members:
            raise ValueError("a terms ensemble needs at least one fold model")
        self.members = members
        first = members[0]
        #: whether the fold models expand a row's dates alike (one expansion serves all)
        self._shared = all(
            list(m.dates.columns_) == list(first.dates.columns_)
            and m.dates.reference == first.dates.reference
            for m in members
        )
        #: the reference leads' average terms and the base log-odds, over the fold models
        self.reference = np.mean([m.reference for m in members], axis=0)
        self.base = float(np.mean([m.intercept + m.reference.sum() for m in members]))
        self._intercept = float(np.mean([m.intercept for m in members]))
        #: the fold models as one (logistic regression), or None: each in turn
        self.averaged: FieldTerms | None = None
        if len(members) > 1 and all(isinstance(m, LinearTerms) for m in members):
            with contextlib.suppress(NotCompilable):  # else each fold model in turn
                self.averaged = AveragedLinearTerms(members)  # type: ignore[arg-type]

    def _terms(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(rows, fields)``: each row's terms averaged over the fold models."""
        if self.averaged is not None:
            return np.array([self.averaged.terms(row) for row in rows])
        first = self.members[0]
        out = np.empty((len(rows), len(first.fields)))
        for i, row in enumerate(rows):
            values = first.expand(row)
            total = first.terms_of_expanded(row, values)
            for member in self.members[1:]:
                total += member.terms_of_expanded(
                    row, values if self._shared else member.expand(row)
                )
            out[i] = total / len(self.members)
        return out

    def logits(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The fold models' average log-odds of cleaned rows."""
        return self._intercept + self._terms(rows).sum(axis=1)

    def explain(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(log-odds, contributions (rows, fields), base log-odds)`` of cleaned rows; the
        contributions are terms against the reference leads' average, so that
        ``log-odds == base + contributions.sum(axis=1)``."""
        terms = self._terms(rows)
        values = terms - self.reference
        return self._intercept + terms.sum(axis=1), values, np.full(len(rows), self.base)


class LinearTerms(FieldTerms):
    """Logistic regression as intercept + Σ per-field terms (exact, and additive)."""

    def __init__(
        self, member: Any, fields: list[str], background: pd.DataFrame, clean: Cleaner
    ) -> None:
        prep, estimator = member.named_steps["prep"], member.named_steps["model"]
        self.dates = prep.named_steps["dates"]
        encode = prep.named_steps["encode"]
        coef = estimator.coef_.ravel()
        self.intercept = float(estimator.intercept_[0])
        self.fields = fields
        start = 0
        self.numeric = []
        self.lookups = {}
        for name, pipeline, columns in encode.transformers_:
            if name == "remainder":
                continue
            width = len(pipeline.get_feature_names_out(columns))
            weights = coef[start : start + width]
            start += width
            if name == "num":
                self._compile_numeric(pipeline, list(columns), weights)
            else:
                self._compile_categorical(pipeline, list(columns), weights)
        self._measure(background, clean)

    def _compile_numeric(self, pipeline: Any, columns: list[str], weights: np.ndarray) -> None:
        steps = pipeline.named_steps
        logged = set(getattr(steps.get("log"), "log_columns_", []))
        imputer, scaler = steps["impute"], steps.get("scale")
        medians = imputer.statistics_
        indicated = list(imputer.indicator_.features_) if imputer.indicator_ is not None else []
        mean = scaler.mean_ if scaler is not None else np.zeros(len(weights))
        scale = scaler.scale_ if scaler is not None else np.ones(len(weights))
        n = len(columns)
        for j, column in enumerate(columns):
            k = n + indicated.index(j) if j in indicated else None
            indicator = (
                (float(weights[k]), float(mean[k]), float(scale[k])) if k is not None else None
            )
            term = _NumericTerm(
                float(medians[j]), column in logged, float(weights[j]), float(mean[j]),
                float(scale[j]), indicator,
            )  # fmt: skip
            self.numeric.append((column, self._field(column), term))

    def _compile_categorical(self, pipeline: Any, columns: list[str], weights: np.ndarray) -> None:
        # each level's total term, from its encoded columns made by the fitted pipeline
        # itself; an unknown level gets the term of a level never seen in training
        owners = output_owners(pipeline, columns)
        for column, table, unseen in category_tables(pipeline, columns, owners):
            mine = weights[np.array([owner == column for owner in owners])]
            terms = {level: float(values @ mine) for level, values in table.items()}
            self.lookups[column] = (terms, float(unseen @ mine))


@dataclass(frozen=True)
class _BinnedTerm:
    """One numeric input's naive Bayes term: the log-likelihood ratio of its quantile bin
    (``bisect_right`` among the cut points, as ``searchsorted(side="right")`` in
    :class:`~leadscore.modeling.preprocess.QuantileBins`), or of the missing values' bin."""

    cuts: tuple[float, ...]
    terms: tuple[float, ...]  # one per bin: len(cuts) + 1
    missing: float

    def __call__(self, x: float) -> float:
        if math.isnan(x):
            return self.missing
        return self.terms[bisect.bisect_right(self.cuts, x)]


class BayesTerms(FieldTerms):
    """Naive Bayes (:class:`~leadscore.modeling.naive_bayes.BinnedNB` on the ``binned``
    encoding) as prior log-odds + Σ per-field log-likelihood ratios: a category's level
    looked up, a number's bin found among its cut points; a level or bin the model never
    counted is worth 0, as in the estimator.

    Raises
    ------
    NotCompilable
        Where the pipeline has other steps, or the terms of the reference leads differ
        from the estimator's own (the scorer then keeps to the batch path).
    """

    def __init__(
        self, member: Any, fields: list[str], background: pd.DataFrame, clean: Cleaner
    ) -> None:
        prep, estimator = member.named_steps["prep"], member.named_steps["model"]
        if list(prep.named_steps) != ["dates", "encode"]:
            raise NotCompilable(f"preprocessing steps {list(prep.named_steps)}")
        self.dates = prep.named_steps["dates"]
        self.intercept = float(estimator.intercept_)
        self.fields = fields
        self.numeric = []
        self.lookups = {}
        start = 0
        for name, pipeline, columns in prep.named_steps["encode"].transformers_:
            if name == "remainder" or pipeline == "drop":
                continue
            columns = [str(c) for c in columns]
            tables = estimator.terms_[start : start + len(columns)]
            start += len(columns)
            steps = list(pipeline.named_steps)
            if name == "num" and steps == ["bins"]:
                cuts_of = pipeline.named_steps["bins"].cuts_
                for column, cuts, table in zip(columns, cuts_of, tables, strict=True):
                    # codes 0 … len(cuts) are bins, len(cuts) + 1 the missing values'
                    codes = range(len(cuts) + 2)
                    per_code = [float(table[k]) if k < len(table) else 0.0 for k in codes]
                    bins = tuple(per_code[:-1])
                    term = _BinnedTerm(tuple(map(float, cuts)), bins, per_code[-1])
                    self.numeric.append((column, self._field(column), term))
            elif name == "cat" and steps == ["text", "encode"]:
                levels_of = pipeline.named_steps["encode"].categories_
                for column, levels, table in zip(columns, levels_of, tables, strict=True):
                    lookup = {str(v): float(table[k]) for k, v in enumerate(levels)}
                    self.lookups[column] = (lookup, 0.0)
            else:
                raise NotCompilable(f"encoding step {name!r}: {steps}")
        found = self._measure(background, clean).sum(axis=1)
        # the bins and levels are read off fitted attributes: the reference leads' terms
        # must come out as the estimator's own
        expected = estimator.column_terms(prep.transform(background)).sum(axis=1)
        if not np.allclose(found, expected, rtol=0, atol=1e-9):
            raise NotCompilable("the reference leads' terms differ from the estimator's")
