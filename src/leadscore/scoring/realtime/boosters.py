"""Gradient boosters on numpy rows: raw log-odds, or their own tree SHAP values.

Each adapter takes the rows of :class:`~leadscore.scoring.realtime.cleaning.NativeEncoder`
and calls its library directly, skipping the pipeline's pandas steps. The adapters are
classes, not closures, so that a scorer pickles whole. A LightGBM bag's scores and
reasons come from the compiled forest (:mod:`leadscore.scoring.treeshap`) instead, and a
saved scorer leaves its adapters out
(:meth:`~leadscore.scoring.realtime.scorer.FastScorer.detached`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from leadscore.scoring.realtime.cleaning import NativeEncoder

BoosterFn = Callable[[np.ndarray, bool], np.ndarray]

#: below this many rows one thread is faster than waking LightGBM's thread pool
THREADED_ROWS = 64


def _threads(rows: np.ndarray) -> int:
    return 1 if len(rows) < THREADED_ROWS else 0  # 0: LightGBM's default, all cores


class LightGBMRaw:
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


class XGBoostRaw:
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


class CatBoostRaw:
    """A CatBoost model on the rows of :class:`NativeEncoder`: its category codes turned
    back into the level texts CatBoost reads (and hashes), as plain Python lists
    (picklable)."""

    def __init__(self, estimator: Any, prep: Any) -> None:
        self.model = estimator.model_
        encoder = NativeEncoder(prep)
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
    "lightgbm": lambda estimator, prep: LightGBMRaw(estimator),
    "xgboost": lambda estimator, prep: XGBoostRaw(estimator),
    "catboost": lambda estimator, prep: CatBoostRaw(estimator, prep),
}


def booster_raw(estimator: Any, prep: Any, library: str | None) -> BoosterFn | None:
    """A booster on numpy rows: raw log-odds, or with ``contrib=True`` its native tree SHAP
    values ``(n, n_columns + 1)`` (last column the base); None for other families.

    One thread for a handful of rows: waking a thread pool costs more than the trees, and
    under load (a busy API server) the pool's spinning threads make it far worse; batches
    use every core."""
    if library == "catboost" and prep.named_steps["categories"].output != "string":
        return None
    make = _BOOSTER_ROWS.get(library or "")
    return make(estimator, prep) if make else None
