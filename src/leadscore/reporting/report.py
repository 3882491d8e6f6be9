"""``leadscore report``: the evaluation report of a trained model, as one self-contained page.

:func:`write_report` reads a model directory saved by ``leadscore train``
(:func:`~leadscore.reporting.evaluation.load_report_data`) and writes ``report.html`` plus
every figure as a PNG file: the cross-validated metrics, the profit of the contact policy,
the leaderboard, the columns left out and the leakage suspects as tables, and nine figures
(:data:`PLOTS`) computed by :mod:`leadscore.reporting.curves` and drawn by
:mod:`leadscore.reporting.plots`. The HTML has its CSS inline and every figure embedded as a
base64 PNG, so it can be mailed and opened anywhere without the PNG files (see the example
of :func:`write_report`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from leadscore.modeling.folder import IMPORTANCE_FILE
from leadscore.reporting import curves, plots
from leadscore.reporting.evaluation import ReportData, load_report_data
from leadscore.reporting.mpl import render_png
from leadscore.reporting.page import escape, facts, figure, fmt, html_page, table

REPORT_FILE = "report.html"


# ----------------------------------------------------------------------------- figures


def _roc(data: ReportData) -> Figure:
    return plots.roc_figure(
        curves.roc_data(data.y, data.score, data.cutoffs.contact, auc=data.metric("auc"))
    )


def _precision_recall(data: ReportData) -> Figure:
    pr = curves.precision_recall_data(
        data.y, data.score, data.cutoffs.contact, pr_auc=data.metric("pr_auc")
    )
    return plots.precision_recall_figure(pr)


def _calibration(data: ReportData) -> Figure:
    return plots.calibration_figure(curves.calibration_data(data.y, data.score))


def _confusion(data: ReportData) -> Figure:
    return plots.confusion_figure(curves.confusion_at(data.y, data.score, data.cutoffs.contact))


def _profit_threshold(data: ReportData) -> Figure:
    return plots.profit_threshold_figure(curves.profit_data(data.profit_curve, data.threshold))


def _profit_contacted(data: ReportData) -> Figure:
    profit = curves.profit_data(data.profit_curve, data.threshold)
    return plots.profit_contacted_figure(profit, data.business.capacity)


def _gains(data: ReportData) -> Figure:
    gains = curves.gains_data(data.y, data.score, lift_top10=data.metric("lift_top10"))
    return plots.gains_figure(gains)


def _score_distribution(data: ReportData) -> Figure:
    cutoffs = data.cutoffs
    dist = curves.score_distribution_data(data.y, data.score, cutoffs)
    return plots.score_distribution_figure(dist, cutoffs)


def _importance(data: ReportData) -> Figure | None:
    if data.importance is None:
        return None
    top = curves.importance_data(data.importance)
    return plots.importance_figure(top, len(data.importance))


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
        "where the chosen contact threshold stands."), _roc),
    Plot("precision_recall", "Precision vs recall", (
        "Reading left to right, calling more leads finds more of the conversions (recall) "
        "but fewer of the called leads convert (precision); the dashed line is what calling "
        "at random would give."), _precision_recall),
    Plot("calibration", "Calibration", (
        "Dots on the dashed diagonal mean the scores can be read as probabilities: of the "
        "leads scored about 30 %, about 30 % converted (grey bars: how many leads each "
        "point rests on)."), _calibration),
    Plot("confusion", "Confusion matrix at the contact threshold", (
        "Each cell counts the training leads (scored out of fold) by what the threshold "
        "decides (columns) and what actually happened (rows)."), _confusion),
    Plot("profit_threshold", "Profit by contact threshold", (
        "Profit of calling every lead scored at or above each threshold, with the red dot "
        "at the most profitable one and the lines for calling everyone or no one."),
        _profit_threshold),
    Plot("profit_contacted", "Profit by number of leads contacted", (
        "Profit as the team works down the list from the best-scored lead; it rises while "
        "the calls pay for themselves and peaks at the red dot."), _profit_contacted),
    Plot("gains", "Cumulative gains and lift", (
        "Left: the share of all conversions found after calling a given share of leads, "
        "best first; right: how many times better than random order that is."), _gains),
    Plot("score_distribution", "Score distribution", (
        "The further the blue (converted) bars sit to the right of the grey (not converted) "
        "ones, the better the score separates them; vertical lines mark the hot and warm "
        "cutoffs."), _score_distribution),
    Plot("importance", "Feature importance", (
        "How much the model's ranking quality (ROC-AUC) drops when a column is scrambled: "
        "longer bars matter more, and the black whiskers show the spread across folds."),
        _importance),
)  # fmt: skip
#: the ids of all report figures, in report order
FIGURES: tuple[str, ...] = tuple(plot.name for plot in PLOTS)


# ----------------------------------------------------------------------------- tables

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


def _header_html(data: ReportData, title: str) -> str:
    meta = data.metadata
    return facts(title, [
        ("Model", data.label),
        ("Training leads", fmt(meta.get("rows", len(data.y)), "int")),
        ("Converted", fmt(meta.get("positive_rate", float(np.mean(data.y))), "pct")),
        ("Trained at", meta.get("trained_at") or "–"),
        ("How it was chosen", meta.get("selection") or "–"),
    ])  # fmt: skip


def _metrics_html(data: ReportData) -> str:
    metrics = data.metrics
    if not metrics:
        return '<p class="note">No cross-validated metrics were saved with this model.</p>'
    rows = [
        (name, fmt(metrics.get(key), kind), meaning)
        for key, name, kind, meaning in METRIC_ROWS
        if key in metrics
    ]
    return (
        "<h2>Cross-validated quality</h2><p>Every training lead was scored by a model that "
        "had not seen it (out-of-fold), so these numbers estimate quality on new leads.</p>"
        + table(("Metric", "Value", "What it means"), rows, text_columns=(0, 2))
    )


def _profit_html(data: ReportData) -> str:
    choice, business = data.threshold, data.business
    n = int(choice.get("n_leads") or len(data.y))
    rows = [
        (f"Contact leads scored at or above {float(choice['threshold']):.3f} (chosen)",
         fmt(int(choice.get("contacted", 0)), "int"), fmt(choice.get("profit"), "money")),
        ("Contact everyone", fmt(n, "int"), fmt(choice.get("contact_all_profit"), "money")),
        ("Contact no one", "0", fmt(choice.get("contact_none_profit"), "money")),
        ("Threshold 0.5", fmt(int(np.sum(data.score >= 0.5)), "int"),
         fmt(choice.get("default_threshold_profit"), "money")),
    ]  # fmt: skip
    assumptions = (
        f"Profit assumes each conversion is worth {business.value_per_conversion:,.0f}, "
        f"each contact costs {business.cost_per_contact:,.0f} and each missed conversion "
        f"costs {business.missed_conversion_cost:,.0f}, on the {n:,} training leads."
    )
    if business.from_defaults:
        assumptions += (
            " These are the PyCaret lead-scoring tutorial's values, not yours: train with "
            "--value-per-conversion, --cost-per-contact and --missed-conversion-cost (or "
            "[business] in leadscore.toml) to see your own money."
        )
    return (
        "<h2>Profit of the contact policy</h2>"
        + table(("Policy", "Leads contacted", "Profit"), rows, classes=("chosen",))
        + f"<p>{escape(assumptions)}</p>"
    )


def _leaderboard_html(data: ReportData) -> str:
    board = data.metadata.get("leaderboard") or []
    records = [r for r in board if isinstance(r, dict)]
    if not records:
        return ""
    columns = [c for c in LEADERBOARD_COLUMNS if any(c[0] in r for r in records)]
    chosen = data.metadata.get("model")
    rows = [
        [fmt(r.get(key, r.get("model") if key == "label" else None), kind)
         for key, _, kind in columns]
        for r in records
    ]  # fmt: skip
    classes = ["chosen" if r.get("model") == chosen else "" for r in records]
    return (
        "<h2>Leaderboard</h2><p>Candidates compared on the same folds, best first; the "
        "highlighted row is the model in this report.</p>"
        + table([header for _, header, _ in columns], rows, classes)
    )


def _columns_html(data: ReportData) -> str:
    meta = data.metadata
    parts = []
    excluded = meta.get("excluded") or {}
    if isinstance(excluded, dict) and excluded:
        rows = [(column, reason) for column, reason in excluded.items()]
        parts.append(
            "<h2>Columns left out</h2>" + table(("Column", "Why"), rows, text_columns=(0, 1))
        )
    suspects = [s for s in meta.get("leakage_suspects") or [] if isinstance(s, dict)]
    if suspects:
        rows = [
            (s.get("column", "?"), s.get("reason", ""), fmt(s.get("auc")),
             ("kept, to confirm" if s.get("verdict") == "strong" else "kept")
             if s.get("kept") else "left out",
             "; ".join(map(str, s.get("evidence") or [])))
            for s in suspects
        ]  # fmt: skip
        parts.append(
            '<h2>Leakage suspects</h2><p class="warning">Columns left out because something '
            "shows they are filled in after the outcome, and strong columns kept because "
            "nothing does; check that each is known before a lead is contacted.</p>"
            + table(
                ("Column", "Why", "AUC alone", "Decision", "Evidence"),
                rows,
                text_columns=(0, 1, 3, 4),
            )
        )
    return "".join(parts)


def _figure_html(plot: Plot, png: bytes | None) -> str:
    if png is None:
        return (
            f'<p class="note" id="{escape(plot.name)}-missing">{escape(plot.title)}: not '
            f"available, because this model directory has no {escape(IMPORTANCE_FILE)}.</p>"
        )
    return figure(plot.name, plot.title, plot.caption, png)


# ----------------------------------------------------------------------------- the page


def render_html(data: ReportData, images: dict[str, bytes | None], title: str) -> str:
    """The report page: header, metric and profit tables, leaderboard, columns, figures.

    Parameters
    ----------
    data:
        What :func:`~leadscore.reporting.evaluation.load_report_data` returns.
    images:
        PNG bytes by figure id (see :data:`FIGURES`); ``None`` for a skipped figure.
    title:
        Page title and heading.

    Example
    -------
    >>> _ = model.save("model/")
    >>> data = load_report_data("model/")
    >>> roc = render_png(PLOTS[0].draw(data))
    >>> page = render_html(data, {"roc": roc}, "Report")
    >>> page.startswith("<!DOCTYPE html>"), page.count("<figure")
    (True, 1)
    """
    figures = "".join(_figure_html(p, images[p.name]) for p in PLOTS if p.name in images)
    body = (
        _header_html(data, title) + _metrics_html(data) + _profit_html(data)
        + _leaderboard_html(data) + _columns_html(data) + f"<h2>Plots</h2>{figures}"
    )  # fmt: skip
    return html_page(title, body)


def write_report(model_dir: str | Path, out_dir: str | Path, *, title: str | None = None) -> Path:
    """Write ``report.html`` and one PNG per figure for a saved model; return the HTML path.

    The HTML is self-contained (inline CSS, figures embedded as base64 PNG) so it can be
    mailed. The importance figure is skipped, with a note, when the model directory has no
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
    >>> _ = model.save("model/")
    >>> write_report("model/", "report/")
    PosixPath('report/report.html')
    """
    data = load_report_data(model_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes | None] = {}
    for plot in PLOTS:
        fig = plot.draw(data)
        images[plot.name] = png = None if fig is None else render_png(fig)
        if png is not None:
            (out / f"{plot.name}.png").write_bytes(png)
    page = render_html(data, images, title or f"Lead-scoring model report: {data.label}")
    target = out / REPORT_FILE
    target.write_text(page, encoding="utf-8")
    return target


__all__ = [
    "FIGURES",
    "PLOTS",
    "REPORT_FILE",
    "Plot",
    "render_html",
    "write_report",
]
