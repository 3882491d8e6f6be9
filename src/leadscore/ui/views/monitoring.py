"""Monitoring: alerts (drifted inputs, outcomes below the training estimate), how the scores
spread day by day, the leads whose score jumped and why, drift by input, outcomes against
predictions (and estimated before they arrive) and cohorts — the numbers of ``leadscore
monitor report`` and ``GET /v1/monitoring/report`` (:mod:`leadscore.monitor`)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from leadscore.monitor.movers import movers, movers_frame
from leadscore.ui import charts, frames, web

ctx = web.context()
web.require_user(ctx)
st.title("Monitoring")

points = web.points(ctx)
if points.empty:
    st.info("No scores yet: they appear here as leads are scored.")
    st.stop()
st.caption(
    f"{len(points):,} scores of {points['lead_id'].nunique():,} leads, from "
    f"{frames.as_of_text(points['scored_at'].min())} to "
    f"{frames.as_of_text(points['scored_at'].max())}."
)
serving, why_not = web.served(ctx)
days = st.selectbox(
    "Period", [7, 30, 90, 365], index=1, format_func=lambda d: f"last {d} days", key="days"
)
report = web.monitoring_report(ctx, serving, days)
for alert in report.alerts:
    st.warning(alert)
if not report.alerts:
    st.success(f"No alerts in the last {days} days.")
for note in report.notes + ([f"No model served: {why_not}"] if serving is None else []):
    st.caption(note)

left, right = st.columns(2)
with left:
    st.altair_chart(
        charts.distribution_chart(frames.daily_distribution(points)), key="distribution"
    )
with right:
    st.altair_chart(charts.segment_days_chart(frames.segment_days(points)), key="segment_days")

st.subheader("Day-to-day movers")
jump = st.slider("Smallest move (points)", 1, 50, 10, key="min_jump")
last_day = points["scored_at"].max().normalize()
moved = movers_frame(
    movers(
        ctx.store,
        web.scorer(serving) if serving is not None else None,
        start=last_day.to_pydatetime(),
        end=(points["scored_at"].max() + timedelta(microseconds=1)).to_pydatetime(),
        min_jump=jump,
    )
)
if moved.empty:
    st.caption(
        f"No lead's score moved by {jump} points or more between its last scoring day and the "
        "day before (leads are re-scored when their events or attributes arrive)."
    )
else:
    st.caption(
        "Causes: behaviour (events between the two scores), attributes (CRM fields changed), "
        "model (a new model version). Reasons: the fields whose points changed most."
    )
    event = st.dataframe(
        moved.assign(scored_at=moved["scored_at"].map(lambda t: t.replace(tzinfo=None))),
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="movers",
        column_config={
            "lead_id": "Lead", "before": "Before", "after": "Now",
            "change": st.column_config.NumberColumn("Change", format="%+d"),
            "segment_before": "Segment before", "segment_after": "Segment now",
            "causes": "Causes", "reasons": st.column_config.TextColumn("Why", width="large"),
            "scored_at": st.column_config.DatetimeColumn("Scored", format="YYYY-MM-DD HH:mm"),
        },
    )  # fmt: skip
    if event is not None and event.selection.rows:
        web.nav_to_lead(str(moved.iloc[event.selection.rows[0]]["lead_id"]))

st.subheader("Drift from the training leads")
if report.drift is None:
    st.caption(
        "Judged once enough leads were scored in the period (and a model is served): each "
        "input's population stability index against the model's training leads."
    )
else:
    st.caption(
        "Population stability index of each input and of the score, this period's leads "
        "against the training leads: under 0.1 stable, 0.1–0.25 watch, over 0.25 drift."
    )
    st.dataframe(
        report.drift.to_frame(),
        hide_index=True,
        key="drift",
        column_config={
            "feature": "Input", "kind": "Kind",
            "psi": st.column_config.NumberColumn("PSI", format="%.3f"),
            "status": "Status", "moved": "Moved most",
        },
    )  # fmt: skip

st.subheader("Outcomes against predictions")
if report.bands.empty:
    st.caption(
        "Appears once outcomes are recorded for scored leads (the API's POST /v1/outcomes, "
        "`leadscore outcomes import`, or your CRM through them): each lead counts at its "
        "last score before the outcome."
    )
else:
    judged = report.realised
    if judged is not None and judged.auc is not None:
        trained = "" if judged.training_auc is None else f"; at training {judged.training_auc:.3f}"
        st.markdown(
            f"**{judged.n:,} outcomes** ({judged.positives:,} converted): AUC "
            f"**{judged.auc:.3f}** (95 %: {judged.auc_low:.3f}–{judged.auc_high:.3f}){trained}."
        )
    bands = report.bands.rename(columns={"predicted": "expected"})
    st.altair_chart(charts.band_chart(bands), key="bands")
    st.dataframe(
        bands.drop(columns=["low", "gap"]),
        hide_index=True,
        key="bands_table",
        column_config={
            "band": "Score band", "leads": "Leads", "converted": "Converted",
            "rate": st.column_config.NumberColumn("Realised rate", format="percent"),
            "ci_low": st.column_config.NumberColumn("95 % from", format="percent"),
            "ci_high": st.column_config.NumberColumn("95 % to", format="percent"),
            "expected": st.column_config.NumberColumn("Promised", format="percent"),
        },
    )  # fmt: skip

st.subheader("Estimated before outcomes, and realised")
if report.over_time.empty:
    st.caption("No leads scored in the period.")
else:
    st.caption(
        "The scores are calibrated probabilities, so each week's conversion and AUC can be "
        "estimated from them alone; the realised figures fill in as outcomes arrive."
    )
    table = report.over_time.assign(period=pd.to_datetime(report.over_time["period"]).dt.date)
    st.dataframe(
        table,
        hide_index=True,
        key="over_time",
        column_config={
            "period": "Week of", "n": "Leads",
            "expected_rate": st.column_config.NumberColumn("Expected rate", format="percent"),
            "expected_auc": st.column_config.NumberColumn("Expected AUC", format="%.3f"),
            "expected_profit": st.column_config.NumberColumn("Expected profit", format="%.0f"),
            "with_outcome": "With outcome", "converted": "Converted",
            "realised_rate": st.column_config.NumberColumn("Realised rate", format="percent"),
            "realised_auc": st.column_config.NumberColumn("Realised AUC", format="%.3f"),
        },
    )  # fmt: skip

st.subheader("Every lead, not only the contacted ones")
if report.exploration is None:
    st.caption(
        "Appears once contacted leads of the period have outcomes. A team that calls only "
        "the top leads learns outcomes only for those; exploration ([exploration] share in "
        "the settings) contacts a random few below the cut-off, so the model can be judged "
        "on every lead."
    )
else:
    judged_all = report.exploration
    st.caption(
        "Naive: the contacted leads with an outcome only — the ones the model picked, so "
        "their conversion and AUC are biased. Corrected: each of those outcomes weighted by "
        "one over its lead's chance of being contacted (the explored leads stand in for "
        "the many not called): an estimate over every lead."
    )
    st.dataframe(
        judged_all.to_frame(),
        hide_index=True,
        key="exploration",
        column_config={
            "estimate": "Estimate",
            "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
            "rate": st.column_config.NumberColumn("Conversion", format="percent"),
            "profit_per_lead": st.column_config.NumberColumn("Profit per lead", format="%.2f"),
        },
    )  # fmt: skip
    st.caption(judged_all.summary()[-1])

st.subheader("Cohorts by week created")
if report.cohorts.empty:
    st.caption("No leads with a creation date yet.")
else:
    st.caption(
        "The leads created each week. Conversion is of the leads with an outcome so far: "
        "in the latest weeks few have one yet, so their rate is early (compare With "
        "outcome with Leads)."
    )
    st.dataframe(
        report.cohorts,
        hide_index=True,
        key="cohorts",
        column_config={
            "cohort": "Week of", "leads": "Leads", "scored": "Scored",
            "mean_score": st.column_config.NumberColumn("Mean score", format="percent"),
            "hot": st.column_config.NumberColumn("Hot", format="percent"),
            "warm": st.column_config.NumberColumn("Warm", format="percent"),
            "cold": st.column_config.NumberColumn("Cold", format="percent"),
            "with_outcome": "With outcome", "converted": "Converted",
            "conversion": st.column_config.NumberColumn("Conversion", format="percent"),
            "conversion_low": None, "conversion_high": None,
            "median_days_to_convert": st.column_config.NumberColumn(
                "Days to convert", format="%.1f"
            ),
        },
    )  # fmt: skip
