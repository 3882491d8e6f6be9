"""Cross-validated comparison of the model zoo: the leaderboard.

Every candidate is fitted on the same folds (stratified k-fold; or forward in time when
the table has a time column or its rows are found to be in time order, see
:mod:`leadscore.modeling.order`: train on the past, validate on what came next), in
parallel over candidates × folds, with a progress bar. The out-of-fold predictions are
kept: training reuses them to calibrate the chosen model and to pick its threshold, so
nothing is fitted twice.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from leadscore.config import Roles, Settings
from leadscore.data.lead_table import LeadTable, prepare_table
from leadscore.data.sources import TableLike
from leadscore.errors import LeadscoreError
from leadscore.modeling.calibration import LogitCalibrator
from leadscore.modeling.dictionary import read_dictionary
from leadscore.modeling.families import DataProfile, ModelFamily, get_families
from leadscore.modeling.folds import Fold, fold_count, make_folds, stratified_sample
from leadscore.modeling.leaderboard import SORT_KEYS, CandidateResult, Leaderboard, summarise
from leadscore.modeling.leakage import LeakageSuspect, leakage_exclusions
from leadscore.modeling.metrics import safe_auc
from leadscore.modeling.order import RowOrder, detect_row_order
from leadscore.modeling.preprocess import ColumnPlan, plan_columns
from leadscore.modeling.selection import choose, rank
from leadscore.modeling.thresholds import choose_threshold
from leadscore.modeling.tuning import TuningResult, auto_budget, parse_budget, tune_leaders
from leadscore.modeling.warmup import warm_up
from leadscore.modeling.weights import check_weights, fit_weighted, part


def _fit_fold(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    fold: Fold,
    keep_model: bool,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, float, Pipeline | None]:
    train, test = fold
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from small folds
        model = fit_weighted(clone(pipeline), X.iloc[train], y[train], part(sample_weight, train))
    seconds = time.perf_counter() - start
    return model.predict_proba(X.iloc[test])[:, 1], seconds, model if keep_model else None


def _tasks(candidates: list[ModelFamily], folds: list[Fold]) -> Iterator[tuple[int, int]]:
    # Slowest fits first, so the last tasks to finish are short ones and all cores stay busy.
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].cost)
    for i in order:
        for f in range(len(folds)):
            yield i, f


def cross_validate(
    X: pd.DataFrame,
    y: np.ndarray,
    candidates: list[ModelFamily],
    *,
    folds: list[Fold],
    plan: ColumnPlan,
    profile: DataProfile,
    seed: int = 0,
    n_jobs: int = -1,
    keep_models: bool = False,
    progress: Callable[[str], None] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    race: list[int] | None = None,
    sample_weight: np.ndarray | None = None,
) -> dict[str, CandidateResult]:
    """Out-of-fold probabilities of every candidate on the given folds.

    ``sample_weight`` (one weight per row) weights every fold fit and the folds' AUCs.

    With ``keep_models`` every fitted fold model is returned too (in fold order), so the
    folds can serve as a bagged final model without fitting again. ``params`` holds tuned
    estimator settings by candidate name.

    ``race`` (fold indices) runs every candidate on those folds first; only the leaders
    (:func:`race_survivors`) go on to the other folds. A candidate stopped early keeps the
    out-of-fold scores of the folds it ran, and its result says how many those were.
    """
    y = np.asarray(y).astype(int)
    params = params or {}
    pipelines = [c.pipeline(plan, profile, seed, params=params.get(c.name)) for c in candidates]
    sums = {c.name: np.zeros(len(y)) for c in candidates}
    counts = {c.name: np.zeros(len(y)) for c in candidates}
    aucs: dict[str, dict[int, float]] = {c.name: {} for c in candidates}
    seconds = {c.name: 0.0 for c in candidates}
    fitted: dict[str, dict[int, Pipeline]] = {c.name: {} for c in candidates}
    first = sorted(set(race)) if race else list(range(len(folds)))
    rounds = [first] + ([[f for f in range(len(folds)) if f not in first]] if race else [])
    running = list(range(len(candidates)))
    for number, fold_ids in enumerate(rounds):
        if number:  # after the first round: only the leaders go on
            shown = _round_auc(
                y, folds, first, [candidates[i].name for i in running], sums, counts, sample_weight
            )
            keep = race_survivors(shown)
            for i in running:
                if candidates[i].name not in keep and progress:
                    for _ in fold_ids:
                        progress(f"{candidates[i].name} (stopped early)")
            running = [i for i in running if candidates[i].name in keep]
        tasks = list(_tasks([candidates[i] for i in running], [folds[f] for f in fold_ids]))
        tasks = [(running[i], fold_ids[f]) for i, f in tasks]
        if not tasks:
            continue
        jobs = max(1, min(_jobs(n_jobs), len(tasks)))
        runner = Parallel(n_jobs=jobs, return_as="generator", prefer="processes")
        results = runner(
            delayed(_fit_fold)(pipelines[i], X, y, folds[f], keep_models, sample_weight)
            for i, f in tasks
        )
        for (i, f), (proba, secs, model) in zip(tasks, results, strict=True):
            name = candidates[i].name
            test = folds[f][1]
            sums[name][test] += proba
            counts[name][test] += 1
            aucs[name][f] = safe_auc(y[test], proba, part(sample_weight, test))
            seconds[name] += secs
            if model is not None:
                fitted[name][f] = model
            if progress:
                progress(name)
    out = {}
    for c in candidates:
        with np.errstate(invalid="ignore", divide="ignore"):
            oof = np.where(counts[c.name] > 0, sums[c.name] / counts[c.name], np.nan)
        ran = sorted(aucs[c.name])
        models = [fitted[c.name][f] for f in sorted(fitted[c.name])]
        out[c.name] = CandidateResult(
            c.name, oof, [aucs[c.name][f] for f in ran], seconds[c.name] / max(len(ran), 1),
            models, n_folds=len(ran), complete=len(ran) == len(folds),
        )  # fmt: skip
    return out


#: racing: a candidate goes on past the first folds when among this many leaders …
RACE_KEEP = 5
#: … or within this much AUC of the leader on those folds
RACE_MARGIN = 0.01


def race_folds(
    folds: list[Fold], forward: bool, small: bool, n_candidates: int
) -> list[int] | None:
    """The folds every candidate runs before the leaders go on alone (``None``: no race).

    No race on small data (its ranking needs every fold and repeat) or with few candidates.
    Forward validation races on its two most recent folds: the ones that matter most.
    """
    if small or n_candidates <= RACE_KEEP or len(folds) < 3:
        return None
    first = 1 if len(folds) == 3 else 2  # three folds: large data, one fold says enough
    return list(range(len(folds) - first, len(folds))) if forward else list(range(first))


def race_survivors(first_round: dict[str, float]) -> set[str]:
    """Who goes on after the first folds: the :data:`RACE_KEEP` leaders and any candidate
    within :data:`RACE_MARGIN` AUC of the leader."""
    ranked = sorted(first_round, key=lambda n: -np.nan_to_num(first_round[n], nan=-1.0))
    if not ranked:
        return set()
    leader = np.nan_to_num(first_round[ranked[0]], nan=-1.0)
    return set(ranked[:RACE_KEEP]) | {
        n for n in ranked if np.nan_to_num(first_round[n], nan=-1.0) >= leader - RACE_MARGIN
    }


def _round_auc(
    y: np.ndarray,
    folds: list[Fold],
    fold_ids: list[int],
    names: list[str],
    sums: dict[str, np.ndarray],
    counts: dict[str, np.ndarray],
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    rows = np.concatenate([folds[f][1] for f in fold_ids])
    w = part(sample_weight, rows)
    return {n: safe_auc(y[rows], sums[n][rows] / np.maximum(counts[n][rows], 1), w) for n in names}


def compare(
    data: TableLike | LeadTable,
    *,
    roles: Roles | None = None,
    settings: Settings | None = None,
    models: list[str] | None = None,
    sort: str = "auc",
    cv: int | None = None,
    console: Console | None = None,
    show_progress: bool = True,
    keep_models: bool = False,
    warm_mlflow: bool = False,
    budget: float | str = 0,
    weighted: bool = False,
    **role_overrides: Any,
) -> Leaderboard:
    """Compare the model zoo on a lead table by cross-validation.

    Leakage suspects found by the audit are left out (say so with ``console``) unless kept
    with ``keep=[...]``.

    Parameters
    ----------
    data:
        Path, DataFrame or an already prepared :class:`LeadTable`.
    roles, settings, **role_overrides:
        Column roles and project settings, as for :func:`leadscore.audit`.
    models:
        Family names (default: every family in ``leadscore.modeling.families.FAMILIES``).
    sort:
        Metric to rank by: auc, pr_auc, profit, recall, precision, f1, lift_top10, …
    cv:
        Number of folds (default ``settings.cv_folds``, else 5, or 3 from 20,000 leads).
    keep_models:
        Keep the best candidate's fitted fold models (training bags them).
    budget:
        Seconds of hyperparameter search for the leading tunable families (see
        :mod:`leadscore.modeling.tuning`), ``"auto"``, or 0 (default: none).
    warm_mlflow:
        Import MLflow in the background meanwhile (the caller records the comparison:
        :func:`leadscore.lifecycle.compare.compare`).
    weighted:
        Weight every lead by the table's weight column (its ``weight`` role, e.g. the
        inverse propensities of ``store_dataset(weight_by_propensity=True)``): the fits,
        calibration, thresholds and every leaderboard metric count each lead by its weight.

    Example
    -------
    >>> from leadscore.config import Settings
    >>> board = compare(leads, target="converted", models=["naive_bayes", "decision_tree"],
    ...                 cv=3, settings=Settings(n_jobs=1), show_progress=False)
    >>> board.best
    'naive_bayes'
    """
    started = time.perf_counter()
    settings = settings or Settings()
    if sort not in SORT_KEYS:
        raise LeadscoreError(f"cannot sort by {sort!r}; choose one of: {', '.join(SORT_KEYS)}")
    candidates = get_families(models)
    warm_up(settings.n_jobs, warm_mlflow)
    table, suspects = prepare_for_modeling(data, roles, settings, console, **role_overrides)
    assert table.y is not None
    console = console or Console(stderr=True)
    row_order = None
    if table.time is None:
        row_order = detect_row_order(table, settings.row_order, settings.random_state)
        if row_order.ordered:
            console.print(
                f"[yellow]validating forward in file order:[/] {row_order.reason}. Each fold "
                "trains on earlier rows and is judged on the rows after them (pass --time "
                "COLUMN if a column says when each lead came in; --row-order random if the "
                "order means nothing)."
            )
    full_table = None
    if table.n_rows > settings.max_compare_rows:
        full_table = table
        table = table.subset(
            stratified_sample(table.y, settings.max_compare_rows, settings.random_state)
        )
        console.print(
            f"comparing on a stratified sample of {table.n_rows:,} of {full_table.n_rows:,} "
            "leads (max_compare_rows); the chosen model trains on all of them"
        )
    y = table.y.astype(int)
    weights = table_weights(table) if weighted else None
    if weights is not None:
        console.print(
            f"weighting the leads by {table.roles.weight!r} (from {weights.min():.3g} to "
            f"{weights.max():.3g}; {np.sum(weights != 1):,} of {len(weights):,} leads not 1)"
        )
    profile = DataProfile(table.n_rows, int(y.sum()))
    plan = plan_columns(table.features, table.kinds, reference_time=table.roles.time)
    order = validation_order(table, row_order)
    repeats = 3 if profile.small and order is None else 1
    n_splits = fold_count(table.n_rows, cv or settings.cv_folds)
    folds = make_folds(y, order, n_splits, repeats, settings.random_state)
    n_folds = len(folds) // repeats
    total = len(candidates) * len(folds)
    with Progress(
        TextColumn("[bold]comparing models"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=total)
        results = cross_validate(
            table.features, y, candidates, folds=folds, plan=plan, profile=profile,
            seed=settings.random_state, n_jobs=settings.n_jobs, keep_models=keep_models,
            progress=lambda name: bar.update(task, advance=1, description=name),
            race=race_folds(folds, order is not None, profile.small, len(candidates)),
            sample_weight=weights,
        )  # fmt: skip
    business = settings.business
    recency = np.arange(len(y)) if order is None else order.to_numpy()
    rows = summarise(results, y, business, recency=recency, sample_weight=weights)
    rows["label"] = rows["model"].map({c.name: c.label for c in candidates})
    rows["complexity"] = rows["model"].map({c.name: c.complexity for c in candidates})
    _mark_folds(rows, results)
    ranked = rank(rows, sort)
    budget_s = parse_budget(budget)
    if budget_s == "auto":
        budget_s = auto_budget(time.perf_counter() - started, profile)
    tuning: dict[str, TuningResult] = {}
    if budget_s > 0:
        tuning = tune_leaders(
            ranked, rows, results, candidates, table.features, y, folds=folds, plan=plan,
            profile=profile, settings=settings, sort=sort, budget_s=float(budget_s),
            keep_models=keep_models, recency=recency, console=console,
            show_progress=show_progress, sample_weight=weights,
        )  # fmt: skip
        improved = {name: t for name, t in tuning.items() if t.improved and t.result}
        for name, t in improved.items():
            assert t.result is not None
            results[name] = t.result
        if improved:
            rows = summarise(results, y, business, recency=recency, sample_weight=weights)
            rows["label"] = rows["model"].map({c.name: c.label for c in candidates})
            rows["complexity"] = rows["model"].map({c.name: c.complexity for c in candidates})
            _mark_folds(rows, results)
            ranked = rank(rows, sort)
    ranked["tuned"] = ranked["model"].map(lambda m: m in tuning and tuning[m].improved)
    finished = ranked[ranked["complete"]].reset_index(drop=True)
    best, note = choose(finished, sort, profile, n_folds, results, forward=order is not None)
    for name, result in results.items():
        if name != best:
            result.models = []  # only the chosen model's folds are worth their memory
    seen = ~np.isnan(results[best].oof)
    w_seen = part(weights, seen)
    calibrated = (
        LogitCalibrator()
        .fit(results[best].oof[seen], y[seen], w_seen)
        .transform(results[best].oof[seen])
    )
    baselines = choose_threshold(y[seen], calibrated, business, w_seen)
    ordered = ["model", "label", "auc", "auc_std", "pr_auc", "accuracy", "precision", "recall",
               "f1", "log_loss", "brier", "lift_top10", "recall_top10", "profit", "ece",
               "auc_latest", "threshold", "fit_seconds", "complexity", "tuned", "folds_run",
               "complete"]  # fmt: skip
    board = Leaderboard(
        table=ranked[ordered],
        results=results,
        best=best,
        sort=sort,
        selection_note=note,
        lead_table=table,
        plan=plan,
        profile=profile,
        business=business,
        baselines=baselines,
        suspects=suspects,
        n_folds=n_folds,
        folds=folds,
        seconds=time.perf_counter() - started,
        full_table=full_table,
        row_order=row_order,
        validation=_validation_note(table, row_order),
        tuning=tuning,
        weighted=weights is not None,
    )
    return board


def table_weights(table: LeadTable) -> np.ndarray:
    """The table's sample weights, for a weighted comparison (an error when it has none)."""
    if table.weights is None:
        raise LeadscoreError(
            "a weighted comparison needs a weight column: give the table a weight role "
            "(roles.weight; `store_dataset(weight_by_propensity=True)` writes one)"
        )
    return check_weights(table.weights, table.n_rows, f"weight column {table.roles.weight!r}")


