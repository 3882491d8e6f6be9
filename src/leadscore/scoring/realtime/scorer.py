"""The real-time scorer: one lead (or a few) as a mapping, scored and explained.

:class:`FastScorer` compiles a fitted model once into the fastest form its family has
(see :mod:`leadscore.scoring.realtime`) and turns the log-odds into a score, a segment,
a contact decision and the top reasons each way, as batch scoring does.

For a LightGBM bag with reasons, one lead's trees are split over the cores: :meth:`begin
<FastScorer.begin>` cleans the lead and starts the pool's share of its trees at once, and
the returned function computes the rest on the calling thread — the service opens the
lead's store transaction in between. The split is skipped while another lead is being
explained in the process: the cores are busy then, and splitting only adds hand-overs.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.families import family
from leadscore.modeling.model import LeadModel
from leadscore.scoring.contributions import Contributions, contributions
from leadscore.scoring.dense import DenseModel, NotCompilable
from leadscore.scoring.realtime.boosters import THREADED_ROWS, BoosterFn, CatBoostRaw, booster_raw
from leadscore.scoring.realtime.cleaning import Cleaner, NativeEncoder, Row
from leadscore.scoring.realtime.terms import BayesTerms, LinearTerms, TermsEnsemble
from leadscore.scoring.reasons import Reason, quartiles_of, select_reasons
from leadscore.scoring.treeshap.forest import CompiledForest
from leadscore.scoring.treeshap.pool import CORES, shared_pool

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
    >>> _ = model.save("model/")
    >>> scorer = FastScorer(LeadModel.load("model/"))
    >>> result = scorer.score({"source": "google", "visits": 3, "time_on_site_s": 420}, reasons=3)
    >>> result.score_100, result.segment, [r.field for r in result.reasons_up]
    (7, 'cold', ['time_on_site_s', 'visits', 'returned_same_day'])
    """

    def __init__(self, model: LeadModel, *, warm: bool = True) -> None:
        self.model = model
        self.clean = Cleaner(model)
        self.fields = list(model.schema_.names)
        pipeline = model.pipeline_
        members = pipeline.members_ if isinstance(pipeline, FoldEnsemble) else [pipeline]
        self.slope = model.calibrator_.slope_
        self.intercept = model.calibrator_.intercept_
        self.cutoffs = model.cutoffs_
        self.quartiles = quartiles_of(model)
        self.mode = "batch"
        #: additive fold models (logistic regression, naive Bayes) as per-field terms
        self.terms: TermsEnsemble | None = None
        #: per fold model: its input row encoder, and its booster (none once detached)
        self.encoders: list[NativeEncoder] = []
        self.boosters: list[BoosterFn] = []
        self.forest: CompiledForest | None = None
        #: fold models scored from numpy rows (tree and linear encodings, histogram boosting)
        self.dense: DenseModel | None = None
        kind = family(model.model)
        if kind.realtime == "linear":
            self.terms = TermsEnsemble(
                [LinearTerms(m, self.fields, model.background_, self.clean) for m in members]
            )
            self.mode = "linear"
        elif kind.realtime == "naive_bayes":  # per-field lookups too
            try:
                self.terms = TermsEnsemble(
                    [BayesTerms(m, self.fields, model.background_, self.clean) for m in members]
                )
                self.mode = "linear"
            except NotCompilable as exc:
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
                booster_raw(m.named_steps["model"], m.named_steps["prep"], kind.library)
                for m in members
            ]
            if all(f is not None for f in boosters):
                self.encoders = [NativeEncoder(m.named_steps["prep"]) for m in members]
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
        (:mod:`leadscore.scoring.bundle`), so that loading it parses no booster. Its
        :attr:`model` is
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
        elif self.terms is not None:
            raw = self.terms.logits(rows)
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
        if self.terms is not None:
            _, values, base = self.terms.explain(rows)
            return self._tree_contributions(values, base)
        if self.mode == "booster":
            matrices = [np.array([e(r) for r in rows], dtype=float) for e in self.encoders]
            if len(rows) < THREADED_ROWS and isinstance(self.boosters[0], CatBoostRaw):
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

    def contributions(self, rows: Sequence[Row]) -> Contributions:
        """Per-field contributions to the calibrated log-odds of leads given as mappings
        of input field → value (what reasons and monitoring's movers read)."""
        return self._contributions([self.clean(r) for r in rows])

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
        >>> scorer = FastScorer(model)
        >>> lead = {"source": "google", "visits": 3, "time_on_site_s": 420}
        >>> finish = scorer.begin([lead], reasons=3, pool_share=0.6)
        >>> result = finish()[0]
        >>> result == scorer.score(lead, reasons=3)
        True
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
        additive = self.dense if self.dense is not None else self.terms
        if reasons and additive is not None:  # one pass gives the scores and the reasons
            raw, values, base = additive.explain(cleaned)
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
