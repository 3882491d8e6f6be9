"""A bag of logistic regressions' log-odds for a whole batch, in one compiled pass.

:class:`~leadscore.scoring.columnar.CompiledBatch` reads a logistic regression fold model
as its terms: each number logged, imputed and scaled, then times its weight; a missing
flag the same way; one looked-up value per category level. In numpy every term is a few
passes over the batch, per fold model. :class:`LinearKernel` runs the same operations in
the same order for each lead in one numba kernel, every fold model at once, over the
batch cut by rows on every core (the logs stay numpy's, once per column: the C library's
``log1p`` may differ in the last bit). Each lead's sum is the numpy path's to the bit (the
same operations in the same order, no fused multiply-adds) and does not depend on the
batch the lead came in.

Example
-------
>>> import pyarrow as pa
>>> from leadscore.scoring.arrow_inputs import read_inputs
>>> from leadscore.scoring.columnar import CompiledBatch, date_parts
>>> compiled = CompiledBatch(model)  # a logistic regression: its kernel
>>> inputs = read_inputs(pa.RecordBatch.from_pandas(leads.head(5)), model.schema_)
>>> parts = date_parts(inputs, ["created_at"])
>>> sums = compiled.kernel.log_odds(inputs, parts)  # a lead's sum per fold model
>>> sums.shape == (5, len(compiled.linear))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from leadscore.modeling.preprocess import MISSING
from leadscore.scoring.arrow_inputs import InputColumns
from leadscore.scoring.treeshap.pool import CORES, by_ranges, shared_pool

#: rows from which one call is split over the cores
THREADED_ROWS = 4096
#: rows summed together, a term at a time
BLOCK = 512
#: the kinds of term: a number's value, a number's missing flag, a category level
VALUE, FLAG, LEVEL = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _sums(
    x: np.ndarray, codes: np.ndarray, kind: np.ndarray, source: np.ndarray,
    median: np.ndarray, mean: np.ndarray, scale: np.ndarray, weight: np.ndarray,
    start: np.ndarray, missing: np.ndarray, table: np.ndarray, bounds: np.ndarray,
    lo: int, hi: int, out: np.ndarray,
) -> None:  # fmt: skip  # pragma: no cover - compiled
    """``out[i - lo, m]``: fold model ``m``'s sum of terms for row ``i`` (its terms are
    ``bounds[m]:bounds[m + 1]``), in the order the numpy path adds them."""
    total = np.empty(BLOCK)
    # a block of rows at a time, a term at a time within it: each term's loop has no
    # branch on its kind (the compiler vectorises it) and the block's sums stay in cache
    for first in range(lo, hi, BLOCK):
        rows = min(BLOCK, hi - first)
        for m in range(len(bounds) - 1):
            total[:rows] = 0.0
            for t in range(bounds[m], bounds[m + 1]):
                row = source[t]
                if kind[t] == LEVEL:
                    at, gone = start[t], missing[t]
                    for j in range(rows):
                        code = codes[row, first + j]
                        total[j] += table[at + code if code >= 0 else gone]
                elif kind[t] == FLAG:
                    # the flag's two terms, as the numpy path computes each
                    flagged = (1.0 - mean[t]) / scale[t] * weight[t]
                    present = (0.0 - mean[t]) / scale[t] * weight[t]
                    for j in range(rows):
                        value = x[row, first + j]
                        total[j] += flagged if value != value else present
                else:
                    fill, centre, spread, w = median[t], mean[t], scale[t], weight[t]
                    for j in range(rows):
                        value = x[row, first + j]
                        if value != value:
                            value = fill
                        total[j] += (value - centre) / spread * w
            for j in range(rows):
                out[first + j - lo, m] = total[j]


class LinearKernel:
    """Every logistic regression fold model of a bag as one list of terms for the kernel.

    Parameters
    ----------
    members:
        Each fold model's terms, as :class:`~leadscore.scoring.columnar.CompiledBatch`
        reads them: ``("num", numbers, weights)`` (a ``DenseEncoder`` numeric block and the
        weights of its columns, values then missing flags) and ``("cat", column, {level:
        term}, unseen term)``.
    """

    def __init__(self, members: Sequence[Sequence[tuple[Any, ...]]]) -> None:
        #: the rows of the kernel's ``x``: each number read by a fold model, raw or logged
        self.numbers: list[tuple[str, bool]] = []
        self.categories: list[str] = []  # the rows of its ``codes``
        terms: list[tuple[Any, ...]] = []
        bounds = [0]
        for member in members:
            for term in member:
                if term[0] == "num":
                    terms += self._number_terms(term[1], term[2])
                else:
                    _, column, levels, unseen = term
                    terms.append((LEVEL, self._row(self.categories, column), levels, unseen))
            bounds.append(len(terms))
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self.kind = np.array([t[0] for t in terms], dtype=np.int64)
        self.source = np.array([t[1] for t in terms], dtype=np.int64)
        numeric = [t if t[0] != LEVEL else (LEVEL, 0, 0.0, 0.0, 1.0, 0.0) for t in terms]
        self.median, self.mean, self.scale, self.weight = (
            np.array([t[k] for t in numeric], dtype=np.float64) for k in (2, 3, 4, 5)
        )
        #: the category terms: (position among the terms, {level: term}, unseen term)
        self.levels = [(i, t[2], t[3]) for i, t in enumerate(terms) if t[0] == LEVEL]

    @staticmethod
    def _row(names: list[Any], name: Any) -> int:
        if name not in names:
            names.append(name)
        return names.index(name)

    def _number_terms(self, numbers: Any, weights: np.ndarray) -> list[tuple[Any, ...]]:
        """A numeric block's terms: each column's value, then each missing flag."""
        width = len(numbers.columns)
        mean = np.zeros(len(weights)) if numbers.mean is None else numbers.mean
        scale = np.ones(len(weights)) if numbers.scale is None else numbers.scale
        rows = [
            self._row(self.numbers, (c, bool(logged)))
            for c, logged in zip(numbers.columns, numbers.logged, strict=True)
        ]
        terms: list[tuple[Any, ...]] = [
            (VALUE, rows[j], float(numbers.medians[j]), float(mean[j]), float(scale[j]),
             float(weights[j]))
            for j in range(width)
        ]  # fmt: skip
        terms += [
            (FLAG, rows[int(j)], 0.0, float(mean[width + p]), float(scale[width + p]),
             float(weights[width + p]))
            for p, j in enumerate(numbers.flagged)
        ]  # fmt: skip
        return terms

    def log_odds(
        self, inputs: InputColumns, parts: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """Each fold model's sum of terms ``(n, members)``, without its intercept.

        Parameters
        ----------
        inputs:
            The batch (:func:`~leadscore.scoring.arrow_inputs.read_inputs`).
        parts:
            Its date parts by name (``created__hour`` …), where the models read them.
        """
        parts = parts or {}
        n = inputs.rows
        x = np.empty((len(self.numbers), n))
        for row, (name, logged) in enumerate(self.numbers):
            raw = parts[name] if name in parts else inputs.numbers[name]
            # numpy's log1p, not the kernel's: its last bit may differ from the C library's
            x[row] = np.log1p(np.maximum(raw, 0.0)) if logged else raw
        codes = np.empty((len(self.categories), n), dtype=np.int32)
        for row, name in enumerate(self.categories):
            codes[row] = inputs.levels[name].codes
        # a batch's own table: each category term's value for the batch's distinct levels
        table: list[float] = []
        start = np.zeros(len(self.kind), dtype=np.int64)
        missing = np.zeros(len(self.kind), dtype=np.int64)
        for position, levels, unseen in self.levels:
            found = inputs.levels[self.categories[self.source[position]]].values
            start[position] = len(table)
            table += [levels.get(v, unseen) if v is not None else unseen for v in found]
            missing[position] = len(table)
            table.append(levels[MISSING])
        flat = np.asarray(table, dtype=np.float64)
        out = np.empty((n, len(self.bounds) - 1))
        args = (x, codes, self.kind, self.source, self.median, self.mean,
                self.scale, self.weight, start, missing, flat, self.bounds)  # fmt: skip
        parts = CORES if n >= THREADED_ROWS else 1
        by_ranges(shared_pool(), lambda lo, hi: _sums(*args, lo, hi, out[lo:hi]), n, parts)
        return out


@numba.njit(cache=True, nogil=True)
def _calibrated(
    sums: np.ndarray, intercepts: np.ndarray, bagged: bool, slope: float, shift: float,
    eps: float, lo: int, hi: int, out: np.ndarray,
) -> None:  # fmt: skip  # pragma: no cover - compiled
    """``out[i - lo]``: row ``i``'s calibrated probability, by the pipeline's formulas."""
    members = sums.shape[1]
    for i in range(lo, hi):
        if bagged:  # FoldEnsemble: the members' log-odds averaged
            z = 0.0
            for m in range(members):
                q = 1.0 / (1.0 + np.exp(-(sums[i, m] + intercepts[m])))  # scipy's expit
                q = min(max(q, eps), 1.0 - eps)
                z += np.log(q / (1.0 - q))
            p = 1.0 / (1.0 + np.exp(-(z / members)))
        else:
            p = 1.0 / (1.0 + np.exp(-(sums[i, 0] + intercepts[0])))
        p = min(max(p, eps), 1.0 - eps)  # LogitCalibrator: σ(a·logit(p) + b)
        out[i - lo] = 1.0 / (1.0 + np.exp(-(slope * np.log(p / (1.0 - p)) + shift)))


def calibrated(
    sums: np.ndarray, intercepts: np.ndarray, bagged: bool, slope: float, shift: float,
    eps: float,
) -> np.ndarray:  # fmt: skip
    """The calibrated probability of each row of fold models' sums ``(n, members)``: each
    member's ``expit(sum + intercept)``, their logits averaged (``bagged``), the
    :class:`~leadscore.modeling.calibration.LogitCalibrator`'s ``σ(slope·logit(p) +
    shift)``, probabilities clipped to ``[eps, 1 - eps]`` before each logit — numpy's
    dozen passes over the batch in one, on every core.

    Parameters
    ----------
    sums:
        :meth:`LinearKernel.log_odds`.
    intercepts:
        Each member's intercept.
    bagged:
        Average the members (a fold ensemble); else the one member's probability.
    slope, shift:
        The calibrator's two numbers.
    eps:
        The clip before a logit.

    Example
    -------
    >>> p = calibrated(np.array([[0.0, 2.0]]), np.zeros(2), True, 1.0, 0.0, 1e-15)
    >>> round(float(p[0]), 6)  # σ((0 + 2) / 2)
    0.731059
    """
    n = len(sums)
    out = np.empty(n)
    args = (np.ascontiguousarray(sums), np.asarray(intercepts, dtype=np.float64), bagged,
            float(slope), float(shift), float(eps))  # fmt: skip
    parts = CORES if n >= THREADED_ROWS else 1
    by_ranges(shared_pool(), lambda lo, hi: _calibrated(*args, lo, hi, out[lo:hi]), n, parts)
    return out


__all__ = ["LinearKernel", "calibrated"]
