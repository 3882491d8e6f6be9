"""Every chart of the dashboard, as an Altair (Vega-Lite) specification.

Charts are interactive (tooltips; zoom and pan where a time axis or a curve benefits),
titled, with labelled axes, sized for a laptop screen. Data is aggregated before it is
charted (at most a few hundred points per curve) so pages stay fast on many leads.
Colours are the Okabe–Ito palette of the evaluation report (safe for colour blindness);
hot / warm / cold always have the same colours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from leadscore.config import Business
from leadscore.explain.analytics import field_label

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#7F7F7F", "#CC79A7",
)  # fmt: skip
SEGMENT_COLOURS = {"hot": RED, "warm": ORANGE, "cold": BLUE}
SEGMENT_SCALE = alt.Scale(domain=list(SEGMENT_COLOURS), range=list(SEGMENT_COLOURS.values()))
#: curves are drawn through at most this many points
MAX_POINTS = 400
HEIGHT = 320


def _thin(frame: pd.DataFrame, limit: int = MAX_POINTS) -> pd.DataFrame:
    if len(frame) <= limit:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, limit).round().astype(int))
    return frame.iloc[keep]


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text, subtitle=subtitle or alt.Undefined, anchor="start", fontSize=16)


# ----------------------------------------------------------------------------- leads


def donut(shares: pd.DataFrame) -> alt.LayerChart:
    """Leads by segment as a donut, the count and share in the tooltip and on each arc."""
    base = (
        alt.Chart(shares)
        .encode(
            theta=alt.Theta("leads:Q", stack=True),
            color=alt.Color(
                "segment:N", scale=SEGMENT_SCALE, title="Segment", sort=list(SEGMENT_COLOURS)
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("leads:Q", title="Leads", format=","),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
        .transform_calculate(order="datum.segment == 'hot' ? 0 : datum.segment == 'warm' ? 1 : 2")
    )
    arcs = base.mark_arc(innerRadius=62, outerRadius=108, stroke="white")
    labels = base.mark_text(radius=128, fontSize=13).encode(text=alt.Text("share:Q", format=".0%"))
    return (arcs + labels).properties(
        title=_title("Leads by segment", "latest score of every lead"), height=HEIGHT
    )


def score_histogram(frame: pd.DataFrame) -> alt.Chart:
    """How the latest scores spread over 0–100, coloured by segment."""
    binned = (
        frame.assign(bin=(np.minimum(frame["score_100"], 99) // 5) * 5)
        .groupby(["bin", "segment"])
        .size()
        .rename("leads")
        .reset_index()
    )
    return (
        alt.Chart(binned)
        .mark_bar()
        .encode(
            x=alt.X("bin:Q", bin=alt.Bin(step=5, extent=[0, 100]), title="Score (0–100)"),
            y=alt.Y("leads:Q", title="Leads", stack=True),
            color=alt.Color("segment:N", scale=SEGMENT_SCALE, title="Segment"),
            tooltip=[
                alt.Tooltip("bin:Q", title="Score from"),
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("leads:Q", title="Leads", format=","),
            ],
        )
        .properties(title=_title("Score distribution"), height=HEIGHT)
    )


# ----------------------------------------------------------------------------- one lead


def score_history(history: pd.DataFrame) -> alt.LayerChart:
    """A lead's score over time, each score a point coloured by its segment."""
    base = alt.Chart(history).encode(
        x=alt.X("scored_at:T", title="Scored at (UTC)", axis=alt.Axis(format="%d %b %H:%M")),
        y=alt.Y("score_100:Q", title="Score (0–100)", scale=alt.Scale(domain=[0, 100])),
        tooltip=[
            alt.Tooltip("scored_at:T", title="Scored at", format="%Y-%m-%d %H:%M"),
            alt.Tooltip("score_100:Q", title="Score"),
            alt.Tooltip("segment:N", title="Segment"),
            alt.Tooltip("model_version:N", title="Model version"),
        ],
    )
    line = base.mark_line(color=GREY)
    dots = base.mark_circle(size=90).encode(
        color=alt.Color("segment:N", scale=SEGMENT_SCALE, title="Segment")
    )
    return (line + dots).properties(title=_title("Score history"), height=260).interactive()


