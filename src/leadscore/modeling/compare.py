"""Cross-validated comparison of the model zoo: the leaderboard.

Every candidate is fitted on the same folds (stratified k-fold, or time-ordered folds
when the table has a time column: train on the past, validate on what came next), in
parallel over candidates × folds, with a progress bar. The out-of-fold predictions are
kept: training reuses them to calibrate the chosen model and to pick its threshold, so
nothing is fitted twice.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from leadscore.config import Business, Roles, Settings
from leadscore.data.schema import LeadTable, prepare_table
from leadscore.data.sources import TableLike
from leadscore.errors import LeadscoreError
from leadscore.modeling.calibration import LogitCalibrator
from leadscore.modeling.dictionary import read_dictionary
from leadscore.modeling.leakage import LeakageSuspect, leakage_exclusions
from leadscore.modeling.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER, evaluate, safe_auc
from leadscore.modeling.preprocess import ColumnPlan, plan_columns
from leadscore.modeling.thresholds import ThresholdChoice, choose_threshold
from leadscore.modeling.zoo import Candidate, DataProfile, get_candidates

Fold = tuple[np.ndarray, np.ndarray]
#: fewer leads than this in either outcome class cannot be validated meaningfully
MIN_CLASS_COUNT = 10
SORT_KEYS = sorted(HIGHER_IS_BETTER | LOWER_IS_BETTER)


def make_folds(
    y: np.ndarray,
    time_values: pd.Series | None = None,
    n_splits: int = 5,
    repeats: int = 1,
    seed: int = 0,
) -> list[Fold]:
    """Validation folds: stratified (repeated when asked) or, with times, forward-chaining.

    With a time column the rows are ordered by time and cut into ``n_splits + 1`` blocks;
    fold *k* trains on blocks ``0..k-1`` and validates on block ``k``, so every
    validation lead is newer than every lead its model learned from.
    """
    y = np.asarray(y)
    counts = np.bincount(y, minlength=2)
    smallest = int(counts.min())
    if smallest < MIN_CLASS_COUNT:
        which = "converted" if counts[1] <= counts[0] else "non-converted"
        raise LeadscoreError(
            f"only {smallest} {which} lead(s): a model needs at least {MIN_CLASS_COUNT} leads of "
            "each outcome to learn a pattern that validation can check; add more labelled leads"
        )
    if time_values is not None:
        order = np.argsort(time_values.to_numpy(), kind="stable")
        blocks = np.array_split(order, n_splits + 1)
        folds = [(np.concatenate(blocks[:k]), blocks[k]) for k in range(1, n_splits + 1)]
        usable = [f for f in folds if len(np.unique(y[f[0]])) == 2]
        if not usable:
            raise LeadscoreError(
                "time-ordered validation needs both outcomes in the earliest leads; "
                "use fewer folds (--cv) or no time column"
            )
        return usable
    n_splits = min(n_splits, smallest)
    if n_splits < 2:
        raise LeadscoreError(
            f"only {smallest} lead(s) in the smaller outcome class: cross-validation needs at "
            "least 2 converted and 2 non-converted leads"
        )
    folds: list[Fold] = []
    for r in range(repeats):
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed + r)
        folds.extend(splitter.split(np.zeros(len(y)), y))
    return folds


def stratified_sample(y: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted row positions of a sample of ``size`` rows with the outcome rate of ``y``."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    chosen = []
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        take = max(1, round(size * len(rows) / len(y)))
        chosen.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(chosen))


def _fit_fold(
    pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, fold: Fold, keep_model: bool
) -> tuple[np.ndarray, float, Pipeline | None]:
    train, test = fold
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from small folds
        model = clone(pipeline).fit(X.iloc[train], y[train])
    seconds = time.perf_counter() - start
    return model.predict_proba(X.iloc[test])[:, 1], seconds, model if keep_model else None


@dataclass
class CandidateResult:
    """Out-of-fold predictions of one candidate and its per-fold AUCs."""

    name: str
    oof: np.ndarray  # mean raw probability per row over repeats; NaN where never validated
    fold_auc: list[float]
    fit_seconds: float
    models: list[Pipeline] = field(default_factory=list)  # fitted fold models, when kept


@dataclass
class Leaderboard:
    """The comparison's outcome: one row per candidate, plus what training reuses."""

    table: pd.DataFrame
    results: dict[str, CandidateResult]
    best: str
    sort: str
    selection_note: str
    lead_table: LeadTable
    plan: ColumnPlan
    profile: DataProfile
    business: Business
    baselines: ThresholdChoice
    suspects: list[LeakageSuspect] = field(default_factory=list)
    n_folds: int = 5
    seconds: float = 0.0
    #: the whole table when the comparison ran on a sample of it
    full_table: LeadTable | None = None
    #: the validation folds, in the order of each result's fold models
    folds: list[Fold] = field(default_factory=list)
    #: the MLflow run that recorded this comparison, if tracked
    run_id: str | None = None

    @property
    def validated(self) -> np.ndarray:
        """Rows that have an out-of-fold prediction."""
        return ~np.isnan(self.results[self.best].oof)

    def to_csv(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(out, index=False)
        return out

    def to_json(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        records = json.loads(self.table.to_json(orient="records"))
        out.write_text(
            json.dumps(
                {
                    "sort": self.sort,
                    "best": self.best,
                    "selection_note": self.selection_note,
                    "folds": self.n_folds,
                    "rows": self.lead_table.n_rows,
                    "positive_rate": self.lead_table.positive_rate,
                    "baselines": self.baselines.to_dict(),
                    "excluded": self.lead_table.excluded,
                    "models": records,
                },
                indent=2,
            )
        )
        return out

    def write(self, path: str | Path) -> Path:
        """Write as CSV or JSON by extension."""
        suffix = Path(path).suffix.lower()
        if suffix == ".json":
            return self.to_json(path)
        if suffix == ".csv":
            return self.to_csv(path)
        raise LeadscoreError(f"leaderboard file must end in .csv or .json, not {path}")

    def render(self, console: Console) -> None:
        """Print the leaderboard and the profit of the naive policies."""
        t = Table(
            title=f"Leaderboard ({self.n_folds} folds, sorted by {self.sort})", header_style="bold"
        )
        columns = [
            ("model", "label", "{}"), ("AUC", "auc", "{:.4f}"), ("± fold", "auc_std", "{:.3f}"),
            ("PR-AUC", "pr_auc", "{:.3f}"), ("lift@10%", "lift_top10", "{:.2f}"),
            ("recall@10%", "recall_top10", "{:.2f}"), ("precision", "precision", "{:.3f}"),
            ("recall", "recall", "{:.3f}"), ("F1", "f1", "{:.3f}"),
            ("log loss", "log_loss", "{:.3f}"), ("Brier", "brier", "{:.3f}"),
            ("profit", "profit", "{:,.0f}"), ("fit s", "fit_seconds", "{:.1f}"),
        ]  # fmt: skip
        for header, _, _ in columns:
            t.add_column(header, justify="left" if header == "model" else "right")
        for _, row in self.table.iterrows():
            style = "bold green" if row["model"] == self.best else None
            t.add_row(*[fmt.format(row[key]) for _, key, fmt in columns], style=style)
        console.print(t)
        b = self.baselines
        best_profit = float(self.table.set_index("model").loc[self.best, "profit"])
        console.print(
            f"Profit on {b.n_leads:,} validated leads — {self.best} at its threshold: "
            f"[bold]{best_profit:,.0f}[/], contact everyone: {b.contact_all_profit:,.0f}, "
            f"contact no one: {b.contact_none_profit:,.0f}"
        )
        console.print(f"Chosen: [bold green]{self.best}[/] — {self.selection_note}")


def _rank(table: pd.DataFrame, sort: str) -> pd.DataFrame:
    ascending = sort in LOWER_IS_BETTER
    return table.sort_values([sort, "auc"], ascending=[ascending, False]).reset_index(drop=True)


def _choose(table: pd.DataFrame, sort: str, profile: DataProfile, n_folds: int) -> tuple[str, str]:
    """The best candidate; with small data the simplest within one standard error."""
    top = table.iloc[0]
    if not (profile.small and sort == "auc"):
        return str(top["model"]), f"best {sort} across the folds"
    se = float(top["auc_std"]) / np.sqrt(max(n_folds, 1))
    close = table[table["auc"] >= top["auc"] - se]
    simplest = close.sort_values(["complexity", "auc"], ascending=[True, False]).iloc[0]
    if simplest["model"] == top["model"]:
        return str(top["model"]), "best AUC; small data, and no simpler model comes close"
    return (
        str(simplest["model"]),
        f"small data ({profile.n_rows} leads, {profile.n_positive} converted): the simplest "
        f"model within one standard error ({se:.3f}) of the best AUC ({top['model']}, "
        f"{top['auc']:.3f}) — differences that small are noise here",
    )


def _tasks(candidates: list[Candidate], folds: list[Fold]) -> Iterator[tuple[int, int]]:
    # Slowest fits first, so the last tasks to finish are short ones and all cores stay busy.
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].cost)
    for i in order:
        for f in range(len(folds)):
            yield i, f


