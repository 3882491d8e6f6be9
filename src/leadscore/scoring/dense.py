"""Real-time scores and reasons for the models that read an encoded row of numbers.

Random forests, extra trees, decision trees and the MLP read the output of
the ``tree`` or ``linear`` encoding of :func:`leadscore.modeling.preprocess.build_preprocessor`.
The batch path gets there through the fitted pipeline: a DataFrame, the log, the imputer,
the encoders, the scaler. For one lead that costs far more than the model itself, and its
occlusion reasons (one prediction per field) that many times over.

:class:`DenseModel` does the same with plain numbers. :class:`DenseEncoder` builds each
fold model's encoded row from a cleaned lead: numbers logged, imputed and scaled with the
fitted statistics, missing flags, and each category's encoded columns looked up in a table
made with the fitted encoders themselves. Histogram gradient boosting reads the ``native``
encoding instead; :class:`HistEncoder` gives its trees their own category codes. The rows
then go either to :class:`~leadscore.scoring.occlusion.CompiledTrees`, which walks all of a
bag's trees in one numba kernel (histogram boosting's categorical splits included), or to
the fold models' own estimators on a numpy array. Occlusion swaps a field's encoded
columns for the typical lead's: every encoded column is computed from one field, so that
is the encoding of the swapped lead.

Building a :class:`DenseModel` checks the encoder against the fitted pipeline on the
model's reference leads and refuses (:class:`NotCompilable`) where they differ by a bit,
or where a date column's gap to the reference time ties two fields together: the scorer
then stays on the batch path.

Example
-------
>>> from leadscore.scoring.realtime.cleaning import Cleaner
>>> clean = Cleaner(model)  # raw request values → typed values, as the scorer's
>>> dense = DenseModel(model, clean)  # the logistic regression reads the linear encoding
>>> lead = {"source": "google", "visits": 3}
>>> logits, values, base = dense.explain([clean(lead)])
>>> row = pd.DataFrame([lead]).reindex(columns=model.schema_.names)
>>> bool(np.allclose(logits, logit(model.predict_raw(row)))), values.shape  # one per field
(True, (1, 11))
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer

from leadscore.features.dates import part_names, parts_of
from leadscore.modeling.calibration import logit
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import MISSING, OTHER, output_owners
from leadscore.scoring.contributions import estimator_inputs, occlusion_effects, typical_lead
from leadscore.scoring.occlusion import (
    TREE_ESTIMATORS,
    CompiledTrees,
    plain_estimator,
    swap_fields,
)
from leadscore.scoring.treeshap.pool import CORES, shared_pool

Row = Mapping[str, Any]
#: rows from which a call is split over the cores
THREADED_ROWS = 64
#: leads whose swapped rows go to the estimators at once
SWAP_CHUNK = 64
#: a value no category takes: what a level never seen in training is encoded as
_UNSEEN = "\x00never seen in training\x00"


class NotCompilable(ValueError):
    """The model's preprocessing has a step :class:`DenseEncoder` does not reproduce."""


#: the numeric part's steps the encoder reproduces, in the order they run
_NUMERIC_STEPS = (["impute"], ["log", "impute", "scale"], ["impute", "scale"], ["log", "impute"])
#: the category parts' steps (their encoded columns are looked up, whatever the steps do)
_CATEGORY_STEPS = (["text", "encode"], ["text", "target"], ["text", "target", "scale"])