def reasons_chart(reasons: pd.DataFrame) -> alt.Chart:
    """What pushed the lead's score up (right) and down (left), in score points."""
    frame = reasons.assign(
        label=[str(t) for t in reasons["text"]], value=[str(v) for v in reasons["value"]]
    )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("points:Q", title="Effect on the score (points)"),
            y=alt.Y("label:N", sort="-x", title="Reason", axis=alt.Axis(labelLimit=380)),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(domain=["up", "down"], range=[GREEN, RED]),
                title="Pushes the score",
            ),
            tooltip=[
                alt.Tooltip("field:N", title="Field"),
                alt.Tooltip("value:N", title="Value"),
                alt.Tooltip("points:Q", title="Points", format="+.1f"),
            ],
        )
        .properties(title=_title("Why this score"), height=alt.Step(30))
    )


def deviation_chart(deviations: pd.DataFrame) -> alt.Chart:
    """What each difference from the ideal customer costs the lead, in score points."""
    # mixed-type columns (a level here, a number there) cannot travel as Arrow: text only
    frame = pd.DataFrame(
        {
            "label": [field_label(f) for f in deviations["field"]],
            "value_text": [str(v) for v in deviations["value"]],
            "ideal_text": [str(v) for v in deviations["ideal"]],
            "cost_points": deviations["cost_points"].astype(float).to_numpy(),
        }
    )
    return (
        alt.Chart(frame)
        .mark_bar(color=PURPLE)
        .encode(
            x=alt.X("cost_points:Q", title="Points the lead would gain with the ideal value"),
            y=alt.Y("label:N", sort="-x", title="Field"),
            tooltip=[
                alt.Tooltip("label:N", title="Field"),
                alt.Tooltip("value_text:N", title="This lead"),
                alt.Tooltip("ideal_text:N", title="Ideal customer"),
                alt.Tooltip("cost_points:Q", title="Points", format="+.1f"),
            ],
        )
        .properties(title=_title("Distance from the ideal customer"), height=alt.Step(26))
    )


# ----------------------------------------------------------------------------- models


def leaderboard_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Cross-validated ROC-AUC of every candidate, with its spread over the folds."""
    frame = table.assign(
        low=table["auc"] - table["auc_std"].fillna(0),
        high=table["auc"] + table["auc_std"].fillna(0),
    )
    base = alt.Chart(frame).encode(y=alt.Y("label:N", sort="-x", title="Model"))
    bars = base.mark_bar(color=BLUE).encode(
        x=alt.X("auc:Q", title="ROC-AUC (cross-validated)", scale=alt.Scale(zero=False)),
        tooltip=[
            alt.Tooltip("label:N", title="Model"),
            alt.Tooltip("auc:Q", title="AUC", format=".4f"),
            alt.Tooltip("auc_std:Q", title="± over folds", format=".3f"),
            alt.Tooltip("profit:Q", title="Profit", format=",.0f"),
        ],
    )
    whiskers = base.mark_rule(color="black").encode(x="low:Q", x2="high:Q")
    return (bars + whiskers).properties(title=_title("Leaderboard"), height=alt.Step(26))


def roc_chart(y: np.ndarray, score: np.ndarray, threshold: float) -> alt.LayerChart:
    """ROC curve of the out-of-fold scores, the diagonal, and the contact threshold."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, cuts = roc_curve(y, score)
    curve = _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(cuts, 1.0)}))
    at = int(np.argmin(np.abs(cuts - threshold)))
    point = pd.DataFrame({"fpr": [fpr[at]], "tpr": [tpr[at]], "threshold": [threshold]})
    diagonal = pd.DataFrame({"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]})
    auc = float(roc_auc_score(y, score))
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
        title=_title("ROC curve", f"AUC {auc:.3f}; red: the contact threshold"), height=HEIGHT
    )


def precision_recall_chart(y: np.ndarray, score: np.ndarray) -> alt.LayerChart:
    """Precision against recall, with the base rate (what random calling achieves)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, cuts = precision_recall_curve(y, score)
    curve = _thin(
        pd.DataFrame({"recall": recall[:-1], "precision": precision[:-1], "threshold": cuts}).iloc[
            ::-1
        ]
    )
    base_rate = float(np.mean(y))
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
        alt.Chart(pd.DataFrame({"rate": [base_rate]}))
        .mark_rule(color=GREY, strokeDash=[5, 5])
        .encode(y="rate:Q")
    )
    ap = float(average_precision_score(y, score))
    return (line + rule).properties(
        title=_title("Precision and recall", f"PR-AUC {ap:.3f}; dashed: {base_rate:.1%} base rate"),
        height=HEIGHT,
    )


def calibration_chart(y: np.ndarray, score: np.ndarray, bins: int = 10) -> alt.LayerChart:
    """Mean predicted probability against the observed conversion rate, per score bin."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(score, edges[1:-1], right=True), 0, bins - 1)
    frame = (
        pd.DataFrame({"bin": which, "score": score, "y": y})
        .groupby("bin")
        .agg(predicted=("score", "mean"), observed=("y", "mean"), leads=("y", "size"))
        .reset_index()
    )
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
        title=_title("Calibration", "dashed: perfectly calibrated"), height=HEIGHT
    )