def cross_validate(
    X: pd.DataFrame,
    y: np.ndarray,
    candidates: list[Candidate],
    *,
    folds: list[Fold],
    plan: ColumnPlan,
    profile: DataProfile,
    seed: int = 0,
    n_jobs: int = -1,
    keep_models: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, CandidateResult]:
    """Out-of-fold probabilities of every candidate on the given folds.

    With ``keep_models`` every fitted fold model is returned too (in fold order), so the
    folds can serve as a bagged final model without fitting again.
    """
    y = np.asarray(y).astype(int)
    pipelines = [c.pipeline(plan, profile, seed) for c in candidates]
    sums = {c.name: np.zeros(len(y)) for c in candidates}
    counts = {c.name: np.zeros(len(y)) for c in candidates}
    aucs: dict[str, list[float]] = {c.name: [] for c in candidates}
    seconds = {c.name: 0.0 for c in candidates}
    fitted: dict[str, dict[int, Pipeline]] = {c.name: {} for c in candidates}
    tasks = list(_tasks(candidates, folds))
    jobs = n_jobs if n_jobs != -1 else (os.cpu_count() or 1)
    jobs = max(1, min(jobs, len(tasks)))
    runner = Parallel(n_jobs=jobs, return_as="generator", prefer="processes")
    results = runner(
        delayed(_fit_fold)(pipelines[i], X, y, folds[f], keep_models) for i, f in tasks
    )
    for (i, f), (proba, secs, model) in zip(tasks, results, strict=True):
        name = candidates[i].name
        test = folds[f][1]
        sums[name][test] += proba
        counts[name][test] += 1
        aucs[name].append(safe_auc(y[test], proba))
        seconds[name] += secs
        if model is not None:
            fitted[name][f] = model
        if progress:
            progress(name)
    out = {}
    for c in candidates:
        with np.errstate(invalid="ignore", divide="ignore"):
            oof = np.where(counts[c.name] > 0, sums[c.name] / counts[c.name], np.nan)
        models = [fitted[c.name][f] for f in sorted(fitted[c.name])]
        out[c.name] = CandidateResult(
            c.name, oof, aucs[c.name], seconds[c.name] / len(folds), models
        )
    return out


