"""A lead model's probabilities for whole batches of leads, through the compiled path.

The batch path runs every lead through the fitted scikit-learn pipeline on pandas: for a
LightGBM bag, most of its time is pandas and LightGBM's own conversion, not trees. The
real-time scorer (:mod:`leadscore.scoring.realtime`) compiled the same models for single
leads: the encoders that read a cleaned lead as each fold model's row of numbers
(:class:`~leadscore.scoring.realtime.cleaning.NativeEncoder` for the boosters,
:class:`~leadscore.scoring.dense.DenseEncoder` and
:class:`~leadscore.scoring.dense.HistEncoder` for the other families) and the numba kernels
that walk the trees (:class:`~leadscore.scoring.treeshap.forest.CompiledForest`,
:class:`~leadscore.scoring.occlusion.CompiledTrees`).

:class:`CompiledBatch` applies those encoders to whole columns (:mod:`.arrow_inputs`:
one lookup per distinct category, numpy for numbers and dates) and runs the kernels over
the batch on every core. Each fold model's probability is what its pipeline gives, and
the bag, the calibration and their rounding are the pipeline's own formulas — the
LightGBM boosters are compiled one by one for that (the real-time forest averages their
raw scores, which differs where a fold model's probability is clipped).

Families: LightGBM; logistic regression (its terms, summed by
:class:`~leadscore.scoring.linear_batch.LinearKernel`); the MLP, random forests, extra
trees, decision trees and histogram gradient boosting (through
:class:`~leadscore.scoring.dense.DenseModel`). Others — XGBoost, CatBoost, naive Bayes, a
model whose encoder the compiler refuses — raise :class:`NotCompilable`, and batch scoring
uses the pipeline. Building one checks it against the pipeline on the model's reference
leads and refuses where a probability differs by more than ``1e-12``.

Example
-------
>>> import pyarrow as pa
>>> compiled = CompiledBatch(model)  # a logistic regression
>>> batch = pa.RecordBatch.from_pandas(leads.head(50), preserve_index=False)
>>> p = compiled.proba(read_inputs(batch, model.schema_))
>>> bool(np.abs(p - model.predict_proba(leads.head(50))[:, 1]).max() < 1e-12)
True
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pyarrow as pa
from scipy.special import expit

from leadscore.modeling.calibration import EPS, LogitCalibrator, logit
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.families import family
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import MISSING, OTHER
from leadscore.scoring.arrow_inputs import DAY_NS, NAT, InputColumns, read_inputs
from leadscore.scoring.dense import DenseEncoder, DenseModel, HistEncoder, NotCompilable
from leadscore.scoring.linear_batch import LinearKernel, calibrated
from leadscore.scoring.realtime.cleaning import Cleaner, NativeEncoder
from leadscore.scoring.treeshap.forest import CompiledForest
from leadscore.scoring.treeshap.pool import CORES, shared_pool

#: the largest difference from the pipeline's probability a compiled model may show on the
#: reference leads
TOLERANCE = 1e-12
#: rows from which a kernel call is split over the cores
THREADED_ROWS = 256


@numba.njit(cache=True, nogil=True)
def _date_parts(ns: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[:, i]``: hour, weekday, weekend and month of ``ns[i]`` (UTC), NaN for NaT."""
    hour_ns = 3600 * 10**9
    for i in range(len(ns)):
        if ns[i] == NAT:
            out[0, i] = out[1, i] = out[2, i] = out[3, i] = np.nan
            continue
        days = ns[i] // DAY_NS  # floor, as numpy's for negative times too
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        # the month of a day number (the proleptic Gregorian calendar's 400-year cycle)
        z = days + 719468
        era = z // 146097
        day_of_era = z - era * 146097
        year_of_era = (
            day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
        ) // 365
        day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
        shifted = (5 * day_of_year + 2) // 153  # months from March
        out[0, i] = (ns[i] - days * DAY_NS) // hour_ns
        out[1, i] = weekday
        out[2, i] = 1.0 if weekday >= 5 else 0.0
        out[3, i] = shifted + 3 if shifted < 10 else shifted - 9


def date_parts(inputs: InputColumns, columns: list[str]) -> dict[str, np.ndarray]:
    """Each date column's parts by name (``created__hour`` …), as ``DateParts`` computes
    them: hour, weekday (Monday 0), weekend flag and month; NaN where the date is missing."""
    parts: dict[str, np.ndarray] = {}
    for column in columns:
        names = [f"{column}__{part}" for part in ("hour", "weekday", "weekend", "month")]
        if names[0] not in inputs.derived:  # else another fold model's, the same
            values = np.empty((4, inputs.rows))
            _date_parts(inputs.dates[column], values)
            inputs.derived.update(zip(names, values, strict=True))
        parts.update({name: inputs.derived[name] for name in names})
    return parts


