"""The dashboard's own charts, as Altair (Vega-Lite) specifications.

The charts that only the dashboard draws, from the store and the dashboard's frames: leads
by segment, the live score histogram, one lead's score history, reasons and distance from
the ideal customer, the leaderboard, segments against the ideal customer, and monitoring
(score distribution over time, segments by day, realised conversion by score band). The
evaluation and insight charts the report and the insights page also draw as PNGs (ROC,
precision-recall, calibration, profit, drivers, conversion by level) are in
:mod:`leadscore.reporting.charts`, from the same chart data as the PNGs.

Charts are interactive (tooltips; zoom and pan where a time axis benefits), titled, with
labelled axes, sized for a laptop screen, in the report's colours (hot / warm / cold always
the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from leadscore.explain.wording import field_label
from leadscore.reporting.charts import HEIGHT, SEGMENT_SCALE, title
from leadscore.reporting.style import BLUE, GREEN, GREY, PURPLE, RED, SEGMENT_COLOURS

#: what a difference from the ideal customer costs a lead, in the deviation chart's axis
#: and the lead page's table alike
GAIN_TITLE = "Points to gain with the ideal value"

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
        title=title("Leads by segment", "latest score of every lead"), height=HEIGHT
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
        .properties(title=title("Score distribution"), height=HEIGHT)
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
    return (line + dots).properties(title=title("Score history"), height=260).interactive()


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
        .properties(title=title("Why this score"), height=alt.Step(30))
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
            x=alt.X("cost_points:Q", title=GAIN_TITLE),
            y=alt.Y("label:N", sort="-x", title="Field", axis=alt.Axis(labelLimit=260)),
            tooltip=[
                alt.Tooltip("label:N", title="Field"),
                alt.Tooltip("value_text:N", title="This lead"),
                alt.Tooltip("ideal_text:N", title="Ideal customer"),
                alt.Tooltip("cost_points:Q", title="Points", format="+.1f"),
            ],
        )
        .properties(title=title("Distance from the ideal customer"), height=alt.Step(26))
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
    return (bars + whiskers).properties(title=title("Leaderboard"), height=alt.Step(26))


# ----------------------------------------------------------------------------- insights


def drivers_crosscheck_chart(drivers: pd.DataFrame, weak_below: float, top: int = 12) -> Any:
    """The ``top`` drivers by their average effect on the score (left) beside their
    held-out cross-check (right: how much the AUC falls when the field is shuffled on
    held-out leads); a driver whose AUC drop is under ``weak_below`` is drawn grey on both
    sides, so a large effect that does not hold up is visibly weak."""
    ranked = drivers.sort_values("importance", ascending=False, kind="stable").head(top)
    unmeasured = pd.Series(np.nan, index=ranked.index)
    frame = pd.DataFrame(
        {
            "label": [field_label(f) for f in ranked["field"]],
            "importance": ranked["importance"].astype(float).to_numpy(),
            "auc_drop": ranked.get("auc_drop", unmeasured).astype(float).to_numpy(),
        }
    )
    frame["check"] = np.where(
        frame["auc_drop"].isna(),
        "not measured",
        np.where(frame["auc_drop"] < weak_below, "weak on held-out leads", "holds up"),
    )
    order = list(frame["label"])
    colour = alt.Color(
        "check:N",
        title="Held-out cross-check",
        legend=alt.Legend(orient="bottom"),
        scale=alt.Scale(
            domain=["holds up", "weak on held-out leads", "not measured"],
            range=[BLUE, GREY, "#d9d9d9"],
        ),
    )
    tooltip = [
        alt.Tooltip("label:N", title="Field"),
        alt.Tooltip("importance:Q", title="Average effect (points)", format=".1f"),
        alt.Tooltip("auc_drop:Q", title="Held-out AUC drop", format=".4f"),
        alt.Tooltip("check:N", title="Cross-check"),
    ]
    base = alt.Chart(frame).encode(color=colour, tooltip=tooltip)
    effect = (
        base.mark_bar()
        .encode(
            x=alt.X("importance:Q", title="Average effect on the score (points)"),
            y=alt.Y("label:N", sort=order, title="Field", axis=alt.Axis(labelLimit=260)),
        )
        .properties(title=title("What drives the score"), height=alt.Step(24), width=340)
    )
    check = (
        base.mark_bar()
        .encode(
            x=alt.X("auc_drop:Q", title="AUC drop when shuffled (held-out leads)"),
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labels=False, ticks=False)),
        )
        .properties(
            title=title("Does it hold up?", "held-out permutation importance"),
            height=alt.Step(24),
            width=220,
        )
    )
    return alt.hconcat(effect, check, spacing=8)


def segment_profile_chart(profiles: pd.DataFrame) -> alt.Chart:
    """Per segment and field, the share of leads that match the ideal customer; the
    fields in the order given (the page puts the most important first)."""
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
            y=alt.Y(
                "label:N",
                sort=list(dict.fromkeys(frame["label"])),
                title="Field",
                axis=alt.Axis(labelLimit=260),
            ),
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
            title=title("How each segment matches the ideal customer"),
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
            title=title("Score distribution over time", "bands: 10–90th and 25–75th percentile"),
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
        .properties(title=title("Segments by day"), height=HEIGHT)
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
    # the points take the line's colour (alone they would take the default blue of the bars)
    promised = base.mark_line(
        color=RED, point=alt.OverlayMarkDef(color=RED, filled=True), strokeDash=[5, 5]
    ).encode(y="expected:Q")
    return (bars + interval + promised).properties(
        title=title(
            "Realised conversion by score band",
            "bars: realised (black: 95 % interval); dashed line: what the scores promised",
        ),
        height=HEIGHT,
    )


def spec(chart: alt.TopLevelMixin) -> Mapping[str, Any]:
    """The Vega-Lite specification of a chart (for tests and exports)."""
    return chart.to_dict()