def summarise(
    results: dict[str, CandidateResult], y: np.ndarray, business: Business
) -> pd.DataFrame:
    """Leaderboard rows: metrics of calibrated out-of-fold probabilities, each candidate at
    its own profit-optimal threshold."""
    rows = []
    for name, result in results.items():
        seen = ~np.isnan(result.oof)
        y_seen = y[seen]
        calibrated = LogitCalibrator().fit(result.oof[seen], y_seen).transform(result.oof[seen])
        choice = choose_threshold(y_seen, calibrated, business)
        finite = [a for a in result.fold_auc if np.isfinite(a)]
        rows.append(
            {
                "model": name,
                **evaluate(y_seen, calibrated, choice.threshold, business),
                "auc_std": float(np.std(finite)) if len(finite) > 1 else float("nan"),
                "threshold": choice.threshold,
                "fit_seconds": result.fit_seconds,
            }
        )
    return pd.DataFrame(rows)


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
    track: bool | None = None,
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
        Candidate names (default: the whole zoo, see ``leadscore.modeling.zoo.ZOO``).
    sort:
        Metric to rank by: auc, pr_auc, profit, recall, precision, f1, lift_top10, …
    cv:
        Number of folds (default ``settings.cv_folds``).
    keep_models:
        Keep the best candidate's fitted fold models (training bags them).
    track:
        Record the comparison as an MLflow run (default: ``settings.tracking``).

    Example
    -------
    >>> board = compare("leads.csv", target="converted")  # doctest: +SKIP
    >>> board.best  # doctest: +SKIP
    'lightgbm'
    """
    started = time.perf_counter()
    settings = settings or Settings()
    if sort not in SORT_KEYS:
        raise LeadscoreError(f"cannot sort by {sort!r}; choose one of: {', '.join(SORT_KEYS)}")
    candidates = get_candidates(models)
    table, suspects = prepare_for_modeling(data, roles, settings, console, **role_overrides)
    assert table.y is not None
    console = console or Console(stderr=True)
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
    profile = DataProfile(table.n_rows, int(y.sum()))
    plan = plan_columns(table.features, table.kinds, reference_time=table.roles.time)
    repeats = 3 if profile.small and table.time is None else 1
    folds = make_folds(y, table.time, cv or settings.cv_folds, repeats, settings.random_state)
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
        )  # fmt: skip
    business = settings.business
    rows = summarise(results, y, business)
    rows["label"] = rows["model"].map({c.name: c.label for c in candidates})
    rows["complexity"] = rows["model"].map({c.name: c.complexity for c in candidates})
    ranked = _rank(rows, sort)
    best, note = _choose(ranked, sort, profile, n_folds)
    for name, result in results.items():
        if name != best:
            result.models = []  # only the chosen model's folds are worth their memory
    seen = ~np.isnan(results[best].oof)
    calibrated = (
        LogitCalibrator().fit(results[best].oof[seen], y[seen]).transform(results[best].oof[seen])
    )
    baselines = choose_threshold(y[seen], calibrated, business)
    ordered = ["model", "label", "auc", "auc_std", "pr_auc", "accuracy", "precision", "recall",
               "f1", "log_loss", "brier", "lift_top10", "recall_top10", "profit", "ece",
               "threshold", "fit_seconds", "complexity"]  # fmt: skip
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
    )
    if settings.tracking if track is None else track:
        from leadscore.registry import Registry

        board.run_id = Registry(settings).log_comparison(board, source=_source_name(data))
    return board


def _source_name(data: object) -> str:
    return str(data) if isinstance(data, (str, Path)) else type(data).__name__


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
