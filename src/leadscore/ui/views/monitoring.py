"""Monitoring: how the scores spread day by day, the leads whose score jumped from one
day to the next, and — once outcomes are recorded — how often leads of each score band
really converted."""

from __future__ import annotations

import streamlit as st

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

left, right = st.columns(2)
with left:
    st.altair_chart(
        charts.distribution_chart(frames.daily_distribution(points)), key="distribution"
    )
with right:
    st.altair_chart(charts.segment_days_chart(frames.segment_days(points)), key="segment_days")

st.subheader("Day-to-day movers")
jump = st.slider("Smallest move (points)", 1, 50, 10, key="min_jump")
moved = frames.movers(points, min_jump=jump)
if moved.empty:
    st.caption(
        f"No lead's score moved by {jump} points or more between its last scoring day and the "
        "day before (leads are re-scored when their events or attributes arrive)."
    )
else:
    event = st.dataframe(
        moved,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="movers",
        column_config={
            "lead_id": "Lead", "before": "Before", "now": "Now",
            "change": st.column_config.NumberColumn("Change", format="%+d"),
            "segment_before": "Segment before", "segment_now": "Segment now",
            "scored_at": st.column_config.DatetimeColumn("Scored", format="YYYY-MM-DD HH:mm"),
        },
    )  # fmt: skip
    if event is not None and event.selection.rows:
        web.nav_to_lead(str(moved.iloc[event.selection.rows[0]]["lead_id"]))

st.subheader("Realised conversion by score band")
bands = frames.band_conversion(points, web.outcomes(ctx))
if bands.empty:
    st.caption(
        "Appears once outcomes are recorded for scored leads (the API's POST /v1/outcomes, "
        "or your CRM through it): each lead counts at its last score before the outcome."
    )
else:
    st.altair_chart(charts.band_chart(bands), key="bands")
    st.dataframe(
        bands.drop(columns=["low"]),
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
