"""The evaluation figures of ``leadscore report``, drawn with matplotlib from the chart data.

One function per figure — ROC, precision-recall, calibration, confusion, profit by threshold
and by leads contacted, gains and lift, score distribution, feature importance — each taking
what :mod:`leadscore.reporting.curves` computes and returning a 7 × 4.5 in figure
(840 × 540 pixels as PNG). The dashboard draws the same data with Altair
(:mod:`leadscore.reporting.charts`).

Example
-------
>>> import numpy as np
>>> from leadscore.reporting.curves import roc_data
>>> from leadscore.reporting.mpl import render_png
>>> y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
>>> render_png(roc_figure(roc_data(y, p, 0.3)))[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadscore.modeling.thresholds import Cutoffs
from leadscore.reporting.curves import (
    CalibrationData,
    Confusion,
    GainsData,
    PrecisionRecallData,
    ProfitData,
    RocData,
    ScoreDistribution,
    thin,
)
from leadscore.reporting.mpl import legend, new_figure, percent_axes, style, thousands
from leadscore.reporting.style import (
    BLUE,
    GREEN,
    GREY,
    LABEL_SIZE,
    LEGEND_SIZE,
    ORANGE,
    PURPLE,
    RED,
    TICK_SIZE,
)

#: lines are drawn through at most this many points (an 840-px-wide plot shows no more)
MAX_PLOT_POINTS = 2_000


def roc_figure(roc: RocData) -> Figure:
    """ROC curve with its AUC, the diagonal of random guessing and the contact threshold.

    Example
    -------
    >>> from leadscore.reporting.curves import roc_data
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> roc_figure(roc_data(y, p, model.cutoffs_.contact)).axes[0].get_title()
    'ROC curve: how well the score ranks leads'
    """
    keep = thin(len(roc.curve), MAX_PLOT_POINTS)
    fig, (ax,) = new_figure()
    ax.plot(roc.curve["fpr"].to_numpy()[keep], roc.curve["tpr"].to_numpy()[keep], color=BLUE,
            lw=2.5, label=f"model (AUC = {roc.auc:.3f})")  # fmt: skip
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1.5, label="random order (AUC = 0.5)")
    if roc.at is not None:
        ax.plot(roc.at.false_positive_rate, roc.at.recall, "o", color=RED, ms=10,
                label=f"contact threshold {roc.at.threshold:.3f}")  # fmt: skip
    style(
        ax, "ROC curve: how well the score ranks leads",
        "Non-converting leads contacted (%)", "Converting leads found (%)",
    )  # fmt: skip
    percent_axes(ax)
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    legend(ax, "lower right")
    return fig


def precision_recall_figure(pr: PrecisionRecallData) -> Figure:
    """Precision against recall with the PR-AUC, the base rate and the contact threshold.

    Example
    -------
    >>> from leadscore.reporting.curves import precision_recall_data
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> pr = precision_recall_data(y, p, model.cutoffs_.contact)
    >>> precision_recall_figure(pr).axes[0].get_title()
    'Precision vs recall'
    """
    keep = thin(len(pr.curve), MAX_PLOT_POINTS)
    fig, (ax,) = new_figure()
    ax.plot(pr.curve["recall"].to_numpy()[keep], pr.curve["precision"].to_numpy()[keep],
            color=BLUE, lw=2.5, label=f"model (PR-AUC = {pr.pr_auc:.3f})")  # fmt: skip
    ax.axhline(
        pr.base_rate, color=GREY, ls="--", lw=1.5, label=f"base rate ({100 * pr.base_rate:.1f} %)"
    )
    if pr.at is not None and pr.at.contacted:
        ax.plot(pr.at.recall, pr.at.precision, "o", color=RED, ms=10,
                label=f"contact threshold {pr.at.threshold:.3f}")  # fmt: skip
    style(
        ax, "Precision vs recall",
        "Recall: converting leads found (%)", "Precision: contacted leads that convert (%)",
    )  # fmt: skip
    percent_axes(ax)
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    legend(ax, "upper right")
    return fig


def calibration_figure(calibration: CalibrationData) -> Figure:
    """Mean score against observed conversion rate per score bin, with the leads per bin.

    Example
    -------
    >>> from leadscore.reporting.curves import calibration_data
    >>> cal = calibration_data(np.array([0, 1, 1, 1]), np.array([0.2, 0.2, 0.9, 0.9]), bins=5)
    >>> calibration_figure(cal).axes[0].get_title()
    'Calibration (ECE = 20.0 percentage points)'
    """
    bins, used = calibration.bins, calibration.used
    fig, (ax,) = new_figure()
    bars = ax.twinx()
    bars.bar(bins["center"], bins["leads"], width=0.09, color=GREY, alpha=0.25,
             label="leads in bin (right axis)")  # fmt: skip
    bars.set_ylabel("Leads in bin", fontsize=LABEL_SIZE, color=GREY)
    bars.tick_params(labelsize=TICK_SIZE, colors=GREY)
    thousands(bars)
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1.5, label="perfect calibration")
    ax.plot(used["predicted"].to_numpy(), used["observed"].to_numpy(), "o-", color=BLUE, lw=2.5,
            ms=8, label="model")  # fmt: skip
    style(
        ax, f"Calibration (ECE = {100 * calibration.ece:.1f} percentage points)",
        "Predicted conversion probability (%)", "Observed conversion rate (%)",
    )  # fmt: skip
    percent_axes(ax)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    handles = ax.get_legend_handles_labels()
    extra = bars.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=LEGEND_SIZE,
              loc="lower right", framealpha=0.9)  # fmt: skip
    return fig


def confusion_figure(c: Confusion) -> Figure:
    """Confusion matrix at the contact threshold: counts and shares of all leads.

    Example
    -------
    >>> from leadscore.reporting.curves import confusion_at
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> confusion_figure(confusion_at(y, p, 0.25)).axes[0].get_title()
    'Outcomes at the contact threshold 0.250'
    """
    matrix = np.array([[c.tp, c.fn], [c.fp, c.tn]], dtype=float)
    total = matrix.sum()
    fig, (ax,) = new_figure()
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
    style(
        ax, f"Outcomes at the contact threshold {c.threshold:.3f}",
        "Decision (score at or above the threshold → contacted)", "Actual outcome",
    )  # fmt: skip
    ax.grid(False)
    return fig


def profit_threshold_figure(profit: ProfitData) -> Figure:
    """Profit of contacting every lead scored at or above each threshold from 0 to 1.

    Example
    -------
    >>> from leadscore.modeling.thresholds import profit_curve
    >>> from leadscore.reporting.curves import profit_data
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> curve = profit_curve(y, p, model.business_)
    >>> profit_threshold_figure(profit_data(curve, model.threshold_choice_)).axes[0].get_title()
    'Profit by contact threshold'
    """
    curve = profit.curve
    keep = thin(len(curve), MAX_PLOT_POINTS, keep=[profit.best])
    fig, (ax,) = new_figure()
    ax.plot(curve["threshold"].to_numpy()[keep].clip(0, 1), curve["profit"].to_numpy()[keep],
            color=BLUE, lw=2.5, drawstyle="steps-post",
            label="contact leads at or above")  # fmt: skip
    ax.axhline(profit.contact_all_profit, color=GREEN, ls="--", lw=1.5,
               label=f"contact everyone ({profit.contact_all_profit:,.0f})")  # fmt: skip
    ax.axhline(profit.contact_none_profit, color=PURPLE, ls=":", lw=2,
               label=f"contact no one ({profit.contact_none_profit:,.0f})")  # fmt: skip
    ax.plot(profit.threshold, profit.profit, "o", color=RED, ms=10,
            label=f"chosen {profit.threshold:.3f} ({profit.profit:,.0f})")  # fmt: skip
    style(ax, "Profit by contact threshold", "Contact threshold (score 0–1)", "Profit")
    thousands(ax)
    ax.set_xlim(0, 1)
    legend(ax, "upper right")
    return fig


def profit_contacted_figure(profit: ProfitData, capacity: int | None = None) -> Figure:
    """Profit against the number of leads contacted, best-scored leads first.

    ``capacity`` (the team's, when set) is drawn as a vertical line.

    Example
    -------
    >>> from leadscore.modeling.thresholds import profit_curve
    >>> from leadscore.reporting.curves import profit_data
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> profit = profit_data(profit_curve(y, p, model.business_), model.threshold_choice_)
    >>> profit_contacted_figure(profit, capacity=50).axes[0].get_title()
    'Profit by number of leads contacted'
    """
    curve = profit.curve
    keep = thin(len(curve), MAX_PLOT_POINTS, keep=[profit.best])
    fig, (ax,) = new_figure()
    ax.plot(curve["contacted"].to_numpy()[keep], curve["profit"].to_numpy()[keep], color=BLUE,
            lw=2.5, label="contact the best-scored leads first")  # fmt: skip
    ax.plot(profit.contacted, profit.profit, "o", color=RED, ms=10,
            label=f"chosen: {profit.contacted:,} leads ({profit.profit:,.0f})")  # fmt: skip
    if capacity:
        ax.axvline(capacity, color=ORANGE, ls="--", lw=1.5, label=f"team capacity ({capacity:,})")
    ax.axhline(0, color=GREY, lw=1)
    style(ax, "Profit by number of leads contacted", "Leads contacted (best first)", "Profit")
    thousands(ax)
    thousands(ax, "x")
    legend(ax, "lower center")
    return fig


def gains_figure(gains: GainsData) -> Figure:
    """Cumulative gains (left) and cumulative lift (right) when calling best-scored first.

    Example
    -------
    >>> from leadscore.reporting.curves import gains_data
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> [ax.get_title() for ax in gains_figure(gains_data(y, p)).axes]
    ['Cumulative gains', 'Lift']
    """
    share, found = gains.curve["share"].to_numpy(), gains.curve["found"].to_numpy()
    keep = thin(len(share), MAX_PLOT_POINTS)
    fig, (left, right) = new_figure(2)
    left.plot(share[keep], found[keep], color=BLUE, lw=2.5, label="model")
    left.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1.5, label="random order")
    style(left, "Cumulative gains", "Leads contacted (%)", "Conversions found (%)")
    percent_axes(left)
    left.set(xlim=(0, 1), ylim=(0, 1.01))
    legend(left, "lower right")
    lift = gains.curve["lift"].to_numpy()
    rest = np.flatnonzero(~np.isnan(lift))
    rest = rest[thin(len(rest), MAX_PLOT_POINTS)]
    right.plot(share[rest], lift[rest], color=BLUE, lw=2.5, label="model")
    right.axhline(1, color=GREY, ls="--", lw=1.5, label="random order (1×)")
    right.plot(0.1, gains.lift_top10, "o", color=RED, ms=9,
               label=f"top 10 %: {gains.lift_top10:.1f}×")  # fmt: skip
    style(right, "Lift", "Leads contacted (%)", "Lift (× the random rate)")
    percent_axes(right, y=False)
    right.set(xlim=(0, 1), ylim=(0, None))
    legend(right, "upper right")
    return fig


def score_distribution_figure(dist: ScoreDistribution, cutoffs: Cutoffs) -> Figure:
    """Histograms of the calibrated score of converted and not converted leads.

    Each group's bars add up to 100 % so that the small converted group stays visible; the
    hot and warm cutoffs (and the contact threshold when it differs) are vertical lines.

    Example
    -------
    >>> from leadscore.reporting.curves import score_distribution_data
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> dist = score_distribution_data(y, p, model.cutoffs_)
    >>> score_distribution_figure(dist, model.cutoffs_).axes[0].get_title()
    'Scores of converted vs not converted leads'
    """
    edges = dist.edges
    fig, (ax,) = new_figure()
    for outcome, name, colour in ((0, "not converted", GREY), (1, "converted", BLUE)):
        ax.stairs(dist.shares[outcome], edges, fill=True, alpha=0.45, color=colour,
                  label=f"{name} ({dist.leads[outcome]:,} leads)")  # fmt: skip
    ax.axvline(cutoffs.hot, color=RED, lw=2, label=f"hot from {cutoffs.hot:.3f}")
    ax.axvline(cutoffs.warm, color=ORANGE, lw=2, ls="--", label=f"warm from {cutoffs.warm:.3f}")
    if not math.isclose(cutoffs.contact, cutoffs.warm):
        ax.axvline(cutoffs.contact, color=GREEN, lw=2, ls=":",
                   label=f"contact from {cutoffs.contact:.3f}")  # fmt: skip
    style(
        ax,
        "Scores of converted vs not converted leads",
        "Calibrated score (conversion probability, %)",
        "Share of the group's leads (%)",
    )
    percent_axes(ax)
    ax.set_xlim(edges[0], edges[-1])
    legend(ax, "upper right")
    return fig


def importance_figure(top: pd.DataFrame, total: int) -> Figure:
    """Features by permutation importance with their spread across folds, the largest on top.

    ``top`` is :func:`~leadscore.reporting.curves.importance_data`; ``total`` the number
    of features measured (the title says "All" when every one is shown).

    Example
    -------
    >>> from leadscore.reporting.curves import importance_data
    >>> table = pd.DataFrame({"feature": ["visits", "source"], "importance": [0.01, 0.05]})
    >>> importance_figure(importance_data(table), len(table)).axes[0].get_title()
    'All 2 features by importance'
    """
    shown = top.iloc[::-1]  # barh draws bottom-up: the most important feature on top
    fig, (ax,) = new_figure()
    ax.barh(shown["feature"].astype(str), shown["importance"], xerr=shown["std"].fillna(0),
            color=BLUE, alpha=0.85, error_kw={"ecolor": "black", "capsize": 3})  # fmt: skip
    which = "All" if len(shown) == total else "Top"
    style(ax, f"{which} {len(shown)} features by importance",
          "Drop in ROC-AUC when the feature is shuffled (AUC units)", "")  # fmt: skip
    ax.tick_params(axis="y", labelsize=LEGEND_SIZE)
    ax.axvline(0, color=GREY, lw=1)
    ax.grid(axis="y", visible=False)
    return fig


__all__ = [
    "MAX_PLOT_POINTS",
    "calibration_figure",
    "confusion_figure",
    "gains_figure",
    "importance_figure",
    "precision_recall_figure",
    "profit_contacted_figure",
    "profit_threshold_figure",
    "roc_figure",
    "score_distribution_figure",
]
