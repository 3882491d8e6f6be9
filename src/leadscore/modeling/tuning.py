"""Hyperparameter search inside the comparison's own cross-validation (Optuna).

The families' defaults hold up well across tables, but the best settings of a booster on
70,000 applications are not those on 900 leads. :func:`tune` searches a family's space
(``ModelFamily.space``) with Optuna's TPE sampler on exactly the folds the leaderboard
used, scored by the leaderboard's own metric (AUC, profit, …) on calibrated out-of-fold
probabilities, under a wall-clock budget:

* trials run side by side on all cores, each fitting its folds one after another and
  reporting the running fold AUC, so the median pruner stops a trial that trails the
  others after two folds instead of paying for five;
* a trial that would run past the budget stops at the next fold;
* the best trial's fold models are kept, so training bags them without fitting again.

:func:`parse_budget` reads ``--budget`` values: ``60s``, ``2m``, ``0`` (no search) or
``auto`` (half as long as the comparison itself took, 8 s to a minute).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sklearn.base import clone

from leadscore.config import Business, Settings
from leadscore.errors import ConfigError
from leadscore.modeling.families import FAMILIES, DataProfile, ModelFamily
from leadscore.modeling.folds import Fold
from leadscore.modeling.leaderboard import CandidateResult, summarise
from leadscore.modeling.metrics import LOWER_IS_BETTER, safe_auc
from leadscore.modeling.preprocess import ColumnPlan
from leadscore.modeling.selection import paired_se
from leadscore.modeling.weights import fit_weighted, part

#: ``--budget auto``: the search may take this many times the comparison's time …
AUTO_SHARE = 0.5
#: … within these bounds (seconds)
AUTO_MIN_S = 8.0
AUTO_MAX_S = 60.0
#: ``--budget auto`` searches only tables with at least this many leads …
AUTO_MIN_ROWS = 10_000
#: … and conversions
AUTO_MIN_POSITIVES = 300
#: families tuned: the leaderboard's best this many tunable ones
TUNED_FAMILIES = 2
#: a family gets no search when less than this many seconds of budget remain for it
MIN_FAMILY_S = 4.0
MAX_TRIALS = 300


@dataclass
class TuningResult:
    """What the search found for one family."""

    name: str
    params: dict[str, Any]
    value: float
    default_value: float
    metric: str
    trials: int
    pruned: int
    seconds: float
    result: CandidateResult | None = field(default=None, repr=False)
    #: the smallest gain that counts: one standard error of the fold-by-fold AUC gain
    noise: float = 0.0

    @property
    def improved(self) -> bool:
        """Whether the tuned settings beat the defaults on the metric by more than noise
        (for AUC: by more than one standard error of the paired fold-by-fold gain)."""
        if not np.isfinite(self.value):
            return False
        if self.metric in LOWER_IS_BETTER:
            return self.value < self.default_value
        return self.value > self.default_value + self.noise

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "metric": self.metric,
            "params": self.params,
            "value": self.value,
            "default_value": self.default_value,
            "noise": self.noise,
            "improved": self.improved,
            "trials": self.trials,
            "pruned": self.pruned,
            "seconds": round(self.seconds, 2),
        }


def parse_budget(value: str | float | None) -> float | str:
    """``"60s"``, ``"2m"``, ``"90"`` → seconds; ``"auto"`` stays ``"auto"``; ``0``: none.

    Example
    -------
    >>> parse_budget("2m"), parse_budget("45s"), parse_budget("auto"), parse_budget(0)
    (120.0, 45.0, 'auto', 0.0)
    """
    if value is None:
        return "auto"
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?", text)
        if not found:
            raise ConfigError(
                f"budget must be a duration such as 60s, 2m or 0 (no search), or auto; "
                f"not {value!r}"
            )
        unit = {"m": 60.0, "min": 60.0, "h": 3600.0}.get(found.group(2) or "s", 1.0)
        seconds = float(found.group(1)) * unit
    if seconds < 0:
        raise ConfigError(f"budget must not be negative, not {value!r}")
    return seconds


def auto_budget(compare_seconds: float, profile: DataProfile | None = None) -> float:
    """The search time ``--budget auto`` gives, from how long the comparison took.

    None below :data:`AUTO_MIN_ROWS` leads or :data:`AUTO_MIN_POSITIVES` conversions:
    there the differences a search finds are mostly noise (X Education, 6,468 leads: a
    90-second LightGBM search raised the cross-validated AUC by 0.003 and lowered the
    holdout's by 0.002), and the defaults already hold.
    """
    if profile is not None and (
        profile.n_rows < AUTO_MIN_ROWS or profile.n_positive < AUTO_MIN_POSITIVES
    ):
        return 0.0
    return float(np.clip(AUTO_SHARE * compare_seconds, AUTO_MIN_S, AUTO_MAX_S))


def tunable(names: list[str]) -> list[str]:
    """The names among ``names`` whose family has a search space, in the same order."""
    return [n for n in names if n in FAMILIES and FAMILIES[n].space is not None]


def worth_searching(names: list[str], trial_s: dict[str, float], budget_s: float) -> list[str]:
    """The families among ``names`` that get a search of ``budget_s`` seconds shared
    between them: the slowest is left to its defaults while a share is under
    ``MIN_FAMILY_S`` or its one trial (``trial_s``: its folds one after another) would take
    more than half its share — a search of one or two trials finds nothing.

    Example
    -------
    >>> worth_searching(["lightgbm", "catboost"], {"lightgbm": 2.0, "catboost": 40.0}, 60)
    ['lightgbm']
    """
    kept = list(names)
    while kept and (
        budget_s / len(kept) < MIN_FAMILY_S
        or max(trial_s[n] for n in kept) > budget_s / len(kept) / 2
    ):
        kept.remove(max(kept, key=lambda n: trial_s[n]))
    return kept


def tune(
    candidate: ModelFamily,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    folds: list[Fold],
    plan: ColumnPlan,
    profile: DataProfile,
    business: Business,
    default_value: float,
    default_folds: list[float] | None = None,
    metric: str = "auc",
    budget_s: float = 30.0,
    seed: int = 0,
    n_jobs: int = -1,
    keep_models: bool = False,
    recency: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> TuningResult:
    """Search ``candidate``'s hyperparameters on ``folds`` for ``budget_s`` seconds.

    Parameters
    ----------
    candidate:
        A model family with a search space.
    X, y, folds, plan, profile:
        As the comparison used them (the same folds, so the numbers compare).
    business:
        For profit and the other threshold metrics.
    default_value:
        The metric with the family's defaults (from the leaderboard).
    default_folds:
        The defaults' per-fold AUCs on the same folds: a tuned AUC must beat the defaults
        by more than one standard error of the paired gain.
    metric:
        The leaderboard metric to optimise (``auc``, ``profit``, ``log_loss``, …).
    budget_s:
        Wall-clock seconds for the search.
    keep_models:
        Keep the best trial's fold models (for a bagged final model).
    recency:
        Row recency for the latest-fifth figure (as in :func:`summarise`).
    sample_weight:
        One weight per row: weighted fits and metrics, as the comparison's.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    space = candidate.space
    if space is None:
        raise ValueError(f"{candidate.name} has no search space")
    y = np.asarray(y).astype(int)
    lower = metric in LOWER_IS_BETTER
    started = time.monotonic()
    deadline = started + budget_s
    best: dict[str, Any] = {}
    lock = threading.Lock()

    def objective(trial: Any) -> float:
        params = space(trial, profile)
        pipeline = candidate.pipeline(plan, profile, seed, params=params)
        sums, counts = np.zeros(len(y)), np.zeros(len(y))
        aucs: list[float] = []
        models = []
        fit_seconds = 0.0
        for step, (train, test) in enumerate(folds):
            if step and time.monotonic() > deadline:
                raise optuna.TrialPruned("out of time")
            begun = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fit_weighted(
                    clone(pipeline), X.iloc[train], y[train], part(sample_weight, train)
                )
            fit_seconds += time.perf_counter() - begun
            proba = model.predict_proba(X.iloc[test])[:, 1]
            sums[test] += proba
            counts[test] += 1
            aucs.append(safe_auc(y[test], proba, part(sample_weight, test)))
            if keep_models:
                models.append(model)
            running = float(np.nanmean(aucs))
            trial.report(-running if lower else running, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        with np.errstate(invalid="ignore", divide="ignore"):
            oof = np.where(counts > 0, sums / counts, np.nan)
        result = CandidateResult(candidate.name, oof, aucs, fit_seconds / len(folds), models)
        row = summarise(
            {candidate.name: result}, y, business, recency=recency, sample_weight=sample_weight
        ).iloc[0]
        value = float(row[metric])
        with lock:
            if "value" not in best or (value < best["value"] if lower else value > best["value"]):
                best.update(value=value, params=params, result=result)
        return value

    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=6)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    study = optuna.create_study(
        direction="minimize" if lower else "maximize", sampler=sampler, pruner=pruner
    )
    jobs = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's experimental-feature notices
        study.optimize(
            objective, n_trials=MAX_TRIALS, timeout=budget_s, n_jobs=jobs, catch=(ValueError,)
        )
    states = [t.state for t in study.trials]
    pruned = sum(s == optuna.trial.TrialState.PRUNED for s in states)
    noise = 0.0
    found = best.get("result")
    if metric == "auc" and default_folds and found is not None:
        _, se = paired_se(found.fold_auc, default_folds)
        noise = se if np.isfinite(se) else 0.0
    return TuningResult(
        name=candidate.name,
        params=dict(best.get("params", {})),
        value=float(best.get("value", np.nan)),
        default_value=float(default_value),
        metric=metric,
        trials=len(states),
        pruned=pruned,
        seconds=time.monotonic() - started,
        result=best.get("result"),
        noise=noise,
    )


def tune_leaders(
    ranked: pd.DataFrame,
    rows: pd.DataFrame,
    results: dict[str, CandidateResult],
    candidates: list[ModelFamily],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    folds: list[Fold],
    plan: ColumnPlan,
    profile: DataProfile,
    settings: Settings,
    sort: str,
    budget_s: float,
    keep_models: bool,
    recency: np.ndarray,
    console: Console,
    show_progress: bool,
    sample_weight: np.ndarray | None = None,
) -> dict[str, TuningResult]:
    """Search the leading tunable families' settings, the budget shared between them
    (those :func:`worth_searching` keeps)."""
    by_row = rows.set_index("model")
    trial_s = {n: float(by_row.loc[n, "fit_seconds"]) * len(folds) for n in by_row.index}
    leaders = tunable(list(ranked.loc[ranked["complete"], "model"]))[:TUNED_FAMILIES]
    names = worth_searching(leaders, trial_s, budget_s)
    if not names:
        return {}
    by_name = {c.name: c for c in candidates}
    defaults = by_row[sort]
    out: dict[str, TuningResult] = {}
    with Progress(
        TextColumn("[bold]tuning {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
        transient=True,
    ) as bar:
        for name in names:
            bar.add_task(name, total=None)
            out[name] = tune(
                by_name[name], X, y, folds=folds, plan=plan, profile=profile,
                business=settings.business, default_value=float(defaults[name]),
                default_folds=results[name].fold_auc, metric=sort,
                budget_s=budget_s / len(names), seed=settings.random_state,
                n_jobs=settings.n_jobs, keep_models=keep_models, recency=recency,
                sample_weight=sample_weight,
            )  # fmt: skip
    for t in out.values():
        verdict = "kept" if t.improved else "no better than the defaults beyond noise"
        console.print(
            f"tuned {t.name}: {t.trials} trials ({t.pruned} stopped early) in "
            f"{t.seconds:.0f} s, {sort} {t.default_value:.4f} → {t.value:.4f} ({verdict})"
        )
    return out
