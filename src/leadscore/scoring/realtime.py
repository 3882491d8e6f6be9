"""Real-time scoring of single leads: pre-compiled, numpy-native, same scores as batch.

Batch scoring builds pandas frames and runs every preprocessing step; for one lead that
costs tens of milliseconds, almost all of it conversion, not model. :class:`FastScorer`
compiles a fitted :class:`~leadscore.modeling.model.LeadModel` once:

* gradient boosters (LightGBM, XGBoost) get a flat encoder — numbers, date parts and the
  category codes the booster was trained on — and are evaluated on a numpy row; LightGBM
  bags are compiled further (:mod:`leadscore.scoring.treeshap`): scores and exact tree
  SHAP reasons from one numba kernel, ~4× faster than LightGBM's own ``pred_contrib``;
* logistic regression becomes a sum of per-field lookups and affine terms, and naive Bayes
  a sum of per-field lookups (a category's level, a number's bin found among its cut
  points), which also gives the per-field contributions for free;
* the families on the tree and linear encodings (random forests, extra trees, decision
  trees, the MLP) get a numpy encoder, and their occlusion reasons swap
  encoded columns (:mod:`leadscore.scoring.dense`); the tree ensembles run in one numba
  kernel that walks only the trees a swap can change;
* histogram gradient boosting gets its own codes for the categories and the same kernel;
  CatBoost gets the level texts back and its own SHAP values;
* any other model falls back to the batch path (correct, just slower).

The scores are the batch scores (a contract test compares them); reasons use the same
contributions as :mod:`leadscore.scoring.contributions`.
"""

from __future__ import annotations

import bisect
import copy
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.errors import SchemaError
from leadscore.features.dates import PARTS, parts_of
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.families import family
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import MISSING, OTHER, CategoryCoder, output_owners
from leadscore.scoring.contributions import Contributions, contributions
from leadscore.scoring.dense import DenseModel, NotCompilable, category_tables
from leadscore.scoring.reasons import Reason, quartiles_of, select_reasons
from leadscore.scoring.treeshap import CORES, CompiledForest, shared_pool

Row = Mapping[str, Any]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastResult:
    """One scored lead."""

    score: float
    score_100: int
    segment: str
    contact: bool
    reasons_up: tuple[Reason, ...] = ()
    reasons_down: tuple[Reason, ...] = ()


# ----------------------------------------------------------------------------- values


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _timestamp(value: Any) -> pd.Timestamp | None:
    if _missing(value):
        return None
    stamp = value if isinstance(value, pd.Timestamp) else pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


class _Cleaner:
    """Raw request values → the typed values the model was trained on (as ``conform``)."""

    def __init__(self, model: LeadModel) -> None:
        schema = model.schema_
        self.columns = [(c.name, c.kind) for c in schema.columns]
        self.placeholders = set(schema.missing_values)

    def __call__(self, row: Row) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for name, kind in self.columns:
            value = row.get(name)
            if isinstance(value, str):
                value = value.strip()
                if value in self.placeholders:
                    value = None
            try:
                if kind == "numeric":
                    clean[name] = math.nan if _missing(value) else float(value)
                elif kind == "datetime":
                    clean[name] = _timestamp(value)
                else:
                    clean[name] = None if _missing(value) else str(value)
            except (TypeError, ValueError) as exc:
                wanted = "a number" if kind == "numeric" else "a date and time"
                raise SchemaError(f"field {name!r} must be {wanted}, got {value!r}") from exc
        return clean


# ----------------------------------------------------------------------------- boosters


