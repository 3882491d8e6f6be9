"""An evaluation report of a trained model, as one self-contained HTML file.

:func:`write_report` reads a model directory saved by ``leadscore train`` (its
``metadata.json``, the out-of-fold scores in ``evaluation.parquet`` and, when present,
``importance.csv``) and writes ``report.html`` plus every plot as a PNG file. The HTML
has its CSS inline and every plot embedded as a base64 PNG, so it can be mailed or
attached to a ticket and opened anywhere without the PNG files.

Plots are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas:
pyplot and its global state (backend, rcParams, open figures) are never touched.

Example
-------
>>> from leadscore.modeling.report import write_report
>>> write_report("model/", "report/")  # doctest: +SKIP
PosixPath('report/report.html')
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

from leadscore.config import Business
from leadscore.errors import ArtifactError
from leadscore.modeling.metrics import expected_calibration_error, lift_at
from leadscore.modeling.model import EVALUATION_FILE, IMPORTANCE_FILE, METADATA_FILE
from leadscore.modeling.thresholds import Cutoffs, choose_threshold, profit_curve

REPORT_FILE = "report.html"
#: ROC and precision-recall curves are computed on at most this many (random) leads
MAX_CURVE_ROWS = 200_000
#: lines are drawn through at most this many points (an 840-px-wide plot shows no more)
MAX_PLOT_POINTS = 2_000
#: features shown in the importance chart
TOP_FEATURES = 15
CALIBRATION_BINS = 10

FIGSIZE = (7.0, 4.5)
DPI = 120
TITLE_SIZE = 14
LABEL_SIZE = 12
TICK_SIZE = 11
LEGEND_SIZE = 10
# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies
BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#7F7F7F", "#CC79A7",
)  # fmt: skip


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ReportData:
    """Everything a report is drawn from, read from a model directory.

    Attributes
    ----------
    metadata:
        The parsed ``metadata.json``.
    y:
        Outcome (0/1) of every training lead, from ``evaluation.parquet``.
    score:
        Out-of-fold calibrated probability of every training lead.
    importance:
        ``importance.csv`` (feature, importance, std), or ``None`` when absent.
    """

    metadata: dict[str, Any]
    y: np.ndarray
    score: np.ndarray
    importance: pd.DataFrame | None

    @property
    def label(self) -> str:
        """Readable model name (e.g. "Logistic regression (L2)")."""
        return str(self.metadata.get("model_label") or self.metadata.get("model") or "model")

    @property
    def business(self) -> Business:
        """The value and costs that define profit, as the model was trained with."""
        return Business.model_validate(self.metadata.get("business") or {})

    @cached_property
    def threshold(self) -> dict[str, float]:
        """The chosen contact threshold and the profits of it and the naive policies.

        Taken from the metadata; recomputed from the scores for models saved without it.
        """
        saved = self.metadata.get("threshold")
        if isinstance(saved, dict) and saved.get("threshold") is not None:
            return saved
        return choose_threshold(self.y, self.score, self.business).to_dict()

    @property
    def cutoffs(self) -> Cutoffs:
        """Contact, hot and warm cutoffs on the calibrated probability."""
        saved = self.metadata.get("cutoffs") or {}
        contact = float(self.threshold["threshold"])
        return Cutoffs(
            contact=_number(saved.get("contact"), contact),
            hot=_number(saved.get("hot"), contact),
            warm=_number(saved.get("warm"), contact),
        )

    @cached_property
    def profit_curve(self) -> pd.DataFrame:
        """Profit of contacting the top-k leads for every k (see ``profit_curve``), exact."""
        return profit_curve(self.y, self.score, self.business)

    @property
    def metrics(self) -> dict[str, Any]:
        """The cross-validated metrics saved with the model (may be empty)."""
        return dict(self.metadata.get("cv_metrics") or {})


def _number(value: Any, default: float) -> float:
    """``value`` as a finite float, else ``default``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def load_report_data(model_dir: str | Path) -> ReportData:
    """Read the metadata, out-of-fold scores and importance of a saved model.

    Parameters
    ----------
    model_dir:
        Directory written by ``leadscore train`` (``LeadModel.save``).

    Raises
    ------
    ArtifactError
        When the directory, ``metadata.json`` or ``evaluation.parquet`` is missing or
        unreadable.

    Example
    -------
    >>> data = load_report_data("model/")  # doctest: +SKIP
    >>> data.label, len(data.y)  # doctest: +SKIP
    ('Logistic regression (L2)', 3000)
    """
    path = Path(model_dir)
    if not path.is_dir():
        raise ArtifactError(f"model directory not found: {path}")
    return ReportData(
        metadata=_read_metadata(path / METADATA_FILE),
        **_read_evaluation(path / EVALUATION_FILE),
        importance=_read_importance(path / IMPORTANCE_FILE),
    )


