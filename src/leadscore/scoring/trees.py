"""Real-time scores and reasons for scikit-learn's tree ensembles, without pandas.

Random forests, extra trees and single decision trees (the ``tree`` encoding of
:func:`leadscore.modeling.preprocess.build_preprocessor`) score through their fitted
pipeline in the batch path: a DataFrame, the imputer, the encoders, then scikit-learn's
forest. For one lead that costs ~140 ms with a bag of five 200-tree forests, and its
occlusion reasons (:mod:`leadscore.explain.occlusion`) ~1 s.

:class:`SklearnTrees` does the same with plain numbers: :class:`DenseEncoder` builds each
fold model's encoded row from a cleaned lead (numbers imputed with the fitted medians,
missing flags, and each category's encoded columns looked up in a table made with the
fitted encoders themselves), and :class:`~leadscore.explain.occlusion.CompiledTrees`
walks all trees once. Building it checks the encoder against the fitted pipeline on the
model's reference leads and refuses (:class:`NotCompilable`) where they differ by a bit,
or where a date column's gap to the reference time ties two fields together (occlusion
swaps one field at a time): the scorer then stays on the batch path.

Example
-------
>>> trees = SklearnTrees(model, clean)  # doctest: +SKIP
>>> logits, values, base = trees.explain([clean(lead)])  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, TargetEncoder

from leadscore.explain.contributions import occlusion_effects, typical_lead
from leadscore.explain.occlusion import TREE_ESTIMATORS, CompiledTrees
from leadscore.explain.treeshap import CORES, shared_pool
from leadscore.features.dates import PARTS, part_names
from leadscore.modeling.calibration import logit
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import MISSING, output_owners

Row = Mapping[str, Any]
#: rows from which a call is split over the cores
THREADED_ROWS = 64
#: a value no category takes: what a level never seen in training is encoded as
_UNSEEN = "\x00never seen in training\x00"


class NotCompilable(ValueError):
    """The model's preprocessing has a step :class:`DenseEncoder` does not reproduce."""


def _date_parts(stamp: pd.Timestamp | None) -> list[float]:
    if stamp is None:
        return [math.nan] * len(PARTS)
    weekday = float(stamp.weekday())
    return [float(stamp.hour), weekday, float(weekday >= 5), float(stamp.month)]


class DenseEncoder:
    """One fold model's encoded row (the ``tree`` encoding) from a cleaned lead.

    Parameters
    ----------
    prep:
        The fold model's fitted ``prep`` pipeline: ``DateParts`` then a ``ColumnTransformer``
        of an imputing ``num`` part, a one-hot part and a target-encoding part.

    Raises
    ------
    NotCompilable
        For any other step (a scaler, a log), or date gaps to a reference time.
    """

    def __init__(self, prep: Any) -> None:
        if list(prep.named_steps) != ["dates", "encode"]:
            raise NotCompilable(f"preprocessing steps {list(prep.named_steps)}")
        dates = prep.named_steps["dates"]
        self.date_columns = [str(c) for c in dates.columns_]
        if dates.reference is not None and any(c != dates.reference for c in self.date_columns):
            raise NotCompilable("a date's gap to the reference time depends on two fields")
        of_part = {name: c for c in self.date_columns for name in part_names(c)}
        #: the input field behind each encoded column
        self.owners: list[str] = []
        #: the encoded row's parts in order: ("num", columns, medians, flagged) or
        #: ("cat", [(column, {level: values}, unseen values)])
        self.blocks: list[tuple[Any, ...]] = []
        for name, part, columns in prep.named_steps["encode"].transformers_:
            if name == "remainder" or part == "drop":
                continue
            columns = [str(c) for c in columns]
            steps = dict(part.steps)
            owners = output_owners(part, columns)
            if list(steps) == ["impute"] and isinstance(steps["impute"], SimpleImputer):
                imputer = steps["impute"]
                flagged = imputer.indicator_.features_ if imputer.indicator_ is not None else []
                self.blocks.append(
                    ("num", columns, np.asarray(imputer.statistics_, dtype=float),
                     np.asarray(flagged, dtype=int))
                )  # fmt: skip
            elif list(steps) in (["text", "encode"], ["text", "target"]) and isinstance(
                part.steps[-1][1], OneHotEncoder | TargetEncoder
            ):
                self.blocks.append(("cat", self._tables(part, columns, owners)))
            else:
                raise NotCompilable(f"encoding step {name!r}: {list(steps)}")
            self.owners += [of_part.get(o, o) for o in owners]
        self.width = len(self.owners)

    @staticmethod
    def _tables(
        part: Any, columns: list[str], owners: list[str]
    ) -> list[tuple[str, dict[str, np.ndarray], np.ndarray]]:
        """Each category's encoded columns for every level, missing and unseen, made by
        the fitted encoder itself in one transform (each column's levels, the others
        unseen)."""
        encoder = part.steps[-1][1]
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

    def __call__(self, row: Row, parts: dict[str, float]) -> np.ndarray:
        """The encoded row of a cleaned lead; ``parts`` holds its date parts by name."""
        out: list[np.ndarray] = []
        for block in self.blocks:
            if block[0] == "num":
                _, columns, medians, flagged = block
                x = np.array([parts[c] if c in parts else row[c] for c in columns], dtype=float)
                missing = np.isnan(x)
                out.append(np.where(missing, medians, x))
                out.append(missing[flagged].astype(float))
            else:
                for column, table, unseen in block[1]:
                    value = row[column]
                    out.append(table.get(MISSING if value is None else value, unseen))
        return np.concatenate(out) if out else np.zeros(0)

    def date_parts(self, row: Row) -> dict[str, float]:
        """The lead's date parts by column name (as ``DateParts`` names them)."""
        parts: dict[str, float] = {}
        for column in self.date_columns:
            for name, value in zip(part_names(column), _date_parts(row[column]), strict=True):
                parts[name] = value
        return parts


