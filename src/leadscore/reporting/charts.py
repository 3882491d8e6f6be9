"""The Altair renderer: the report's and the insights' charts, interactive, for the dashboard.

ROC, precision-recall, calibration, profit by threshold, the drivers of the score and
conversion by level, drawn as Altair (Vega-Lite) specifications from the same chart data
(:mod:`leadscore.reporting.curves`, :mod:`leadscore.reporting.fields`) the PNG renderers
draw: tooltips, titles, labelled axes, sized for a laptop screen, at most a few hundred
points per curve so pages stay fast on many leads. The dashboard's own charts (segments,
score history, monitoring) live in ``leadscore.ui.charts`` and share :func:`title`,
:data:`HEIGHT` and :data:`SEGMENT_SCALE`.

Example
-------
>>> import numpy as np
>>> chart = roc_chart(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), 0.3)
>>> chart.to_dict()["title"]["text"]
'ROC curve'
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from leadscore.config import Business
from leadscore.explain.wording import field_label
from leadscore.reporting.curves import (
    calibration_data,
    confusion_at,
    precision_recall_data,
    profit_data,
    roc_data,
    thin,
)
from leadscore.reporting.fields import conversion_chart_data, drivers_data
from leadscore.reporting.style import BLUE, FEW_LEADS, GREEN, GREY, RED, SEGMENT_COLOURS

#: hot, warm and cold in their colours, for every chart coloured by segment
SEGMENT_SCALE = alt.Scale(domain=list(SEGMENT_COLOURS), range=list(SEGMENT_COLOURS.values()))
#: curves are drawn through at most this many points
MAX_POINTS = 400
HEIGHT = 320


def title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    """A chart title, left-aligned, with an optional subtitle.

    Example
    -------
    >>> title("Leaderboard").to_dict()["text"]
    'Leaderboard'
    """
    return alt.TitleParams(text, subtitle=subtitle or alt.Undefined, anchor="start", fontSize=16)


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[thin(len(frame), MAX_POINTS)]


# ----------------------------------------------------------------------------- evaluation


def roc_chart(y: np.ndarray, score: np.ndarray, threshold: float) -> alt.LayerChart:
    """ROC curve of the out-of-fold scores, the diagonal, and the contact threshold.

    Example
    -------
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> roc_chart(y, p, model.cutoffs_.contact).to_dict()["title"]["text"]
    'ROC curve'
    """
    roc, at = roc_data(y, score), confusion_at(y, score, threshold)
    curve = _thin(roc.curve.assign(threshold=np.minimum(roc.curve["threshold"], 1.0)))
    point = pd.DataFrame(
        {"fpr": [at.false_positive_rate], "tpr": [at.recall], "threshold": [threshold]}
    )
    diagonal = pd.DataFrame({"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]})
    line = (
        alt.Chart(curve)
        .mark_line(color=BLUE, strokeWidth=2.5)
        .encode(
            x=alt.X("fpr:Q", title="False positive rate", axis=alt.Axis(format="%")),
            y=alt.Y("tpr:Q", title="True positive rate (recall)", axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("threshold:Q", title="Threshold", format=".3f"),
                alt.Tooltip("fpr:Q", title="False positive rate", format=".1%"),
                alt.Tooltip("tpr:Q", title="Recall", format=".1%"),
            ],
        )
    )
    chance = (
        alt.Chart(diagonal).mark_line(color=GREY, strokeDash=[5, 5]).encode(x="fpr:Q", y="tpr:Q")
    )
    marker = (
        alt.Chart(point)
        .mark_point(color=RED, size=120, filled=True)
        .encode(
            x="fpr:Q",
            y="tpr:Q",
            tooltip=[alt.Tooltip("threshold:Q", title="Contact threshold", format=".3f")],
        )
    )
    return (chance + line + marker).properties(
        title=title("ROC curve", f"AUC {roc.auc:.3f}; red: the contact threshold"), height=HEIGHT
    )


def precision_recall_chart(y: np.ndarray, score: np.ndarray) -> alt.LayerChart:
    """Precision against recall, with the base rate (what random calling achieves).

    Example
    -------
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> precision_recall_chart(y, p).to_dict()["title"]["text"]
    'Precision and recall'
    """
    pr = precision_recall_data(y, score)
    curve = _thin(pr.curve.iloc[:-1].iloc[::-1])  # the end point (recall 0) has no threshold
    line = (
        alt.Chart(curve)
        .mark_line(color=BLUE, strokeWidth=2.5)
        .encode(
            x=alt.X("recall:Q", title="Recall (share of conversions found)",
                    axis=alt.Axis(format="%")),
            y=alt.Y("precision:Q", title="Precision",
                    axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("threshold:Q", title="Threshold", format=".3f"),
                alt.Tooltip("recall:Q", title="Recall", format=".1%"),
                alt.Tooltip("precision:Q", title="Precision", format=".1%"),
            ],
        )
    )  # fmt: skip
    rule = (
        alt.Chart(pd.DataFrame({"rate": [pr.base_rate]}))
        .mark_rule(color=GREY, strokeDash=[5, 5])
        .encode(y="rate:Q")
    )
    subtitle = f"PR-AUC {pr.pr_auc:.3f}; dashed: {pr.base_rate:.1%} base rate"
    return (line + rule).properties(
        title=title("Precision and recall", subtitle),
        height=HEIGHT,
    )


def calibration_chart(y: np.ndarray, score: np.ndarray, bins: int = 10) -> alt.LayerChart:
    """Mean predicted probability against the observed conversion rate, per score bin.

    Example
    -------
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> calibration_chart(y, p).to_dict()["title"]["text"]
    'Calibration'
    """
    frame = calibration_data(y, score, bins).used[["bin", "predicted", "observed", "leads"]]
    points = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=80), color=BLUE, strokeWidth=2.5)
        .encode(
            x=alt.X("predicted:Q", title="Predicted conversion probability",
                    scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            y=alt.Y("observed:Q", title="Observed conversion rate",
                    scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("predicted:Q", title="Predicted", format=".1%"),
                alt.Tooltip("observed:Q", title="Observed", format=".1%"),
                alt.Tooltip("leads:Q", title="Leads", format=","),
            ],
        )
    )  # fmt: skip
    perfect = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0]}))
        .mark_line(color=GREY, strokeDash=[5, 5])
        .encode(x="x:Q", y="x:Q")
    )
    return (perfect + points).properties(
        title=title("Calibration", "dashed: perfectly calibrated"), height=HEIGHT
    )


def profit_chart(curve: pd.DataFrame, threshold: float, business: Business) -> alt.LayerChart:
    """Profit against the contact threshold, with the chosen threshold marked.

    ``curve`` is ``modeling.thresholds.profit_curve`` of the scores with ``business``.

    Example
    -------
    >>> from leadscore.modeling.thresholds import profit_curve
    >>> y, p = model.evaluation_["y"].to_numpy(), model.evaluation_["score"].to_numpy()
    >>> chart = profit_chart(profit_curve(y, p, Business()), 0.08, Business())
    >>> chart.to_dict()["title"]["text"]
    'Profit by contact threshold'
    """
    best = profit_data(curve)
    shown = curve.loc[np.isfinite(curve["threshold"]) & (curve["threshold"] <= 1)]
    line = (
        alt.Chart(_thin(shown))
        .mark_line(color=GREEN, strokeWidth=2.5)
        .encode(
            x=alt.X("threshold:Q", title="Contact threshold (call when the score is at least)",
                    scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            y=alt.Y("profit:Q", title="Profit", axis=alt.Axis(format=",.0f")),
            tooltip=[
                alt.Tooltip("threshold:Q", title="Threshold", format=".3f"),
                alt.Tooltip("contacted:Q", title="Leads contacted", format=","),
                alt.Tooltip("share:Q", title="Share contacted", format=".1%"),
                alt.Tooltip("profit:Q", title="Profit", format=",.0f"),
            ],
        )
    )  # fmt: skip
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [threshold]}))
        .mark_rule(color=RED, strokeWidth=2)
        .encode(x="threshold:Q")
    )
    subtitle = (
        f"best at {threshold:.3f}: {best.profit:,.0f} "
        f"(value {business.value_per_conversion:,.0f}, cost {business.cost_per_contact:,.0f}, "
        f"missed {business.missed_conversion_cost:,.0f})"
    )
    return (
        (line + rule)
        .properties(title=title("Profit by contact threshold", subtitle), height=HEIGHT)
        .interactive(bind_y=False)
    )


# ----------------------------------------------------------------------------- insights


def drivers_chart(drivers: pd.DataFrame, top: int = 12) -> alt.Chart:
    """Fields by their average effect on the score (mean absolute points).

    Example
    -------
    >>> from leadscore.explain.drivers import explain_sample, global_drivers
    >>> _, explained = explain_sample(model, leads, sample=100)
    >>> drivers_chart(global_drivers(explained)).to_dict()["title"]["text"]
    'What drives the score'
    """
    return (
        alt.Chart(drivers_data(drivers, top))
        .mark_bar(color=BLUE)
        .encode(
            x=alt.X("importance:Q", title="Average effect on the score (points)"),
            y=alt.Y("label:N", sort="-x", title="Field"),
            tooltip=[
                alt.Tooltip("label:N", title="Field"),
                alt.Tooltip("importance:Q", title="Mean |points|", format=".1f"),
                alt.Tooltip("mean_points:Q", title="Mean push", format="+.1f"),
            ],
        )
        .properties(title=title("What drives the score"), height=alt.Step(24))
    )


def conversion_chart(table: pd.DataFrame, name: str, overall_rate: float) -> alt.HConcatChart:
    """One field's levels: share of leads (left) and conversion rate with its 95 % interval
    (right); the dashed line is the average rate. Levels with too few leads are grey.

    Every level of ``table`` is drawn (the page chooses how many to pass).

    Example
    -------
    >>> from leadscore.explain.conversion import conversion_by_level
    >>> y = (leads["converted"] == "yes").to_numpy()
    >>> chart = conversion_chart(conversion_by_level(leads["source"], y), "source", y.mean())
    >>> len(chart.hconcat)
    2
    """
    chart = conversion_chart_data(table, max_levels=None)
    frame = chart.frame.drop(columns=["too_small", "err_low", "err_high"]).assign(
        reliability=np.where(chart.frame["too_small"], "too few leads", "enough leads")
    )
    order = list(frame["level"])
    y = alt.Y("level:N", sort=order, title=field_label(name))
    share = (
        alt.Chart(frame)
        .mark_bar(color=GREY)
        .encode(
            x=alt.X("share:Q", title="Share of leads", axis=alt.Axis(format="%")),
            y=y,
            tooltip=[
                alt.Tooltip("level:N", title="Level"),
                alt.Tooltip("leads:Q", title="Leads", format=","),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
        .properties(title=title("Share of leads"), width=260, height=alt.Step(22))
    )
    rate_base = alt.Chart(frame).encode(y=alt.Y("level:N", sort=order, title=None, axis=None))
    rate = rate_base.mark_bar().encode(
        x=alt.X("rate:Q", title="Conversion rate", axis=alt.Axis(format="%")),
        color=alt.Color(
            "reliability:N",
            scale=alt.Scale(domain=["enough leads", "too few leads"], range=[BLUE, FEW_LEADS]),
            title=None,
        ),
        tooltip=[
            alt.Tooltip("level:N", title="Level"),
            alt.Tooltip("rate:Q", title="Conversion rate", format=".1%"),
            alt.Tooltip("ci_low:Q", title="95 % from", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95 % to", format=".1%"),
            alt.Tooltip("converted:Q", title="Converted", format=","),
            alt.Tooltip("lift:Q", title="× average", format=".2f"),
        ],
    )
    interval = rate_base.mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q")
    average = (
        alt.Chart(pd.DataFrame({"rate": [overall_rate]}))
        .mark_rule(color=RED, strokeDash=[5, 5])
        .encode(x="rate:Q")
    )
    rates = (rate + interval + average).properties(
        title=title("Conversion rate", f"dashed: average {overall_rate:.1%}"),
        width=320,
        height=alt.Step(22),
    )
    return alt.hconcat(share, rates).properties(
        title=title(f"Conversion by {field_label(name).lower()}")
    )


__all__ = [
    "HEIGHT",
    "MAX_POINTS",
    "SEGMENT_SCALE",
    "calibration_chart",
    "conversion_chart",
    "drivers_chart",
    "precision_recall_chart",
    "profit_chart",
    "roc_chart",
    "title",
]