def _read_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(
            f"{path.parent} is not a leadscore model directory: {METADATA_FILE} is missing"
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ArtifactError(f"{path} does not hold a JSON object")
    return meta


def _read_evaluation(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ArtifactError(
            f"{path.parent} has no {EVALUATION_FILE} (the out-of-fold scores a report is "
            "drawn from); models saved by older leadscore versions lack it: retrain the model"
        )
    try:
        frame = pd.read_parquet(path, columns=["y", "score"])
    except Exception as exc:  # pyarrow raises many kinds; all mean "unusable"
        raise ArtifactError(f"cannot read {path} (needs columns y and score): {exc}") from None
    frame = frame.dropna()
    if frame.empty:
        raise ArtifactError(f"{path} holds no scored leads")
    y = frame["y"].to_numpy().astype(int)
    if not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
        raise ArtifactError(f"{path}: column y must hold both outcomes, as 0 and 1")
    return {"y": y, "score": frame["score"].to_numpy(dtype=float)}


def _read_importance(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None
    if not {"feature", "importance"} <= set(table.columns) or table.empty:
        return None
    if "std" not in table.columns:
        table["std"] = 0.0
    return table


# ---------------------------------------------------------------------------- helpers


def _figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A new figure on its own Agg canvas (no pyplot) with ``ncols`` side-by-side axes."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Title, axis labels and tick labels in sizes a slide or a mail can carry."""
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(alpha=0.3)


def _legend(ax: Axes, loc: str = "best") -> None:
    ax.legend(fontsize=LEGEND_SIZE, loc=loc, framealpha=0.9)


def _thousands(ax: Axes, axis: str = "y") -> None:
    """Show large numbers on an axis with thousands separators (12,500)."""
    formatter = FuncFormatter(lambda value, _: f"{value:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def _percent_axes(ax: Axes, x: bool = True, y: bool = True) -> None:
    """Label 0–1 shares on the axes as 0–100 %."""
    if x:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if y:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _thin(n: int, keep: Iterable[int] = (), limit: int = MAX_PLOT_POINTS) -> np.ndarray:
    """Indices of at most about ``limit`` evenly spaced points of ``n``, ends and ``keep``."""
    if n <= limit:
        return np.arange(n)
    picked = np.linspace(0, n - 1, limit).round().astype(int)
    return np.unique(np.concatenate([picked, np.fromiter(keep, dtype=int)]))


def _sample(y: np.ndarray, p: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of at most ``limit`` leads (all of them when fewer)."""
    if len(y) <= limit:
        return y, p
    rows = np.random.default_rng(0).choice(len(y), size=limit, replace=False)
    return y[rows], p[rows]


def _at_threshold(data: ReportData) -> dict[str, int]:
    """Confusion counts at the contact threshold: tp, fp, fn, tn."""
    contact = data.score >= data.cutoffs.contact
    positive = data.y == 1
    return {
        "tp": int(np.sum(contact & positive)),
        "fp": int(np.sum(contact & ~positive)),
        "fn": int(np.sum(~contact & positive)),
        "tn": int(np.sum(~contact & ~positive)),
    }


def _ranked_gains(data: ReportData) -> tuple[np.ndarray, np.ndarray]:
    """Share of leads contacted (best first) and share of conversions found, from 0 to 1."""
    order = np.argsort(-data.score, kind="stable")
    found = np.concatenate([[0], np.cumsum(data.y[order])])
    contacted = np.arange(len(found)) / len(data.y)
    return contacted, found / max(found[-1], 1)


def _fmt(value: Any, kind: str = "num") -> str:
    """A metadata value for a table cell: missing → "–", shares as %, money with commas."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    if kind == "pct":
        return f"{100 * float(value):.1f} %"
    if kind == "money":
        return f"{float(value):,.0f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "x":
        return f"{float(value):.2f}×"
    if kind == "sec":
        return f"{float(value):.1f} s"
    return f"{float(value):.3f}"


# ---------------------------------------------------------------------------- plots


def plot_roc(data: ReportData) -> Figure:
    """ROC curve with its AUC, the diagonal of random guessing and the chosen threshold.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_roc(load_report_data("model/")).savefig("roc.png")  # doctest: +SKIP
    """
    y, p = _sample(data.y, data.score, MAX_CURVE_ROWS)
    fpr, tpr, _ = roc_curve(y, p)
    keep = _thin(len(fpr))
    auc = _number(data.metrics.get("auc"), float("nan"))
    counts = _at_threshold(data)
    fig, (ax,) = _figure()
    ax.plot(fpr[keep], tpr[keep], color=BLUE, lw=2.5, label=f"model (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1.5, label="random order (AUC = 0.5)")
    ax.plot(
        counts["fp"] / max(counts["fp"] + counts["tn"], 1),
        counts["tp"] / max(counts["tp"] + counts["fn"], 1),
        "o", color=RED, ms=10, label=f"contact threshold {data.cutoffs.contact:.3f}",
    )  # fmt: skip
    _style(
        ax, "ROC curve: how well the score ranks leads",
        "Non-converting leads contacted (%)", "Converting leads found (%)",
    )  # fmt: skip
    _percent_axes(ax)
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    _legend(ax, "lower right")
    return fig


def plot_precision_recall(data: ReportData) -> Figure:
    """Precision against recall with the PR-AUC and the base conversion rate.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_precision_recall(load_report_data("model/")).savefig("pr.png")  # doctest: +SKIP
    """
    y, p = _sample(data.y, data.score, MAX_CURVE_ROWS)
    precision, recall, _ = precision_recall_curve(y, p)
    keep = _thin(len(recall))
    pr_auc = _number(data.metrics.get("pr_auc"), float("nan"))
    if math.isnan(pr_auc):
        pr_auc = float(average_precision_score(y, p))
    base = float(np.mean(data.y))
    counts = _at_threshold(data)
    fig, (ax,) = _figure()
    ax.plot(
        recall[keep], precision[keep], color=BLUE, lw=2.5, label=f"model (PR-AUC = {pr_auc:.3f})"
    )
    ax.axhline(base, color=GREY, ls="--", lw=1.5, label=f"base rate ({100 * base:.1f} %)")
    contacted = counts["tp"] + counts["fp"]
    if contacted:
        ax.plot(
            counts["tp"] / max(counts["tp"] + counts["fn"], 1), counts["tp"] / contacted,
            "o", color=RED, ms=10, label=f"contact threshold {data.cutoffs.contact:.3f}",
        )  # fmt: skip
    _style(
        ax, "Precision vs recall",
        "Recall: converting leads found (%)", "Precision: contacted leads that convert (%)",
    )  # fmt: skip
    _percent_axes(ax)
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    _legend(ax, "upper right")
    return fig


def plot_calibration(data: ReportData) -> Figure:
    """Mean score against observed conversion rate in 10 equal-width score bins.

    Bin sizes are drawn as bars on a second (right) axis; the title carries the
    expected calibration error (ECE), computed on the same bins.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_calibration(load_report_data("model/")).savefig("cal.png")  # doctest: +SKIP
    """
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(data.score, edges[1:-1], right=True), 0, CALIBRATION_BINS - 1)
    sizes = np.bincount(which, minlength=CALIBRATION_BINS)
    score_sum = np.bincount(which, weights=data.score, minlength=CALIBRATION_BINS)
    hits = np.bincount(which, weights=data.y, minlength=CALIBRATION_BINS)
    used = sizes > 0
    mean_score, observed = score_sum[used] / sizes[used], hits[used] / sizes[used]
    ece = expected_calibration_error(data.y, data.score, CALIBRATION_BINS)
    fig, (ax,) = _figure()
    bars = ax.twinx()
    bars.bar((edges[:-1] + edges[1:]) / 2, sizes, width=0.09, color=GREY, alpha=0.25,
             label="leads in bin (right axis)")  # fmt: skip
    bars.set_ylabel("Leads in bin", fontsize=LABEL_SIZE, color=GREY)
    bars.tick_params(labelsize=TICK_SIZE, colors=GREY)
    _thousands(bars)
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1.5, label="perfect calibration")
    ax.plot(mean_score, observed, "o-", color=BLUE, lw=2.5, ms=8, label="model")
    _style(
        ax, f"Calibration (ECE = {100 * ece:.1f} percentage points)",
        "Predicted conversion probability (%)", "Observed conversion rate (%)",
    )  # fmt: skip
    _percent_axes(ax)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    handles = ax.get_legend_handles_labels()
    extra = bars.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=LEGEND_SIZE,
              loc="lower right", framealpha=0.9)  # fmt: skip
    return fig


def plot_confusion(data: ReportData) -> Figure:
    """Confusion matrix at the contact threshold: counts and shares of all leads.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_confusion(load_report_data("model/")).savefig("cm.png")  # doctest: +SKIP
    """
    c = _at_threshold(data)
    matrix = np.array([[c["tp"], c["fn"]], [c["fp"], c["tn"]]], dtype=float)
    total = matrix.sum()
    fig, (ax,) = _figure()
    ax.imshow(matrix / total, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    meaning = [["reached", "missed"], ["wasted call", "rightly skipped"]]
    for row in range(2):
        for col in range(2):
            share = matrix[row, col] / total
            ax.text(
                col, row, f"{matrix[row, col]:,.0f} leads\n{100 * share:.1f} %\n"
                f"({meaning[row][col]})", ha="center", va="center", fontsize=LABEL_SIZE,
                color="white" if share > 0.5 else "black",
            )  # fmt: skip
    ax.set_xticks([0, 1], ["contacted", "not contacted"])
    ax.set_yticks([0, 1], ["converted", "not converted"])
    _style(
        ax, f"Outcomes at the contact threshold {data.cutoffs.contact:.3f}",
        "Decision (score at or above the threshold → contacted)", "Actual outcome",
    )  # fmt: skip
    ax.grid(False)
    return fig


def plot_profit_threshold(data: ReportData) -> Figure:
    """Profit of contacting every lead scored at or above each threshold from 0 to 1.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_profit_threshold(load_report_data("model/")).savefig("p.png")  # doctest: +SKIP
    """
    curve = data.profit_curve
    best = int(curve["profit"].to_numpy().argmax())
    keep = _thin(len(curve), keep=[best])
    choice = data.threshold
    fig, (ax,) = _figure()
    ax.plot(
        curve["threshold"].to_numpy()[keep].clip(0, 1),
        curve["profit"].to_numpy()[keep],
        color=BLUE,
        lw=2.5,
        drawstyle="steps-post",
        label="contact leads at or above",
    )
    ax.axhline(
        choice["contact_all_profit"],
        color=GREEN,
        ls="--",
        lw=1.5,
        label=f"contact everyone ({choice['contact_all_profit']:,.0f})",
    )
    ax.axhline(
        choice["contact_none_profit"],
        color=PURPLE,
        ls=":",
        lw=2,
        label=f"contact no one ({choice['contact_none_profit']:,.0f})",
    )
    ax.plot(choice["threshold"], choice["profit"], "o", color=RED, ms=10,
            label=f"chosen {choice['threshold']:.3f} ({choice['profit']:,.0f})")  # fmt: skip
    _style(ax, "Profit by contact threshold", "Contact threshold (score 0–1)", "Profit")
    _thousands(ax)
    ax.set_xlim(0, 1)
    _legend(ax, "upper right")
    return fig


def plot_profit_contacted(data: ReportData) -> Figure:
    """Profit against the number of leads contacted, best-scored leads first.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_profit_contacted(load_report_data("model/")).savefig("p.png")  # doctest: +SKIP
    """
    curve = data.profit_curve
    best = int(curve["profit"].to_numpy().argmax())
    keep = _thin(len(curve), keep=[best])
    choice = data.threshold
    fig, (ax,) = _figure()
    ax.plot(
        curve["contacted"].to_numpy()[keep],
        curve["profit"].to_numpy()[keep],
        color=BLUE,
        lw=2.5,
        label="contact the best-scored leads first",
    )
    ax.plot(
        choice["contacted"],
        choice["profit"],
        "o",
        color=RED,
        ms=10,
        label=f"chosen: {int(choice['contacted']):,} leads ({choice['profit']:,.0f})",
    )
    capacity = data.business.capacity
    if capacity:
        ax.axvline(capacity, color=ORANGE, ls="--", lw=1.5, label=f"team capacity ({capacity:,})")
    ax.axhline(0, color=GREY, lw=1)
    _style(ax, "Profit by number of leads contacted", "Leads contacted (best first)", "Profit")
    _thousands(ax)
    _thousands(ax, "x")
    _legend(ax, "lower center")
    return fig


def plot_gains(data: ReportData) -> Figure:
    """Cumulative gains (left) and cumulative lift (right) when calling best-scored first.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_gains(load_report_data("model/")).savefig("gains.png")  # doctest: +SKIP
    """
    share, found = _ranked_gains(data)
    keep = _thin(len(share))
    fig, (gains, lift) = _figure(2)
    gains.plot(share[keep], found[keep], color=BLUE, lw=2.5, label="model")
    gains.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1.5, label="random order")
    _style(gains, "Cumulative gains", "Leads contacted (%)", "Conversions found (%)")
    _percent_axes(gains)
    gains.set(xlim=(0, 1), ylim=(0, 1.01))
    _legend(gains, "lower right")
    start = max(1, math.ceil(0.01 * len(data.y)))  # lift over fewer leads is noise
    rest = np.arange(start, len(share))
    rest = rest[_thin(len(rest))]
    lift.plot(share[rest], found[rest] / share[rest], color=BLUE, lw=2.5, label="model")
    lift.axhline(1, color=GREY, ls="--", lw=1.5, label="random order (1×)")
    top10 = _number(data.metrics.get("lift_top10"), lift_at(data.y, data.score, 0.1))
    lift.plot(0.1, top10, "o", color=RED, ms=9, label=f"top 10 %: {top10:.1f}×")
    _style(lift, "Lift", "Leads contacted (%)", "Lift (× the random rate)")
    _percent_axes(lift, y=False)
    lift.set(xlim=(0, 1), ylim=(0, None))
    _legend(lift, "upper right")
    return fig


def plot_score_distribution(data: ReportData) -> Figure:
    """Histograms of the calibrated score of converted and not converted leads.

    Each group's bars add up to 100 % so that the small converted group stays visible;
    the hot and warm cutoffs (and the contact threshold when it differs) are vertical
    lines.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_score_distribution(load_report_data("model/")).savefig("s.png")  # doctest: +SKIP
    """
    cut = data.cutoffs
    top = max(float(np.quantile(data.score, 0.999)), cut.hot, cut.warm, 0.01) * 1.05
    edges = np.linspace(0.0, min(1.0, top), 41)
    fig, (ax,) = _figure()
    for outcome, name, colour in ((0, "not converted", GREY), (1, "converted", BLUE)):
        scores = data.score[data.y == outcome]
        counts, _ = np.histogram(np.clip(scores, 0, edges[-1]), bins=edges)
        ax.stairs(counts / max(len(scores), 1), edges, fill=True, alpha=0.45, color=colour,
                  label=f"{name} ({len(scores):,} leads)")  # fmt: skip
    ax.axvline(cut.hot, color=RED, lw=2, label=f"hot from {cut.hot:.3f}")
    ax.axvline(cut.warm, color=ORANGE, lw=2, ls="--", label=f"warm from {cut.warm:.3f}")
    if not math.isclose(cut.contact, cut.warm):
        ax.axvline(cut.contact, color=GREEN, lw=2, ls=":", label=f"contact from {cut.contact:.3f}")
    _style(
        ax,
        "Scores of converted vs not converted leads",
        "Calibrated score (conversion probability, %)",
        "Share of the group's leads (%)",
    )
    _percent_axes(ax)
    ax.set_xlim(edges[0], edges[-1])
    _legend(ax, "upper right")
    return fig


def plot_importance(data: ReportData) -> Figure | None:
    """The top 15 features by permutation importance with their spread across folds.

    Returns ``None`` when the model directory has no ``importance.csv``.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.

    Example
    -------
    >>> plot_importance(load_report_data("model/")).savefig("imp.png")  # doctest: +SKIP
    """
    if data.importance is None:
        return None
    top = data.importance.sort_values("importance", ascending=False).head(TOP_FEATURES)
    top = top.iloc[::-1]  # barh draws bottom-up: the most important feature on top
    fig, (ax,) = _figure()
    ax.barh(top["feature"].astype(str), top["importance"], xerr=top["std"].fillna(0),
            color=BLUE, alpha=0.85, error_kw={"ecolor": "black", "capsize": 3})  # fmt: skip
    shown = "All" if len(top) == len(data.importance) else "Top"
    _style(ax, f"{shown} {len(top)} features by importance",
           "Drop in ROC-AUC when the feature is shuffled (AUC units)", "")  # fmt: skip
    ax.tick_params(axis="y", labelsize=LEGEND_SIZE)
    ax.axvline(0, color=GREY, lw=1)
    ax.grid(axis="y", visible=False)
    return fig


@dataclass(frozen=True)
class Plot:
    """One figure of the report: its id (also the PNG name), alt text, caption, drawer."""

    name: str
    title: str
    caption: str
    draw: Callable[[ReportData], Figure | None]


PLOTS: tuple[Plot, ...] = (
    Plot("roc", "ROC curve", (
        "The higher the blue curve rises above the dashed diagonal (random calling order), "
        "the better the score puts converting leads ahead of the others; the red dot is "
        "where the chosen contact threshold stands."), plot_roc),
    Plot("precision_recall", "Precision vs recall", (
        "Reading left to right, calling more leads finds more of the conversions (recall) "
        "but fewer of the called leads convert (precision); the dashed line is what calling "
        "at random would give."), plot_precision_recall),
    Plot("calibration", "Calibration", (
        "Dots on the dashed diagonal mean the scores can be read as probabilities: of the "
        "leads scored about 30 %, about 30 % converted (grey bars: how many leads each "
        "point rests on)."), plot_calibration),
    Plot("confusion", "Confusion matrix at the contact threshold", (
        "Each cell counts the training leads (scored out of fold) by what the threshold "
        "decides (columns) and what actually happened (rows)."), plot_confusion),
    Plot("profit_threshold", "Profit by contact threshold", (
        "Profit of calling every lead scored at or above each threshold, with the red dot "
        "at the most profitable one and the lines for calling everyone or no one."),
        plot_profit_threshold),
    Plot("profit_contacted", "Profit by number of leads contacted", (
        "Profit as the team works down the list from the best-scored lead; it rises while "
        "the calls pay for themselves and peaks at the red dot."), plot_profit_contacted),
    Plot("gains", "Cumulative gains and lift", (
        "Left: the share of all conversions found after calling a given share of leads, "
        "best first; right: how many times better than random order that is."), plot_gains),
    Plot("score_distribution", "Score distribution", (
        "The further the blue (converted) bars sit to the right of the grey (not converted) "
        "ones, the better the score separates them; vertical lines mark the hot and warm "
        "cutoffs."), plot_score_distribution),
    Plot("importance", "Feature importance", (
        "How much the model's ranking quality (ROC-AUC) drops when a column is scrambled: "
        "longer bars matter more, and the black whiskers show the spread across folds."),
        plot_importance),
)  # fmt: skip
#: the ids of all report figures, in report order
FIGURES: tuple[str, ...] = tuple(plot.name for plot in PLOTS)


def render_png(fig: Figure) -> bytes:
    """PNG bytes of a figure at the report resolution (120 dpi).

    Example
    -------
    >>> png = render_png(plot_roc(load_report_data("model/")))  # doctest: +SKIP
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"  # doctest: +SKIP
    True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


# ---------------------------------------------------------------------------- HTML

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 960px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom:
     1px solid #ddd; padding-bottom: .2em; }
.meta { color: #555; } .meta dt { font-weight: 600; float: left; clear: left;
        width: 11em; } .meta dd { margin-left: 11em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .95em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right;
         white-space: nowrap; vertical-align: top; }
th { background: #f3f5f8; } .t { text-align: left; white-space: normal; }
tr.chosen td { background: #fff4d6; font-weight: 600; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; display: block;
         border: 1px solid #eee; } figcaption { color: #444; font-size: .95em;
         margin-top: .4em; }
.note { background: #f7f7f7; border-left: 4px solid #bbb; padding: .5em 1em; }
.warning { background: #fff4e5; border-left: 4px solid #E69F00; padding: .5em 1em; }
"""

#: (key, readable name, format, what it means) of the cross-validated metrics table
METRIC_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("auc", "ROC-AUC", "num", "chance a converting lead is scored above a non-converting one"),
    ("pr_auc", "PR-AUC", "num", "average precision over all recall levels"),
    ("lift_top10", "Lift in top 10 %", "x", "conversion rate of the best 10 % vs. average"),
    ("recall_top10", "Conversions in top 10 %", "pct", "share of all conversions found there"),
    ("precision", "Precision", "pct", "contacted leads that convert, at the threshold"),
    ("recall", "Recall", "pct", "conversions reached, at the threshold"),
    ("f1", "F1", "num", "balance of precision and recall, at the threshold"),
    ("accuracy", "Accuracy", "pct", "leads where the contact decision was right"),
    ("profit", "Profit", "money", "at the contact threshold, on the training leads"),
    ("log_loss", "Log loss", "num", "probability quality; lower is better"),
    ("brier", "Brier score", "num", "mean squared probability error; lower is better"),
    ("ece", "Calibration error (ECE)", "pct", "mean gap between score and observed rate"),
)  # fmt: skip

#: (key, header, format) of the leaderboard columns, shown when present
LEADERBOARD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("label", "Model", "text"), ("auc", "AUC", "num"), ("auc_std", "± folds", "num"),
    ("pr_auc", "PR-AUC", "num"), ("lift_top10", "Lift top 10 %", "x"),
    ("recall_top10", "Recall top 10 %", "pct"), ("precision", "Precision", "pct"),
    ("recall", "Recall", "pct"), ("log_loss", "Log loss", "num"), ("brier", "Brier", "num"),
    ("ece", "ECE", "pct"), ("profit", "Profit", "money"), ("fit_seconds", "Fit time", "sec"),
)  # fmt: skip


def _e(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    classes: Sequence[str] = (),
    text_columns: Sequence[int] = (0,),
) -> str:
    """An HTML table from formatted (not yet escaped) cells; ``classes`` per row.

    Columns in ``text_columns`` are left-aligned and may wrap; the others are numbers,
    right-aligned on one line.
    """

    def cell(tag: str, i: int, value: str) -> str:
        css = ' class="t"' if i in text_columns else ""
        return f"<{tag}{css}>{_e(value)}</{tag}>"

    head = "".join(cell("th", i, value) for i, value in enumerate(header))
    body = []
    for n, row in enumerate(rows):
        css = f' class="{_e(classes[n])}"' if n < len(classes) and classes[n] else ""
        cells = "".join(cell("td", i, value) for i, value in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _header_html(data: ReportData, title: str) -> str:
    meta = data.metadata
    facts = [
        ("Model", data.label),
        ("Training leads", _fmt(meta.get("rows", len(data.y)), "int")),
        ("Converted", _fmt(meta.get("positive_rate", float(np.mean(data.y))), "pct")),
        ("Trained at", meta.get("trained_at") or "–"),
        ("How it was chosen", meta.get("selection") or "–"),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return f'<h1>{_e(title)}</h1><dl class="meta">{items}</dl>'


def _metrics_html(data: ReportData) -> str:
    metrics = data.metrics
    if not metrics:
        return '<p class="note">No cross-validated metrics were saved with this model.</p>'
    rows = [
        (name, _fmt(metrics.get(key), kind), meaning)
        for key, name, kind, meaning in METRIC_ROWS
        if key in metrics
    ]
    return (
        "<h2>Cross-validated quality</h2><p>Every training lead was scored by a model that "
        "had not seen it (out-of-fold), so these numbers estimate quality on new leads.</p>"
        + _table(("Metric", "Value", "What it means"), rows, text_columns=(0, 2))
    )


def _profit_html(data: ReportData) -> str:
    choice, business = data.threshold, data.business
    n = int(choice.get("n_leads") or len(data.y))
    rows = [
        (f"Contact leads scored at or above {float(choice['threshold']):.3f} (chosen)",
         _fmt(int(choice.get("contacted", 0)), "int"), _fmt(choice.get("profit"), "money")),
        ("Contact everyone", _fmt(n, "int"), _fmt(choice.get("contact_all_profit"), "money")),
        ("Contact no one", "0", _fmt(choice.get("contact_none_profit"), "money")),
        ("Threshold 0.5", _fmt(int(np.sum(data.score >= 0.5)), "int"),
         _fmt(choice.get("default_threshold_profit"), "money")),
    ]  # fmt: skip
    assumptions = (
        f"Profit assumes each conversion is worth {business.value_per_conversion:,.0f}, "
        f"each contact costs {business.cost_per_contact:,.0f} and each missed conversion "
        f"costs {business.missed_conversion_cost:,.0f}, on the {n:,} training leads."
    )
    return (
        "<h2>Profit of the contact policy</h2>"
        + _table(("Policy", "Leads contacted", "Profit"), rows, classes=("chosen",))
        + f"<p>{_e(assumptions)}</p>"
    )


def _leaderboard_html(data: ReportData) -> str:
    board = data.metadata.get("leaderboard") or []
    records = [r for r in board if isinstance(r, dict)]
    if not records:
        return ""
    columns = [c for c in LEADERBOARD_COLUMNS if any(c[0] in r for r in records)]
    chosen = data.metadata.get("model")
    rows = [
        [_fmt(r.get(key, r.get("model") if key == "label" else None), kind)
         for key, _, kind in columns]
        for r in records
    ]  # fmt: skip
    classes = ["chosen" if r.get("model") == chosen else "" for r in records]
    return (
        "<h2>Leaderboard</h2><p>Candidates compared on the same folds, best first; the "
        "highlighted row is the model in this report.</p>"
        + _table([header for _, header, _ in columns], rows, classes)
    )


def _columns_html(data: ReportData) -> str:
    meta = data.metadata
    parts = []
    excluded = meta.get("excluded") or {}
    if isinstance(excluded, dict) and excluded:
        rows = [(column, reason) for column, reason in excluded.items()]
        parts.append(
            "<h2>Columns left out</h2>" + _table(("Column", "Why"), rows, text_columns=(0, 1))
        )
    suspects = [s for s in meta.get("leakage_suspects") or [] if isinstance(s, dict)]
    if suspects:
        rows = [
            (s.get("column", "?"), s.get("reason", ""), _fmt(s.get("auc")),
             ("kept, to confirm" if s.get("verdict") == "strong" else "kept")
             if s.get("kept") else "left out",
             "; ".join(map(str, s.get("evidence") or [])))
            for s in suspects
        ]  # fmt: skip
        parts.append(
            '<h2>Leakage suspects</h2><p class="warning">Columns left out because something '
            "shows they are filled in after the outcome, and strong columns kept because "
            "nothing does; check that each is known before a lead is contacted.</p>"
            + _table(
                ("Column", "Why", "AUC alone", "Decision", "Evidence"),
                rows,
                text_columns=(0, 1, 3, 4),
            )
        )
    return "".join(parts)


def _figure_html(plot: Plot, png: bytes | None) -> str:
    if png is None:
        return (
            f'<p class="note" id="{_e(plot.name)}-missing">{_e(plot.title)}: not available, '
            f"because this model directory has no {_e(IMPORTANCE_FILE)}.</p>"
        )
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="{_e(plot.name)}"><img alt="{_e(plot.title)}" src="{src}">'
        f"<figcaption>{_e(plot.caption)}</figcaption></figure>"
    )


def render_html(data: ReportData, images: dict[str, bytes | None], title: str) -> str:
    """The report page: header, metric and profit tables, leaderboard, columns, figures.

    Parameters
    ----------
    data:
        What :func:`load_report_data` returns.
    images:
        PNG bytes by figure id (see :data:`FIGURES`); ``None`` for a skipped figure.
    title:
        Page title and heading.

    Example
    -------
    >>> data = load_report_data("model/")  # doctest: +SKIP
    >>> page = render_html(data, {"roc": render_png(plot_roc(data))}, "Report")  # doctest: +SKIP
    """
    figures = "".join(_figure_html(p, images[p.name]) for p in PLOTS if p.name in images)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        + _header_html(data, title) + _metrics_html(data) + _profit_html(data)
        + _leaderboard_html(data) + _columns_html(data)
        + f"<h2>Plots</h2>{figures}</body></html>\n"
    )  # fmt: skip


def write_report(model_dir: str | Path, out_dir: str | Path, *, title: str | None = None) -> Path:
    """Write ``report.html`` and one PNG per plot for a saved model; return the HTML path.

    The HTML is self-contained (inline CSS, plots embedded as base64 PNG) so it can be
    mailed. The importance plot is skipped, with a note, when the model directory has no
    ``importance.csv``.

    Parameters
    ----------
    model_dir:
        Directory written by ``leadscore train``.
    out_dir:
        Where to write ``report.html`` and ``<figure id>.png``; created when missing.
    title:
        Heading of the report; default ``"Lead-scoring model report: <model label>"``.

    Raises
    ------
    ArtifactError
        When ``model_dir`` lacks ``metadata.json`` or ``evaluation.parquet``.

    Example
    -------
    >>> write_report("model/", "report/")  # doctest: +SKIP
    PosixPath('report/report.html')
    """
    data = load_report_data(model_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes | None] = {}
    for plot in PLOTS:
        fig = plot.draw(data)
        images[plot.name] = None if fig is None else render_png(fig)
        if images[plot.name] is not None:
            (out / f"{plot.name}.png").write_bytes(images[plot.name])
    page = render_html(data, images, title or f"Lead-scoring model report: {data.label}")
    target = out / REPORT_FILE
    target.write_text(page, encoding="utf-8")
    return target


__all__ = [
    "FIGURES",
    "PLOTS",
    "REPORT_FILE",
    "Plot",
    "ReportData",
    "load_report_data",
    "render_html",
    "render_png",
    "write_report",
]