class _NativeEncoder:
    """The booster's input row: inputs in DateParts order, categories as training codes."""

    def __init__(self, prep: Any) -> None:
        dates = prep.named_steps["dates"]
        coder: CategoryCoder = prep.named_steps["categories"]
        self.date_columns = list(dates.columns_)
        self.reference = dates.reference
        inputs = [str(c) for c in dates.feature_names_in_]
        self.plain = [c for c in inputs if c not in self.date_columns]
        self.codes = {
            column: {level: float(i) for i, level in enumerate(levels)}
            for column, levels in coder.levels_.items()
        }
        #: the input field behind each booster column (date parts belong to their date)
        self.owners = list(self.plain)
        for column in self.date_columns:
            gap = self.reference is not None and column != self.reference
            self.owners.extend([column] * (len(PARTS) + int(gap)))

    def __call__(self, row: Mapping[str, Any]) -> list[float]:
        out: list[float] = []
        for column in self.plain:
            codes = self.codes.get(column)
            if codes is None:
                out.append(row[column])
            else:
                value = row[column]
                key = MISSING if value is None else value
                out.append(codes.get(key, codes[OTHER]))
        for column in self.date_columns:
            stamp = row[column]
            out.extend(parts_of(stamp))
            if self.reference is not None and column != self.reference:
                ref = row[self.reference]
                gap = (stamp - ref).total_seconds() / 86400 if stamp and ref else math.nan
                out.append(gap)
        return out


BoosterFn = Callable[[np.ndarray, bool], np.ndarray]
#: single leads being explained right now, in this process
_IN_FLIGHT = [0]
_IN_FLIGHT_LOCK = threading.Lock()


def _release() -> None:
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT[0] -= 1


