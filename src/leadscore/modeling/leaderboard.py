"""The leaderboard: every candidate's cross-validated metrics, and what training reuses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape
from sklearn.pipeline import Pipeline

from leadscore.config import Business
from leadscore.data.lead_table import LeadTable
from leadscore.errors import LeadscoreError
from leadscore.modeling.calibration import LogitCalibrator
from leadscore.modeling.families import DataProfile
from leadscore.modeling.folds import Fold
from leadscore.modeling.leakage import LeakageSuspect
from leadscore.modeling.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER, evaluate, safe_auc
from leadscore.modeling.order import RowOrder
from leadscore.modeling.preprocess import ColumnPlan
from leadscore.modeling.thresholds import ThresholdChoice, choose_threshold
from leadscore.terminal import Column, fitted_table

SORT_KEYS = sorted(HIGHER_IS_BETTER | LOWER_IS_BETTER)
#: the share of the most recent validated rows the leaderboard reports on separately
LATEST_SHARE = 0.2


@dataclass
class CandidateResult:
    """Out-of-fold predictions of one candidate and its per-fold AUCs."""

    name: str
    oof: np.ndarray  # mean raw probability per row over repeats; NaN where never validated
    fold_auc: list[float]
    fit_seconds: float
    models: list[Pipeline] = field(default_factory=list)  # fitted fold models, when kept
    #: folds it ran: fewer than all when it trailed the leaders after the first ones
    n_folds: int = 0
    complete: bool = True


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
    #: whether the rows were found to be in time order (no time column), and why
    row_order: RowOrder | None = None
    #: how the folds were made, in words
    validation: str = "shuffled, stratified"
    #: hyperparameter searches run, by family (``TuningResult``)
    tuning: dict[str, Any] = field(default_factory=dict)
    #: every fit and metric weighted by the table's weight column (``LeadTable.weights``)
    weighted: bool = False

    @property
    def params(self) -> dict[str, dict[str, Any]]:
        """Tuned estimator settings of the families whose search beat their defaults."""
        return {name: t.params for name, t in self.tuning.items() if t.improved}

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
                    "validation": self.validation,
                    "row_order": self.row_order.to_dict() if self.row_order else None,
                    "tuning": [t.to_dict() for t in self.tuning.values()],
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
        # (header, column, format, priority): the higher the priority, the sooner a
        # column is left out of a narrow terminal (the CSV and JSON keep them all)
        columns = [
            ("model", "label", "{}", 0), ("AUC", "auc", "{:.4f}", 0),
            ("± fold", "auc_std", "{:.3f}", 1), ("PR-AUC", "pr_auc", "{:.3f}", 2),
            ("lift@10%", "lift_top10", "{:.2f}", 1), ("recall@10%", "recall_top10", "{:.2f}", 3),
            ("precision", "precision", "{:.3f}", 3), ("recall", "recall", "{:.3f}", 3),
            ("F1", "f1", "{:.3f}", 3), ("log loss", "log_loss", "{:.3f}", 2),
            ("Brier", "brier", "{:.3f}", 2), ("profit", "profit", "{:,.0f}", 0),
            ("AUC latest 5th", "auc_latest", "{:.3f}", 2), ("fit s", "fit_seconds", "{:.1f}", 1),
        ]  # fmt: skip
        rows, styles = [], []
        for _, row in self.table.iterrows():
            style = "bold green" if row["model"] == self.best else None
            cells = [fmt.format(row[key]) for _, key, fmt, _ in columns]
            if not row.get("complete", True):
                style = "dim"
                cells[0] += f" (stopped after {int(row['folds_run'])} folds)"
            rows.append(cells)
            styles.append(style)
        t, left_out = fitted_table(
            [Column(h, priority, wrap=h == "model", justify="left" if h == "model" else "right")
             for h, _, _, priority in columns],
            rows, console.width,
            title=f"Leaderboard ({self.n_folds} folds, sorted by {self.sort})", header_style="bold",
        )  # fmt: skip
        for i, style in enumerate(styles):
            t.rows[i].style = style
        console.print(t)
        if left_out:
            console.print(
                f"[dim]Left out at this width: {', '.join(left_out)} (a wider terminal shows "
                "them; --out leaderboard.csv or .json keeps every column)[/]"
            )
        b = self.baselines
        best_profit = float(self.table.set_index("model").loc[self.best, "profit"])
        console.print(
            f"Profit on {b.n_leads:,} validated leads — {self.best} at its threshold: "
            f"[bold]{best_profit:,.0f}[/], contact everyone: {b.contact_all_profit:,.0f}, "
            f"contact no one: {b.contact_none_profit:,.0f}"
        )
        console.print(f"[dim]Profit counts {escape(self.business.basis)}[/]")
        console.print(f"Validation: {self.validation}")
        if "complete" in self.table and not self.table["complete"].all():
            console.print(
                "[dim]Models more than 0.01 AUC behind the leaders after the first folds "
                "stopped there (their figures are on those folds).[/]"
            )
        console.print(f"Chosen: [bold green]{self.best}[/] — {self.selection_note}")


def latest_rows(seen: np.ndarray, recency: np.ndarray, share: float = LATEST_SHARE) -> np.ndarray:
    """Mask of the most recent ``share`` of the validated rows (by ``recency``: a time or a
    position in the file)."""
    at = np.flatnonzero(seen)
    order = np.argsort(np.asarray(recency)[at], kind="stable")
    latest = np.zeros(len(seen), dtype=bool)
    latest[at[order[int(len(at) * (1 - share)) :]]] = True
    return latest


def summarise(
    results: dict[str, CandidateResult],
    y: np.ndarray,
    business: Business,
    recency: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> pd.DataFrame:
    """Leaderboard rows: metrics of calibrated out-of-fold probabilities, each candidate at
    its own profit-optimal threshold; ``auc_latest`` is the AUC on the most recent fifth of
    the validated rows (by ``recency``, default: the file order). With ``sample_weight``
    calibration, threshold and metrics count each lead by its weight."""
    rows = []
    recency = np.arange(len(y)) if recency is None else recency
    w = sample_weight
    for name, result in results.items():
        seen = ~np.isnan(result.oof)
        y_seen, w_seen = y[seen], None if w is None else w[seen]
        calibrated = (
            LogitCalibrator().fit(result.oof[seen], y_seen, w_seen).transform(result.oof[seen])
        )
        choice = choose_threshold(y_seen, calibrated, business, w_seen)
        finite = [a for a in result.fold_auc if np.isfinite(a)]
        latest = latest_rows(seen, recency)
        rows.append(
            {
                "model": name,
                **evaluate(y_seen, calibrated, choice.threshold, business, w_seen),
                "auc_std": float(np.std(finite)) if len(finite) > 1 else float("nan"),
                "auc_latest": safe_auc(
                    y[latest], result.oof[latest], None if w is None else w[latest]
                ),
                "threshold": choice.threshold,
                "fit_seconds": result.fit_seconds,
            }
        )
    return pd.DataFrame(rows)