def category_tables(
    part: Any, columns: list[str], owners: list[str]
) -> list[tuple[str, dict[str, np.ndarray], np.ndarray]]:
    """Each category's encoded columns for every level, for a missing value and for a
    level never seen in training, made by the fitted part itself (one-hot or target
    encoding, then any scaling): ``[(column, {level: values}, unseen values)]``.

    One probe frame for all columns (each column's levels, the others unseen): one
    transform, not one per column, since this runs while a reloading service answers."""
    encoder = next(step for _, step in part.steps if hasattr(step, "categories_"))
    blocks, levels_of = [], []
    for position, column in enumerate(columns):
        levels = [str(v) for v in encoder.categories_[position]]
        levels_of.append(levels)
        block = pd.DataFrame({c: [_UNSEEN] * (len(levels) + 2) for c in columns})
        block[column] = [*levels, None, _UNSEEN]
        blocks.append(block)
    encoded = np.asarray(part.transform(pd.concat(blocks, ignore_index=True)), dtype=float)
    tables, start = [], 0
    for column, levels in zip(columns, levels_of, strict=True):
        mine = np.array([o == column for o in owners])
        rows = encoded[start : start + len(levels) + 2][:, mine]
        start += len(levels) + 2
        table = {level: rows[i].copy() for i, level in enumerate(levels)}
        table[MISSING] = rows[-2].copy()
        tables.append((column, table, rows[-1].copy()))
    return tables


@dataclass(frozen=True)
class _Numbers:
    """The numeric part: inputs, which are logged, the imputer's fill values, which get
    a missing flag, and the scaler's statistics (none: not scaled)."""

    columns: list[str]
    logged: np.ndarray  # bool per input
    medians: np.ndarray
    flagged: np.ndarray  # int: inputs with a missing flag, in flag order
    mean: np.ndarray | None  # per output column (inputs, then flags)
    scale: np.ndarray | None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.logged.any():
            x = np.where(self.logged, np.log1p(np.maximum(x, 0.0)), x)
        missing = np.isnan(x)
        out = np.concatenate([np.where(missing, self.medians, x), missing[self.flagged]])
        if self.mean is not None and self.scale is not None:
            out = (out - self.mean) / self.scale
        return out


class DenseEncoder:
    """One fold model's encoded row (the ``tree`` or ``linear`` encoding) from a cleaned
    lead.

    Parameters
    ----------
    prep:
        The fold model's fitted ``prep`` pipeline: ``DateParts`` then a ``ColumnTransformer``
        of a numeric part (log, impute, scale), a one-hot part and a target-encoding part.

    Raises
    ------
    NotCompilable
        For any other step, or date gaps to a reference time.
    """

    def __init__(self, prep: Any) -> None:
        if list(prep.named_steps) != ["dates", "encode"]:
            raise NotCompilable(f"preprocessing steps {list(prep.named_steps)}")
        dates = prep.named_steps["dates"]
        _no_gaps(dates)
        self.date_columns = [str(c) for c in dates.columns_]
        of_part = {name: c for c in self.date_columns for name in part_names(c)}
        #: the input field behind each encoded column
        self.owners: list[str] = []
        #: the encoded row's parts in order: ("num", _Numbers) or
        #: ("cat", [(column, {level: values}, unseen values)])
        self.blocks: list[tuple[Any, ...]] = []
        for name, part, columns in prep.named_steps["encode"].transformers_:
            if name == "remainder" or part == "drop":
                continue
            columns = [str(c) for c in columns]
            steps = dict(part.steps)
            owners = output_owners(part, columns)
            if list(steps) in _NUMERIC_STEPS and isinstance(steps["impute"], SimpleImputer):
                self.blocks.append(("num", self._numbers(steps, columns)))
            elif list(steps) in _CATEGORY_STEPS:
                self.blocks.append(("cat", category_tables(part, columns, owners)))
            else:
                raise NotCompilable(f"encoding step {name!r}: {list(steps)}")
            self.owners += [of_part.get(o, o) for o in owners]
        self.width = len(self.owners)

    @staticmethod
    def _numbers(steps: dict[str, Any], columns: list[str]) -> _Numbers:
        imputer, scaler = steps["impute"], steps.get("scale")
        logged = set(getattr(steps.get("log"), "log_columns_", []))
        flagged = imputer.indicator_.features_ if imputer.indicator_ is not None else []
        if scaler is not None and not (scaler.with_mean and scaler.with_std):
            raise NotCompilable("a scaler without centring or scaling")
        return _Numbers(
            columns,
            np.array([c in logged for c in columns], dtype=bool),
            np.asarray(imputer.statistics_, dtype=float),
            np.asarray(flagged, dtype=int),
            None if scaler is None else np.asarray(scaler.mean_, dtype=float),
            None if scaler is None else np.asarray(scaler.scale_, dtype=float),
        )

    def __call__(self, row: Row, parts: dict[str, float]) -> np.ndarray:
        """The encoded row of a cleaned lead; ``parts`` holds its date parts by name."""
        out: list[np.ndarray] = []
        for block in self.blocks:
            if block[0] == "num":
                numbers = block[1]
                x = [parts[c] if c in parts else row[c] for c in numbers.columns]
                out.append(numbers(np.array(x, dtype=float)))
            else:
                for column, table, unseen in block[1]:
                    value = row[column]
                    out.append(table.get(MISSING if value is None else value, unseen))
        return np.concatenate(out) if out else np.zeros(0)