class _PoolWatch:
    """The shared pool, for one lead's split: the lead counts as in flight until the
    pool's part is done (not until the caller collects it, which it may never do if its
    transaction fails first)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        future = shared_pool().submit(fn, *args)
        future.add_done_callback(lambda _: _release())
        return future


#: below this many rows one thread is faster than waking LightGBM's thread pool
THREADED_ROWS = 64


def _threads(rows: np.ndarray) -> int:
    return 1 if len(rows) < THREADED_ROWS else 0  # 0: LightGBM's default, all cores


class _LightGBMRaw:
    """A LightGBM booster on numpy rows (a class, not a closure: a scorer pickles whole)."""

    def __init__(self, estimator: Any) -> None:
        self.booster = estimator.booster_

    def __call__(self, rows: np.ndarray, contrib: bool = False) -> np.ndarray:
        if contrib:
            return np.asarray(
                self.booster.predict(rows, pred_contrib=True, num_threads=_threads(rows)),
                dtype=float,
            )
        return self.booster.predict(rows, raw_score=True, num_threads=_threads(rows))  # type: ignore[no-any-return]


class _XGBoostRaw:
    """An XGBoost booster on numpy rows (picklable)."""

    def __init__(self, estimator: Any) -> None:
        self.booster = estimator.get_booster()
        self.types = self.booster.feature_types
        self.names = self.booster.feature_names

    def __call__(self, rows: np.ndarray, contrib: bool = False) -> np.ndarray:
        import xgboost as xgb

        matrix = xgb.DMatrix(
            rows, feature_names=self.names, feature_types=self.types, enable_categorical=True
        )
        if contrib:
            return np.asarray(self.booster.predict(matrix, pred_contribs=True), dtype=float)
        return self.booster.predict(matrix, output_margin=True)  # type: ignore[no-any-return]


class _CatBoostRaw:
    """A CatBoost model on the rows of :class:`_NativeEncoder`: its category codes turned
    back into the level texts CatBoost reads (and hashes), as plain Python lists
    (picklable)."""

    def __init__(self, estimator: Any, prep: Any) -> None:
        self.model = estimator.model_
        encoder = _NativeEncoder(prep)
        levels = prep.named_steps["categories"].levels_
        #: (position in the row, the column's levels by code)
        self.categorical = [
            (i, list(levels[column])) for i, column in enumerate(encoder.plain) if column in levels
        ]
        self.positions = [i for i, _ in self.categorical]

    def _lists(self, rows: np.ndarray) -> list[list[Any]]:
        data = rows.astype(object)
        for i, texts in self.categorical:
            data[:, i] = [texts[int(code)] for code in rows[:, i]]
        return data.tolist()  # type: ignore[no-any-return]

    def __call__(self, rows: np.ndarray, contrib: bool = False) -> np.ndarray:
        threads = 1 if len(rows) < THREADED_ROWS else -1
        if contrib:
            from catboost import Pool

            pool = Pool(self._lists(rows), cat_features=self.positions, thread_count=threads)
            return np.asarray(
                self.model.get_feature_importance(pool, type="ShapValues", thread_count=threads),
                dtype=float,
            )
        return np.asarray(
            self.model.predict(
                self._lists(rows), prediction_type="RawFormulaVal", thread_count=threads
            ),
            dtype=float,
        )


#: a booster on numpy rows, by its library (``ModelFamily.library``)
_BOOSTER_ROWS: dict[str, Callable[[Any, Any], BoosterFn]] = {
    "lightgbm": lambda estimator, prep: _LightGBMRaw(estimator),
    "xgboost": lambda estimator, prep: _XGBoostRaw(estimator),
    "catboost": lambda estimator, prep: _CatBoostRaw(estimator, prep),
}


def _booster_raw(estimator: Any, prep: Any, library: str | None) -> BoosterFn | None:
    """A booster on numpy rows: raw log-odds, or with ``contrib=True`` its native tree SHAP
    values ``(n, n_columns + 1)`` (last column the base); None for other families.

    One thread for a handful of rows: waking a thread pool costs more than the trees, and
    under load (a busy API server) the pool's spinning threads make it far worse; batches
    use every core."""
    if library == "catboost" and prep.named_steps["categories"].output != "string":
        return None
    make = _BOOSTER_ROWS.get(library or "")
    return make(estimator, prep) if make else None


# ----------------------------------------------------------------------------- linear


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


class _FieldTerms:
    """A fold model additive in log-odds: ``intercept`` + Σ per-field terms, from numeric
    inputs (date parts included) through ``numeric`` and categories through ``lookups``.
    Subclasses compile the two from a fitted pipeline, then call :meth:`_measure`."""

    intercept: float
    fields: list[str]
    dates: Any
    numeric: list[tuple[str, str, Callable[[float], float]]]
    lookups: dict[str, tuple[dict[str, float], float]]
    reference: np.ndarray

    def _measure(self, background: pd.DataFrame, clean: _Cleaner) -> np.ndarray:
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
        out = np.zeros(len(self.fields))
        index = {f: i for i, f in enumerate(self.fields)}
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
        for column, field, term in self.numeric:
            out[index[field]] += term(values[column])
        for column, (table, unknown) in self.lookups.items():
            value = row[column]
            out[index[column]] += table.get(MISSING if value is None else value, unknown)
        return out


class _LinearTerms(_FieldTerms):
    """Logistic regression as intercept + Σ per-field terms (exact, and additive)."""

    def __init__(
        self, member: Any, fields: list[str], background: pd.DataFrame, clean: _Cleaner
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


class _BayesTerms(_FieldTerms):
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
        self, member: Any, fields: list[str], background: pd.DataFrame, clean: _Cleaner
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


# ----------------------------------------------------------------------------- scorer


class FastScorer:
    """Score one lead (or a few) in microseconds to a few milliseconds.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel`.
    warm:
        Run the compiled kernels once now (:meth:`warm`); off where the scorer is only
        saved (:mod:`leadscore.scoring.bundle`).

    Example
    -------
    >>> scorer = FastScorer(LeadModel.load("model/"))  # doctest: +SKIP
    >>> scorer.score({"source": "google", "visits": 3, "time_on_site_s": 420}, reasons=3)
    ... # doctest: +SKIP
    FastResult(score=0.21, score_100=21, segment='warm', contact=True, ...)
    """

    def __init__(self, model: LeadModel, *, warm: bool = True) -> None:
        self.model = model
        self.clean = _Cleaner(model)
        self.fields = list(model.schema_.names)
        pipeline = model.pipeline_
        members = pipeline.members_ if isinstance(pipeline, FoldEnsemble) else [pipeline]
        self.slope = model.calibrator_.slope_
        self.intercept = model.calibrator_.intercept_
        self.cutoffs = model.cutoffs_
        self.quartiles = quartiles_of(model)
        self.mode = "batch"
        self.linear: list[_FieldTerms] = []
        #: per fold model: its input row encoder, and its booster (none once detached)
        self.encoders: list[_NativeEncoder] = []
        self.boosters: list[BoosterFn] = []
        self.forest: CompiledForest | None = None
        #: fold models scored from numpy rows (tree and linear encodings, histogram boosting)
        self.dense: DenseModel | None = None
        kind = family(model.model)
        if kind.realtime == "linear":
            self.linear = [
                _LinearTerms(m, self.fields, model.background_, self.clean) for m in members
            ]
            self.mode = "linear"
        elif kind.realtime == "naive_bayes":  # per-field lookups too
            try:
                self.linear = [
                    _BayesTerms(m, self.fields, model.background_, self.clean) for m in members
                ]
                self.mode = "linear"
            except NotCompilable as exc:
                self.linear = []
                log.info("scoring naive Bayes through the batch path: %s", exc)
        elif kind.realtime == "dense":
            try:
                self.dense = DenseModel(model, self.clean)
            except NotCompilable as exc:
                log.info("scoring %s through the batch path: %s", kind.name, exc)
            else:
                self.mode = "trees" if self.dense.trees is not None else "dense"
                if warm:
                    self.warm()
        elif kind.realtime == "booster":
            boosters = [
                _booster_raw(m.named_steps["model"], m.named_steps["prep"], kind.library)
                for m in members
            ]
            if all(f is not None for f in boosters):
                self.encoders = [_NativeEncoder(m.named_steps["prep"]) for m in members]
                self.boosters = boosters  # type: ignore[assignment]
                self.mode = "booster"
                index = {f: i for i, f in enumerate(self.fields)}
                self.grouping = []
                for encode in self.encoders:
                    # (n_columns, n_fields) 0/1: booster columns summed into their field
                    matrix = np.zeros((len(encode.owners), len(self.fields)))
                    matrix[np.arange(len(encode.owners)), [index[o] for o in encode.owners]] = 1
                    self.grouping.append(matrix)
                if kind.library == "lightgbm":  # tree SHAP by the compiled kernel
                    self.forest = CompiledForest.from_lightgbm(
                        [m.named_steps["model"].booster_ for m in members]
                    )
                    self.stacked = np.vstack(self.grouping)  # the bag's columns → fields
                    if warm:
                        self.warm()

    @property
    def needs_estimators(self) -> bool:
        """Whether scoring calls the model's fitted estimators (families without a compiled
        form, and XGBoost) rather than only what was compiled from them."""
        return self.mode == "batch" or (self.mode == "booster" and self.forest is None)

    def detached(self) -> FastScorer:
        """This scorer without the model's fitted estimators, where it does not call them
        (:attr:`needs_estimators`): what is saved beside a model as ``scorer.bin``
        (:mod:`leadscore.scoring.bundle`), so that loading it parses no booster (five
        LightGBM boosters: ~40 ms). Its :attr:`model` is
        :meth:`~leadscore.modeling.model.LeadModel.without_estimators`."""
        if self.needs_estimators:
            return self
        light = copy.copy(self)
        light.model = self.model.without_estimators()
        light.boosters = []
        return light

    def warm(self) -> None:
        """Run the compiled kernels once (numba compiles or loads them on first use), so
        that the first lead scored does not pay for it."""
        if self.forest is not None:
            self.forest.explain(self._rows([self.clean({})]))
        if self.dense is not None:
            self.dense.explain([self.clean({})])

    # ---------------------------------------------------------------- internals

    def _rows(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """Cleaned rows → the compiled forest's input: each fold model's row side by side."""
        return np.array(
            [[v for encode in self.encoders for v in encode(r)] for r in rows], dtype=float
        )

    def _forest(self, rows: list[dict[str, Any]], explain: bool) -> Any:
        """Run the compiled forest (its kernel releases the GIL): a batch is split by rows
        over the cores; a few leads' scores take this thread (a few leads' reasons go
        through :meth:`_forest_begin`)."""
        assert self.forest is not None
        matrix = self._rows(rows)
        if len(rows) < THREADED_ROWS:
            assert not explain, "a few leads' reasons: _forest_begin"
            return self.forest.raw(matrix)
        if explain:
            return self.forest.explain(matrix, shared_pool(), CORES)
        return self.forest.raw(matrix, shared_pool(), CORES)

    def _forest_begin(
        self, rows: list[dict[str, Any]], pool_share: float
    ) -> Callable[[], tuple[np.ndarray, np.ndarray, float]]:
        """Start explaining a few leads over the cores: one lead's trees split with the
        pool (``pool_share`` of them begun at once, the rest when the returned function
        is called), several leads split by rows (done at once) — unless another lead is
        being explained already: then the cores are busy and splitting only adds
        hand-overs."""
        assert self.forest is not None
        forest, matrix = self.forest, self._rows(rows)
        with _IN_FLIGHT_LOCK:
            alone = _IN_FLIGHT[0] == 0 and CORES > 1
            if alone:
                _IN_FLIGHT[0] += 1
        if not alone:
            return lambda: forest.explain(matrix)
        if len(rows) == 1:
            try:
                return forest.begin(matrix, _PoolWatch(), pool_share)
            except BaseException:
                _release()
                raise
        try:
            done = forest.explain(matrix, shared_pool(), CORES)
        finally:
            _release()
        return lambda: done

    def _logits(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """Calibrated log-odds of cleaned rows."""
        if self.forest is not None:
            raw = self._forest(rows, explain=False)
        elif self.dense is not None:
            raw = self.dense.logits(rows)
        elif self.mode == "linear":
            raw = np.array(
                [np.mean([m.intercept + m.terms(r).sum() for m in self.linear]) for r in rows]
            )
        elif self.mode == "booster":
            raw = np.mean(
                [
                    f(np.array([encode(r) for r in rows], dtype=float), False)
                    for encode, f in zip(self.encoders, self.boosters, strict=True)
                ],
                axis=0,
            )
        else:
            frame = pd.DataFrame(rows, columns=self.fields)
            p = np.clip(self.model.predict_raw(frame), 1e-15, 1 - 1e-15)
            raw = np.log(p / (1 - p))
        return self.slope * raw + self.intercept

    def _forest_contributions(self, columns: np.ndarray, base: float) -> Contributions:
        return Contributions(
            self.fields,
            (columns @ self.stacked) * self.slope,
            np.full(len(columns), base * self.slope + self.intercept),
        )

    def _tree_contributions(self, values: np.ndarray, base: np.ndarray) -> Contributions:
        return Contributions(self.fields, values * self.slope, base * self.slope + self.intercept)

    def _contributions(self, rows: list[dict[str, Any]]) -> Contributions:
        if self.dense is not None:
            _, values, base = self.dense.explain(rows)
            return self._tree_contributions(values, base)
        if self.mode == "linear":
            terms = np.array([np.mean([m.terms(r) for m in self.linear], axis=0) for r in rows])
            reference = np.mean([m.reference for m in self.linear], axis=0)
            base = np.mean([m.intercept + m.reference.sum() for m in self.linear])
            values = (terms - reference) * self.slope
            return Contributions(
                self.fields, values, np.full(len(rows), base * self.slope + self.intercept)
            )
        if self.mode == "booster":
            matrices = [np.array([e(r) for r in rows], dtype=float) for e in self.encoders]
            if len(rows) < THREADED_ROWS and isinstance(self.boosters[0], _CatBoostRaw):
                # CatBoost's SHAP values take ~3 ms a fold model and release the
                # interpreter: the fold models side by side (13 → 8 ms a lead on 2 cores)
                shap = list(shared_pool().map(lambda f, m: f(m, True), self.boosters, matrices))
            else:
                shap = [f(m, True) for f, m in zip(self.boosters, matrices, strict=True)]
            values = [raw[:, :-1] @ g for raw, g in zip(shap, self.grouping, strict=True)]
            bases = [raw[:, -1] for raw in shap]
            return Contributions(
                self.fields,
                np.mean(values, axis=0) * self.slope,
                np.mean(bases, axis=0) * self.slope + self.intercept,
            )
        frame = pd.DataFrame(rows, columns=self.fields)
        return contributions(self.model, frame)

    # ---------------------------------------------------------------- public

    def score(self, row: Row, reasons: int = 0) -> FastResult:
        """Score one lead given as a mapping of input field → value."""
        return self.score_many([row], reasons)[0]

    def score_many(self, rows: Sequence[Row], reasons: int = 0) -> list[FastResult]:
        """Score several leads; with ``reasons``, each lead's top reasons up and down."""
        return self.begin(rows, reasons)()

    def begin(
        self, rows: Sequence[Row], reasons: int = 0, pool_share: float = 0.5
    ) -> Callable[[], list[FastResult]]:
        """:meth:`score_many` in two halves: the leads are checked and cleaned now (bad
        input raises here), and a single lead's explanation is begun on the thread pool
        (``pool_share`` of its trees); the returned function finishes and returns the
        results. The service opens the lead's store transaction in between.

        Example
        -------
        >>> finish = scorer.begin([lead], reasons=3, pool_share=0.6)  # doctest: +SKIP
        >>> result = finish()[0]  # doctest: +SKIP
        """
        cleaned = [self.clean(r) for r in rows]
        if reasons and self.forest is not None and len(cleaned) < THREADED_ROWS:
            forest = self._forest_begin(cleaned, pool_share)
            return lambda: self._finish_forest(cleaned, reasons, forest())
        results = self._results(cleaned, reasons)
        return lambda: results

    def _finish_forest(
        self, cleaned: list[dict[str, Any]], reasons: int, explained: tuple[Any, Any, float]
    ) -> list[FastResult]:
        raw, columns, base = explained
        # the kernel gives the raw scores on the way: one pass over the trees, not two
        logits = self.slope * raw + self.intercept
        return self._describe(cleaned, reasons, logits, self._forest_contributions(columns, base))

    def _results(self, cleaned: list[dict[str, Any]], reasons: int) -> list[FastResult]:
        if reasons and self.forest is not None:  # a batch (a few leads: begin)
            return self._finish_forest(cleaned, reasons, self._forest(cleaned, explain=True))
        if reasons and self.dense is not None:  # one pass gives the scores and the reasons
            raw, values, base = self.dense.explain(cleaned)
            logits = self.slope * raw + self.intercept
            return self._describe(cleaned, reasons, logits, self._tree_contributions(values, base))
        explained = self._contributions(cleaned) if reasons else None
        return self._describe(cleaned, reasons, self._logits(cleaned), explained)

    def _describe(
        self,
        cleaned: list[dict[str, Any]],
        reasons: int,
        logits: np.ndarray,
        explained: Contributions | None,
    ) -> list[FastResult]:
        """Scores, segments and the top reasons each way."""
        scores = 1.0 / (1.0 + np.exp(-logits))
        decided = self.cutoffs.decide(scores)
        points = explained.points() if explained is not None else None
        results = []
        for i, p in enumerate(scores):
            up: list[Reason] = []
            down: list[Reason] = []
            if points is not None:
                values = [cleaned[i][field] for field in self.fields]
                up, down = select_reasons(points[i], values, self.fields, self.quartiles, reasons)
            results.append(
                FastResult(
                    score=float(p),
                    score_100=int(decided.score_100[i]),
                    segment=str(decided.segment[i]),
                    contact=bool(decided.contact[i]),
                    reasons_up=tuple(up),
                    reasons_down=tuple(down),
                )
            )
        return results