def _days_between(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """``(later - earlier).dt.total_seconds() / 86400`` as pandas computes it; NaN where
    either is missing."""
    gone = (later == NAT) | (earlier == NAT)
    whole, rest = np.divmod(np.where(gone, 0, later - earlier), 10**9)
    return np.where(gone, np.nan, (whole + rest / 1e9) / 86400)


def _coded(inputs: InputColumns, column: str, codes: dict[str, float], other: float) -> np.ndarray:
    """A category column as codes: ``codes[value]``, ``other`` for any other value, and the
    code of ``__missing__`` for a missing one."""
    levels = inputs.levels[column]
    table = np.array([codes.get(v, other) if v is not None else np.nan for v in levels.values])
    return levels.lookup(table, np.float64(codes.get(MISSING, other)))


def native_rows(encoder: NativeEncoder, inputs: InputColumns) -> np.ndarray:
    """:class:`NativeEncoder`'s rows for a whole batch: ``(n, columns)``."""
    out = []
    for column in encoder.plain:
        codes = encoder.codes.get(column)
        if codes is None:
            out.append(inputs.numbers[column])
        else:
            out.append(_coded(inputs, column, codes, codes[OTHER]))
    parts = date_parts(inputs, encoder.date_columns)
    reference = encoder.reference
    for column in encoder.date_columns:
        out.extend(parts[f"{column}__{p}"] for p in ("hour", "weekday", "weekend", "month"))
        if reference is not None and column != reference:
            out.append(_days_between(inputs.dates[column], inputs.dates[reference]))
    return np.column_stack(out) if out else np.zeros((inputs.rows, 0))


def _numbers_block(numbers: Any, inputs: InputColumns, parts: dict[str, np.ndarray]) -> np.ndarray:
    """The numeric part of :class:`DenseEncoder` (its ``_Numbers``) on whole columns:
    logged, imputed with missing flags, scaled."""
    key = ("numbers", tuple(numbers.columns))
    x = inputs.derived.get(key)
    if x is None:  # the same columns for every fold model: stacked once
        x = np.column_stack(
            [parts[c] if c in parts else inputs.numbers[c] for c in numbers.columns]
        ).reshape(inputs.rows, len(numbers.columns))
        inputs.derived[key] = x
    if numbers.logged.any():
        x = np.where(numbers.logged, np.log1p(np.maximum(x, 0.0)), x)
    missing = np.isnan(x)
    encoded = np.concatenate(
        [np.where(missing, numbers.medians, x), missing[:, numbers.flagged]], axis=1
    )
    if numbers.mean is not None and numbers.scale is not None:
        encoded = (encoded - numbers.mean) / numbers.scale
    return encoded


def dense_rows(encoder: DenseEncoder, inputs: InputColumns) -> np.ndarray:
    """:class:`DenseEncoder`'s rows for a whole batch: ``(n, columns)``."""
    parts = date_parts(inputs, encoder.date_columns)
    out = []
    for block in encoder.blocks:
        if block[0] == "num":
            out.append(_numbers_block(block[1], inputs, parts))
            continue
        for column, table, unseen in block[1]:
            levels = inputs.levels[column]
            rows = [table.get(v, unseen) if v is not None else unseen for v in levels.values]
            values = np.array(rows).reshape(len(rows), len(unseen))
            out.append(levels.lookup(values, table[MISSING]))
    return np.concatenate(out, axis=1) if out else np.zeros((inputs.rows, 0))


def hist_rows(encoder: HistEncoder, inputs: InputColumns) -> np.ndarray:
    """:class:`HistEncoder`'s rows for a whole batch: ``(n, columns)``."""
    parts = date_parts(inputs, encoder.date_columns)
    out = []
    for column in encoder.columns:
        codes = encoder.codes.get(column)
        if codes is None:
            out.append(parts[column] if column in parts else inputs.numbers[column])
            continue
        seen = encoder.levels[column]
        table = {level: codes.get(level, np.nan) for level in seen}
        out.append(_coded(inputs, column, table, codes.get(OTHER, np.nan)))
    return np.column_stack(out) if out else np.zeros((inputs.rows, 0))


class _LightGBMMember:
    """One LightGBM fold model: its encoder and its own compiled booster."""

    def __init__(self, member: Any) -> None:
        self.encoder = NativeEncoder(member.named_steps["prep"])
        self.forest = CompiledForest.from_lightgbm([member.named_steps["model"].booster_])

    def proba(self, inputs: InputColumns) -> np.ndarray:
        rows = native_rows(self.encoder, inputs)
        split = {"pool": shared_pool(), "parts": CORES} if len(rows) >= THREADED_ROWS else {}
        raw = self.forest.raw(rows, **split)
        return 1.0 / (1.0 + np.exp(-raw))  # LightGBM's sigmoid


class _LinearMember:
    """One logistic regression fold model as its terms: the numbers' block times its
    weights, and one looked-up term per category level (its encoded columns times their
    weights), never the one-hot matrix itself."""

    def __init__(self, encoder: DenseEncoder, estimator: Any) -> None:
        self.encoder = encoder
        coef = np.asarray(estimator.coef_, dtype=np.float64).ravel()
        self.intercept = float(np.asarray(estimator.intercept_).ravel()[0])
        self.terms: list[tuple[Any, ...]] = []
        start = 0
        for block in encoder.blocks:
            if block[0] == "num":
                width = len(block[1].columns) + len(block[1].flagged)
                self.terms.append(("num", block[1], coef[start : start + width]))
                start += width
                continue
            for column, table, unseen in block[1]:
                weights = coef[start : start + len(unseen)]
                start += len(unseen)
                levels = {level: float(values @ weights) for level, values in table.items()}
                self.terms.append(("cat", column, levels, float(unseen @ weights)))
        if start != len(coef):
            raise NotCompilable(f"{start} encoded columns for {len(coef)} weights")

    def proba(self, inputs: InputColumns) -> np.ndarray:
        parts = date_parts(inputs, self.encoder.date_columns)
        total = np.zeros(inputs.rows)
        for term in self.terms:
            if term[0] == "num":
                # a column at a time, not a matrix product: BLAS may sum a row's terms in
                # another order by its place in the batch, and a lead's score must not
                # depend on the batch it came in
                block = _numbers_block(term[1], inputs, parts)
                for j, weight in enumerate(term[2]):
                    total += block[:, j] * weight
                continue
            _, column, levels, unseen = term
            found = inputs.levels[column]
            table = np.array([levels.get(v, unseen) for v in found.values], dtype=np.float64)
            total += found.lookup(table, np.float64(levels[MISSING]))
        return np.asarray(expit(total + self.intercept))  # as LogisticRegression.predict_proba


class CompiledBatch:
    """A fitted :class:`LeadModel`'s calibrated probabilities for batches of leads (Arrow
    record batches, read by :func:`~leadscore.scoring.arrow_inputs.read_inputs`), compiled.

    Parameters
    ----------
    model:
        A fitted lead model of a compilable family (see the module docstring).
    check:
        Compare with the pipeline on the model's reference leads now (``False``: the
        caller runs :meth:`check` before it trusts a probability, e.g. beside other work).

    Raises
    ------
    NotCompilable
        For other families, or where the compiled probabilities of the model's reference
        leads differ from the pipeline's.
    """

    def __init__(self, model: LeadModel, *, check: bool = True) -> None:
        self.model = model
        pipeline = model.pipeline_
        self.bagged = isinstance(pipeline, FoldEnsemble)
        members = pipeline.members_ if self.bagged else [pipeline]
        kind = family(model.model)
        self.lightgbm: list[_LightGBMMember] = []
        self.dense: DenseModel | None = None
        self.linear: list[_LinearMember] = []
        if kind.library == "lightgbm":
            self.lightgbm = [_LightGBMMember(m) for m in members]
        elif kind.realtime in ("linear", "dense") and kind.encoding in ("linear", "tree", "native"):
            estimators = [m.named_steps["model"] for m in members]
            preps = [m.named_steps["prep"] for m in members]
            if all(type(e).__name__ == "LogisticRegression" for e in estimators) and all(
                "encode" in p.named_steps for p in preps
            ):
                # the terms alone: DenseModel's single-lead checks and explanation tables
                # cost a second at start-up, and _check compares with the pipeline anyway
                self.linear = [
                    _LinearMember(DenseEncoder(prep), estimator)
                    for prep, estimator in zip(preps, estimators, strict=True)
                ]
            else:
                self.dense = DenseModel(model, Cleaner(model))
        else:
            raise NotCompilable(f"{kind.label} has no compiled batch form")
        #: the logistic regressions' terms in one compiled pass (their numpy ``proba`` is
        #: the reference it is tested against)
        self.kernel = LinearKernel([m.terms for m in self.linear]) if self.linear else None
        if check:
            self.check()

    def check(self) -> None:
        """Raise :class:`NotCompilable` where a reference lead's compiled probability
        differs from the pipeline's by more than :data:`TOLERANCE` (safe to run beside
        scoring: it shares no state with :meth:`proba`'s other calls)."""
        background = self.model.background_
        batch = pa.RecordBatch.from_pandas(background, preserve_index=False)
        found = self.proba(read_inputs(batch, self.model.schema_))
        expected = self.model.predict_proba(background)[:, 1]
        if not np.allclose(found, expected, rtol=0, atol=TOLERANCE):
            worst = float(np.abs(found - expected).max())
            raise NotCompilable(f"reference leads' scores off the pipeline's by {worst}")

    def _linear_sums(self, inputs: InputColumns) -> np.ndarray:
        """The logistic regressions' sums of terms ``(n, members)`` (:attr:`kernel`)."""
        assert self.kernel is not None
        dates = list(dict.fromkeys(c for m in self.linear for c in m.encoder.date_columns))
        return self.kernel.log_odds(inputs, date_parts(inputs, dates))

    def members_proba(self, inputs: InputColumns) -> np.ndarray:
        """Each fold model's probability ``(n, members)``, as its pipeline's
        ``predict_proba``."""
        if self.kernel is not None:
            sums = self._linear_sums(inputs)
            # as each member's LogisticRegression.predict_proba
            return np.column_stack(
                [expit(sums[:, k] + m.intercept) for k, m in enumerate(self.linear)]
            )
        if self.lightgbm:
            return np.column_stack([m.proba(inputs) for m in self.lightgbm])
        dense = self.dense
        assert dense is not None
        matrix = self.encoded_rows(inputs)
        if dense.trees is not None:
            if len(matrix) >= THREADED_ROWS:
                return dense.trees.proba(matrix, shared_pool(), CORES)
            return dense.trees.proba(matrix)
        return np.column_stack(
            [
                e.predict_proba(matrix[:, lo:hi])[:, 1]
                for e, (lo, hi) in zip(dense.estimators, dense.spans, strict=True)
            ]
        )

    def encoded_rows(self, inputs: InputColumns | pa.Table | pa.RecordBatch) -> np.ndarray:
        """Every fold model's encoded rows side by side ``(n, columns)``, as the compiled
        kernels read them."""
        if not isinstance(inputs, InputColumns):
            batch = inputs.combine_chunks() if isinstance(inputs, pa.Table) else inputs
            if isinstance(batch, pa.Table):
                batch = batch.to_batches()[0]
            inputs = read_inputs(batch, self.model.schema_)
        if self.lightgbm:
            return np.hstack([native_rows(m.encoder, inputs) for m in self.lightgbm])
        if self.linear:
            encoders: list[Any] = [m.encoder for m in self.linear]
        else:
            assert self.dense is not None
            encoders = list(self.dense.encoders)
        blocks = [
            dense_rows(e, inputs) if isinstance(e, DenseEncoder) else hist_rows(e, inputs)
            for e in encoders
        ]
        return np.hstack(blocks).reshape(inputs.rows, sum(e.width for e in encoders))

    def proba(self, inputs: InputColumns) -> np.ndarray:
        """Calibrated probabilities ``(n,)``: the fold models' log-odds averaged as
        :class:`FoldEnsemble` averages them, then the calibration."""
        calibrator = self.model.calibrator_
        if self.kernel is not None and type(calibrator) is LogitCalibrator:
            sums = self._linear_sums(inputs)
            intercepts = np.array([m.intercept for m in self.linear])
            return calibrated(
                sums, intercepts, self.bagged, calibrator.slope_, calibrator.intercept_, EPS
            )
        own = self.members_proba(inputs)
        if self.bagged:
            z = np.mean([logit(own[:, k]) for k in range(own.shape[1])], axis=0)
            p = 1.0 / (1.0 + np.exp(-z))
        else:
            p = own[:, 0]
        return np.asarray(self.model.calibrator_.transform(p), dtype=np.float64)

    def trees_only(self, rows: np.ndarray) -> np.ndarray:
        """The LightGBM boosters' raw scores of encoded rows (:meth:`encoded_rows`), on
        every core: the kernels alone, for benchmarks."""
        width = rows.shape[1] // max(len(self.lightgbm), 1)
        return np.column_stack(
            [
                m.forest.raw(
                    np.ascontiguousarray(rows[:, k * width : (k + 1) * width]),
                    shared_pool(),
                    CORES,
                )
                for k, m in enumerate(self.lightgbm)
            ]
        )


def compiled_or_none(model: LeadModel, *, check: bool = True) -> tuple[CompiledBatch | None, str]:
    """The model's compiled batch form, or None and why not (batch scoring then uses the
    pipeline); ``check=False`` leaves :meth:`CompiledBatch.check` to the caller."""
    try:
        return CompiledBatch(model, check=check), "compiled"
    except NotCompilable as exc:
        return None, str(exc)


__all__ = ["CompiledBatch", "NotCompilable", "compiled_or_none"]