def date_parts(row: Row, date_columns: Sequence[str]) -> dict[str, float]:
    """A cleaned lead's date parts by column name (as ``DateParts`` names them)."""
    parts: dict[str, float] = {}
    for column in date_columns:
        for name, value in zip(part_names(column), parts_of(row[column]), strict=True):
            parts[name] = value
    return parts


def _no_gaps(dates: Any) -> None:
    if dates.has_gaps:
        raise NotCompilable("a date's gap to the reference time depends on two fields")


class HistEncoder:
    """One fold model's row for histogram gradient boosting on the ``native`` encoding:
    numbers and date parts as they are, categories as the booster's own codes (the levels
    it saw in training, in sorted order; any other level is missing to it), its
    categorical columns first, as its own preprocessing orders them.

    Parameters
    ----------
    prep:
        The fold model's fitted ``prep`` pipeline: ``DateParts`` then a ``CategoryCoder``.
    estimator:
        Its fitted ``HistGradientBoostingClassifier``.
    """

    def __init__(self, prep: Any, estimator: Any) -> None:
        if list(prep.named_steps) != ["dates", "categories"]:
            raise NotCompilable(f"preprocessing steps {list(prep.named_steps)}")
        dates, coder = prep.named_steps["dates"], prep.named_steps["categories"]
        _no_gaps(dates)
        if coder.output != "category":
            raise NotCompilable(f"categories as {coder.output}")
        self.date_columns = [str(c) for c in dates.columns_]
        of_part = {name: c for c in self.date_columns for name in part_names(c)}
        inputs = [str(c) for c in dates.get_feature_names_out()]
        self.levels = {column: set(levels) for column, levels in coder.levels_.items()}
        categorical = np.zeros(len(inputs), dtype=bool)
        if estimator.is_categorical_ is not None:
            categorical = np.asarray(estimator.is_categorical_, dtype=bool)
        if len(categorical) != len(inputs) or {
            c for c, k in zip(inputs, categorical, strict=True) if k
        } != set(self.levels):
            raise NotCompilable("the booster's categorical columns are not the coder's")
        #: the booster's column order: categorical columns first (its preprocessing's)
        self.order = [*np.flatnonzero(categorical), *np.flatnonzero(~categorical)]
        self.columns = [inputs[j] for j in self.order]
        self.codes: dict[str, dict[str, float]] = {}
        if categorical.any():
            ordinal = estimator._preprocessor.named_transformers_["encoder"]
            named = self.columns[: len(ordinal.categories_)]
            for column, seen in zip(named, ordinal.categories_, strict=True):
                self.codes[column] = {str(level): float(i) for i, level in enumerate(seen)}
        self.owners = [of_part.get(c, c) for c in self.columns]
        self.width = len(self.columns)

    def __call__(self, row: Row, parts: dict[str, float]) -> np.ndarray:
        """The booster's row for a cleaned lead; ``parts`` holds its date parts by name."""
        out = np.empty(self.width)
        for i, column in enumerate(self.columns):
            codes = self.codes.get(column)
            if codes is None:
                out[i] = parts[column] if column in parts else row[column]
                continue
            value = row[column]
            level = MISSING if value is None else value
            if level not in self.levels[column]:
                level = OTHER
            out[i] = codes.get(level, math.nan)
        return out