def profit_chart(curve: pd.DataFrame, threshold: float, business: Business) -> alt.LayerChart:
    """Profit against the contact threshold, with the chosen threshold marked."""
    frame = _thin(curve.loc[np.isfinite(curve["threshold"]) & (curve["threshold"] <= 1)])
    best = curve.loc[curve["profit"].idxmax()]
    line = (
        alt.Chart(frame)
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
        f"best at {threshold:.3f}: {best['profit']:,.0f} "
        f"(value {business.value_per_conversion:,.0f}, cost {business.cost_per_contact:,.0f}, "
        f"missed {business.missed_conversion_cost:,.0f})"
    )
    return (
        (line + rule)
        .properties(title=_title("Profit by contact threshold", subtitle), height=HEIGHT)
        .interactive(bind_y=False)
    )


# ----------------------------------------------------------------------------- insights


def drivers_chart(drivers: pd.DataFrame, top: int = 12) -> alt.Chart:
    """Fields by their average effect on the score (mean absolute points)."""
    frame = drivers.head(top).assign(label=[field_label(f) for f in drivers["field"].head(top)])
    return (
        alt.Chart(frame)
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
        .properties(title=_title("What drives the score"), height=alt.Step(24))
    )


def conversion_chart(table: pd.DataFrame, name: str, overall_rate: float) -> alt.HConcatChart:
    """One field's levels: share of leads (left) and conversion rate with its 95 % interval
    (right); the dashed line is the average rate. Levels with too few leads are grey."""
    frame = table.drop(columns=["level", "too_small"]).assign(
        level=[str(v) for v in table["level"]],
        reliability=np.where(table["too_small"], "too few leads", "enough leads"),
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
        .properties(title=_title("Share of leads"), width=260, height=alt.Step(22))
    )
    rate_base = alt.Chart(frame).encode(y=alt.Y("level:N", sort=order, title=None, axis=None))
    rate = rate_base.mark_bar().encode(
        x=alt.X("rate:Q", title="Conversion rate", axis=alt.Axis(format="%")),
        color=alt.Color(
            "reliability:N",
            scale=alt.Scale(domain=["enough leads", "too few leads"], range=[BLUE, "#BBBBBB"]),
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
        title=_title("Conversion rate", f"dashed: average {overall_rate:.1%}"),
        width=320,
        height=alt.Step(22),
    )
    return alt.hconcat(share, rates).properties(
        title=_title(f"Conversion by {field_label(name).lower()}")
    )


def segment_profile_chart(profiles: pd.DataFrame) -> alt.Chart:
    """Per segment and field, the share of leads that match the ideal customer."""
    frame = pd.DataFrame(
        {
            "segment": profiles["segment"].astype(str).to_numpy(),
            "label": [field_label(f) for f in profiles["field"]],
            "ideal_text": [str(v) for v in profiles["ideal"]],
            "typical_text": [str(v) for v in profiles["typical"]],
            "match_share": profiles["match_share"].astype(float).to_numpy(),
        }
    )
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("segment:N", sort=list(SEGMENT_COLOURS), title="Segment"),
            y=alt.Y("label:N", title="Field"),
            color=alt.Color(
                "match_share:Q",
                title="Match the ideal",
                scale=alt.Scale(domain=[0, 1], scheme="blues"),
                legend=alt.Legend(format="%"),
            ),
            tooltip=[
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("label:N", title="Field"),
                alt.Tooltip("ideal_text:N", title="Ideal customer"),
                alt.Tooltip("typical_text:N", title="Typical in segment"),
                alt.Tooltip("match_share:Q", title="Leads matching", format=".0%"),
            ],
        )
        .properties(
            title=_title("How each segment matches the ideal customer"),
            height=alt.Step(24),
            width=alt.Step(90),
        )
    )