class SklearnTrees:
    """A lead model of scikit-learn tree ensembles, compiled for single leads.

    Gives the uncalibrated log-odds the batch path computes (:class:`FoldEnsemble`: the
    mean of the fold models' log-odds) and the occlusion contributions of
    :func:`leadscore.explain.contributions.contributions`, from cleaned leads.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel` of random forests, extra trees or decision trees.
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
        kinds = {type(m.named_steps["model"]).__name__ for m in members}
        if not kinds <= set(TREE_ESTIMATORS):
            raise NotCompilable(f"estimators {sorted(kinds)}")
        self.fields = list(model.schema_.names)
        self.encoders = [DenseEncoder(m.named_steps["prep"]) for m in members]
        offsets = np.cumsum([0] + [e.width for e in self.encoders])
        estimators = [m.named_steps["model"] for m in members]
        for encoder, estimator in zip(self.encoders, estimators, strict=True):
            if encoder.width != estimator.n_features_in_:
                raise NotCompilable(
                    f"{encoder.width} encoded columns for {estimator.n_features_in_} inputs"
                )
        self.trees = CompiledTrees.from_sklearn(estimators, list(offsets[:-1]))
        index = {f: i for i, f in enumerate(self.fields)}
        self.field_of = np.array([index[o] for e in self.encoders for o in e.owners], np.int32)
        background = model.background_
        rows = [clean(r) for r in background.to_dict("records")]
        for encoder, member in zip(self.encoders, members, strict=True):
            expected = np.asarray(member.named_steps["prep"].transform(background), dtype=float)
            found = np.array([encoder(r, encoder.date_parts(r)) for r in rows])
            if expected.shape != found.shape or not np.array_equal(expected, found, equal_nan=True):
                raise NotCompilable("the encoded reference leads differ from the pipeline's")
        # occlusion swaps each field to the typical lead's value (as the batch path)
        typical = typical_lead(background)
        self.typical = np.concatenate(
            [np.asarray(m.named_steps["prep"].transform(typical), dtype=float)[0] for m in members]
        )
        self.typical_logit = np.array(
            [logit(m.predict_proba(typical)[:, 1])[0] for m in members], dtype=float
        )

    def _matrix(self, rows: Sequence[Row]) -> np.ndarray:
        encoded = []
        for row in rows:
            parts = self.encoders[0].date_parts(row)  # every fold model's dates are the same
            encoded.append(np.concatenate([e(row, parts) for e in self.encoders]))
        return np.array(encoded).reshape(len(rows), self.trees.n_columns)

    def _split(self, rows: Sequence[Row]) -> dict[str, Any]:
        return {"pool": shared_pool(), "parts": CORES} if len(rows) >= THREADED_ROWS else {}

    def logits(self, rows: Sequence[Row]) -> np.ndarray:
        """Uncalibrated log-odds ``(n,)`` of cleaned leads."""
        proba = self.trees.proba(self._matrix(rows), **self._split(rows))
        return logit(proba).mean(axis=1)

    def explain(self, rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Uncalibrated log-odds ``(n,)``, per-field contributions ``(n, n_fields)`` and
        base ``(n,)`` of cleaned leads, as the batch path's occlusion gives them."""
        proba, swapped = self.trees.occlude(
            self._matrix(rows), self.typical, self.field_of, len(self.fields),
            **self._split(rows),
        )  # fmt: skip
        own = logit(proba)  # (n, members)
        effects = occlusion_effects(own, logit(swapped), self.typical_logit[None, :])
        base = np.full(len(rows), self.typical_logit.mean())
        return own.mean(axis=1), effects.mean(axis=1), base