def _mark_folds(rows: pd.DataFrame, results: dict[str, CandidateResult]) -> None:
    """How many folds each candidate ran, and whether that was all of them."""
    rows["folds_run"] = rows["model"].map({n: r.n_folds for n, r in results.items()})
    rows["complete"] = rows["model"].map({n: r.complete for n, r in results.items()})


def _jobs(n_jobs: int) -> int:
    return n_jobs if n_jobs > 0 else (os.cpu_count() or 1)


def validation_order(table: LeadTable, row_order: RowOrder | None) -> pd.Series | None:
    """What forward validation orders the rows by: the time column, or the file order
    when the rows were found (or said) to be in time order; ``None``: shuffled folds."""
    if table.time is not None:
        return table.time.reset_index(drop=True)
    if row_order is not None and row_order.ordered:
        return pd.Series(np.arange(table.n_rows, dtype=float))
    return None


def _validation_note(table: LeadTable, row_order: RowOrder | None) -> str:
    if table.time is not None:
        return f"forward in time by {table.roles.time!r}"
    if row_order is not None and row_order.ordered:
        return f"forward in file order ({row_order.reason})"
    return "shuffled, stratified" + (f" ({row_order.reason})" if row_order is not None else "")


def prepare_for_modeling(
    data: TableLike | LeadTable,
    roles: Roles | None,
    settings: Settings,
    console: Console | None = None,
    **role_overrides: Any,
) -> tuple[LeadTable, list[LeakageSuspect]]:
    """Prepare the table and leave out leakage suspects, saying so loudly."""
    if isinstance(data, LeadTable):
        table = data
    else:
        merged = (roles or settings.roles).merged(**role_overrides)
        table = prepare_table(data, merged, settings)
    described = settings.leakage.dictionary
    drop, suspects = leakage_exclusions(
        table,
        settings.random_state,
        dictionary=read_dictionary(described) if described is not None else None,
        strict=settings.leakage.strict,
    )
    if console is not None:
        for s in suspects:
            if s.verdict == "strong":
                console.print(
                    f"[yellow]strong column {'kept' if s.kept else 'LEFT OUT (strict)'}:[/] "
                    f"[bold]{s.column}[/] (AUC alone {s.auc:.2f}) — nothing shows it is "
                    "recorded after the outcome; confirm it is known before the outcome "
                    f"(`leadscore audit` shows the AUC with and without it; --exclude "
                    f"{s.column!r} leaves it out)."
                )
            elif s.kept:
                console.print(
                    f"[yellow]kept on purpose:[/] leakage suspect [bold]{s.column}[/] ({s.reason})"
                )
            else:
                console.print(
                    f"[bold red]LEFT OUT:[/] [bold]{s.column}[/] — {s.reason}. "
                    f"Keep it with --keep {s.column!r} only if it is known before contact."
                )
    table = table.without(drop)
    if table.features.shape[1] == 0:
        raise LeadscoreError("no feature columns remain after leaving out leakage suspects")
    return table, suspects