# ----------------------------------------------------------------------------- monitoring


def distribution_chart(daily: pd.DataFrame) -> alt.LayerChart:
    """The spread of the scores given each day: 10–90th and 25–75th percentile bands and
    the median."""
    base = alt.Chart(daily).encode(x=alt.X("day:T", title="Day (UTC)"))
    outer = base.mark_area(opacity=0.25, color=BLUE).encode(
        y=alt.Y("p10:Q", title="Score (0–100)", scale=alt.Scale(domain=[0, 100])), y2="p90:Q"
    )
    inner = base.mark_area(opacity=0.45, color=BLUE).encode(y="p25:Q", y2="p75:Q")
    median = base.mark_line(color=BLUE, point=True).encode(
        y="median:Q",
        tooltip=[
            alt.Tooltip("day:T", title="Day"),
            alt.Tooltip("leads:Q", title="Leads scored", format=","),
            alt.Tooltip("p10:Q", title="10th percentile"),
            alt.Tooltip("median:Q", title="Median"),
            alt.Tooltip("p90:Q", title="90th percentile"),
        ],
    )
    return (
        (outer + inner + median)
        .properties(
            title=_title("Score distribution over time", "bands: 10–90th and 25–75th percentile"),
            height=HEIGHT,
        )
        .interactive(bind_y=False)
    )


def segment_days_chart(counts: pd.DataFrame) -> alt.Chart:
    """Leads scored each day, stacked by segment."""
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(day):O", title="Day (UTC)", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("leads:Q", title="Leads scored", stack=True),
            color=alt.Color("segment:N", scale=SEGMENT_SCALE, title="Segment"),
            tooltip=[
                alt.Tooltip("day:T", title="Day"),
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("leads:Q", title="Leads", format=","),
            ],
        )
        .properties(title=_title("Segments by day"), height=HEIGHT)
    )


def band_chart(bands: pd.DataFrame) -> alt.LayerChart:
    """Realised conversion per score band (with its 95 % interval) against what the
    scores promised."""
    order = list(bands["band"])
    base = alt.Chart(bands).encode(x=alt.X("band:N", sort=order, title="Score band"))
    bars = base.mark_bar(color=BLUE, opacity=0.8).encode(
        y=alt.Y("rate:Q", title="Conversion rate", axis=alt.Axis(format="%")),
        tooltip=[
            alt.Tooltip("band:N", title="Band"),
            alt.Tooltip("leads:Q", title="Leads with an outcome", format=","),
            alt.Tooltip("converted:Q", title="Converted", format=","),
            alt.Tooltip("rate:Q", title="Realised rate", format=".1%"),
            alt.Tooltip("expected:Q", title="Promised (mean score)", format=".1%"),
        ],
    )
    interval = base.mark_rule(color="black").encode(y="ci_low:Q", y2="ci_high:Q")
    promised = base.mark_line(color=RED, point=True, strokeDash=[5, 5]).encode(y="expected:Q")
    return (bars + interval + promised).properties(
        title=_title("Realised conversion by score band", "red: what the scores promised"),
        height=HEIGHT,
    )


def spec(chart: alt.TopLevelMixin) -> Mapping[str, Any]:
    """The Vega-Lite specification of a chart (for tests and exports)."""
    return chart.to_dict()