def _encoder(member: Any) -> DenseEncoder | HistEncoder:
    prep, estimator = member.named_steps["prep"], member.named_steps["model"]
    if "encode" in prep.named_steps:
        return DenseEncoder(prep)
    if type(estimator).__name__ == "HistGradientBoostingClassifier":
        return HistEncoder(prep, estimator)
    raise NotCompilable(f"{type(estimator).__name__} on steps {list(prep.named_steps)}")


class DenseModel:
    """A lead model whose fold models read an encoded row of numbers, for single leads.

    Gives the uncalibrated log-odds the batch path computes (:class:`FoldEnsemble`: the
    mean of the fold models' log-odds) and the occlusion contributions of
    :func:`leadscore.scoring.contributions.contributions`, from cleaned leads. Tree
    ensembles run compiled (:attr:`trees`); other estimators get numpy arrays.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel` on the ``tree`` or ``linear`` encoding.
    clean:
        The scorer's cleaner (raw request values → typed values), used to check the
        encoder on the model's reference leads.

    Raises
    ------
    NotCompilable
        Where the encoder cannot reproduce the fitted pipeline exactly.
    """

    def __init__(self, model: LeadModel, clean: Callable[[Row], dict[str, Any]]) -> None:
        pipeline = model.pipeline_
        members = pipeline.members_ if isinstance(pipeline, FoldEnsemble) else [pipeline]
        self.bagged = isinstance(pipeline, FoldEnsemble)
        self.fields = list(model.schema_.names)
        self.encoders = [_encoder(m) for m in members]
        estimators = [m.named_steps["model"] for m in members]
        for encoder, estimator in zip(self.encoders, estimators, strict=True):
            if encoder.width != getattr(estimator, "n_features_in_", None):
                raise NotCompilable(f"{encoder.width} encoded columns for {estimator}")
        offsets = np.cumsum([0] + [e.width for e in self.encoders])
        self.spans = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(offsets)]
        self.width = int(offsets[-1])
        kinds = {type(e).__name__ for e in estimators}
        #: the compiled trees, or None: then the estimators are called
        self.trees: CompiledTrees | None = None
        self.estimators: list[Any] = []
        if kinds <= set(TREE_ESTIMATORS):
            self.trees = CompiledTrees.from_sklearn(estimators, list(offsets[:-1]))
        elif kinds == {"HistGradientBoostingClassifier"}:
            self.trees = CompiledTrees.from_hist_gradient_boosting(estimators, list(offsets[:-1]))
        elif any(isinstance(e, HistEncoder) for e in self.encoders):
            raise NotCompilable(f"estimators {sorted(kinds)}")
        else:
            self.estimators = [plain_estimator(e) for e in estimators]
        index = {f: i for i, f in enumerate(self.fields)}
        self.field_of = np.array([index[o] for e in self.encoders for o in e.owners], np.int32)
        background = model.background_
        rows = [clean(r) for r in background.to_dict("records")]
        for encoder, member in zip(self.encoders, members, strict=True):
            expected, _ = estimator_inputs(member, background)
            found = np.array([encoder(r, date_parts(r, encoder.date_columns)) for r in rows])
            if expected.shape != found.shape or not np.array_equal(expected, found, equal_nan=True):
                raise NotCompilable("the encoded reference leads differ from the pipeline's")
        # occlusion swaps each field to the typical lead's value (as the batch path)
        typical = typical_lead(background)
        self.typical = np.concatenate([estimator_inputs(m, typical)[0][0] for m in members])
        self.typical_logit = np.array(
            [logit(m.predict_proba(typical)[:, 1])[0] for m in members], dtype=float
        )
        # the trees are read off fitted attributes (some of them private): the reference
        # leads' probabilities must come out as the pipelines give them
        found = self._proba(self._matrix(rows))
        expected = np.column_stack([m.predict_proba(background)[:, 1] for m in members])
        if not np.allclose(found, expected, rtol=0, atol=1e-12):
            raise NotCompilable("the reference leads' probabilities differ from the pipeline's")

    def _matrix(self, rows: Sequence[Row]) -> np.ndarray:
        encoded = []
        for row in rows:
            # every fold model's dates are the same
            parts = date_parts(row, self.encoders[0].date_columns)
            encoded.append(np.concatenate([e(row, parts) for e in self.encoders]))
        return np.array(encoded).reshape(len(rows), self.width)

    def _split(self, rows: Sequence[Row]) -> dict[str, Any]:
        return {"pool": shared_pool(), "parts": CORES} if len(rows) >= THREADED_ROWS else {}

    def _proba(self, matrix: np.ndarray) -> np.ndarray:
        """Each fold model's probability ``(n, members)`` of encoded rows."""
        if self.trees is not None:
            return self.trees.proba(matrix, **self._split(matrix))
        return np.column_stack(
            [
                e.predict_proba(matrix[:, lo:hi])[:, 1]
                for e, (lo, hi) in zip(self.estimators, self.spans, strict=True)
            ]
        )

    def _occlude(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each fold model's probability of the rows ``(n, members)`` and of the rows with
        one field at a time taking the typical lead's encoded columns ``(n, members,
        fields)``: one estimator call per fold model for a few leads and their swaps
        (each lead's are ``fields × columns`` floats)."""
        n_fields, own, swaps = len(self.fields), [], []
        for start in range(0, len(matrix), SWAP_CHUNK):
            chunk = matrix[start : start + SWAP_CHUNK]
            swapped = swap_fields(chunk, self.typical, self.field_of, n_fields)
            proba = self._proba(np.vstack([chunk, swapped.reshape(-1, self.width)]))
            own.append(proba[: len(chunk)])
            rest = proba[len(chunk) :].reshape(len(chunk), n_fields, -1)
            swaps.append(rest.transpose(0, 2, 1))
        members = len(self.spans)
        if not own:
            return np.zeros((0, members)), np.zeros((0, members, n_fields))
        return np.concatenate(own), np.concatenate(swaps)

    def _bag(self, own: np.ndarray) -> np.ndarray:
        """The bag's log-odds from its fold models' ``(n, members)``, as the batch path
        has them: :class:`FoldEnsemble` turns their mean into a probability, which the
        calibrator turns back (near 0 or 1, for a very confident model, not to the same value)."""
        mean = own.mean(axis=1)
        return logit(1.0 / (1.0 + np.exp(-mean))) if self.bagged else mean

    def logits(self, rows: Sequence[Row]) -> np.ndarray:
        """Uncalibrated log-odds ``(n,)`` of cleaned leads."""
        return self._bag(logit(self._proba(self._matrix(rows))))

    def explain(self, rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Uncalibrated log-odds ``(n,)``, per-field contributions ``(n, n_fields)`` and
        base ``(n,)`` of cleaned leads, as the batch path's occlusion gives them."""
        matrix = self._matrix(rows)
        if self.trees is not None:
            proba, swapped = self.trees.occlude(
                matrix, self.typical, self.field_of, len(self.fields), **self._split(rows)
            )
        else:
            proba, swapped = self._occlude(matrix)
        own = logit(proba)  # (n, members)
        effects = occlusion_effects(own, logit(swapped), self.typical_logit[None, :])
        base = np.full(len(rows), self.typical_logit.mean())
        return self._bag(own), effects.mean(axis=1), base
