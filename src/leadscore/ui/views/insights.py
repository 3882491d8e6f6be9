"""Insights: what drives the score, conversion by source / country / device (share of
leads and rate), the ideal customer and how each segment differs from it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leadscore.errors import LeadscoreError
from leadscore.explain.wording import field_label
from leadscore.reporting.charts import conversion_chart, drivers_chart
from leadscore.ui import charts, frames, web

ctx = web.context()
web.require_user(ctx)
st.title("Insights")

serving, problem = web.served(ctx)
info = web.current_dataset(ctx)
if serving is None:
    st.info(f"No model is served yet ({problem}). Train one on the **Models** page.")
    st.stop()
if info is None or info.labelled == 0:
    st.info("Insights are drawn from leads with a known outcome: load some on the **Data** page.")
    st.stop()
try:
    numbers = web.insights(ctx, serving, info)
except LeadscoreError as exc:
    st.error(f"Cannot compute insights on {info.name}: {exc}")
    st.stop()

st.caption(
    f"{numbers['leads']:,} leads of **{info.name}** with an outcome, {numbers['converted']:,} "
    f"converted ({numbers['overall_rate']:.1%}); model {serving.label}."
)

st.subheader("Findings")
st.markdown("\n".join(f"- {frames.plain(sentence)}" for sentence in numbers["findings"]))

left, right = st.columns([3, 2])
with left:
    st.altair_chart(drivers_chart(numbers["drivers"]), key="drivers")
with right:
    st.markdown("**The ideal customer**")
    st.caption("Among converted leads the model ranks highest: the commonest level, or median.")
    ideal = numbers["ideal_profile"]
    st.dataframe(
        pd.DataFrame(
            {
                "field": [field_label(k) for k in ideal],
                "ideal": ["" if v is None else (f"{v:,.4g}" if isinstance(v, float) else str(v))
                          for v in ideal.values()],
            }
        ),
        hide_index=True,
        key="ideal",
        column_config={"field": "Field", "ideal": "Ideal customer"},
    )  # fmt: skip

# ----------------------------------------------------------------------------- conversion
st.subheader("Conversion by field")
tables = numbers["tables"]
ranked = [name for name in numbers["ranked"] if name in tables]
keys = frames.key_columns(pd.DataFrame(columns=list(tables)))
preferred = [keys.get(k) for k in ("source", "country", "device")]
default = [name for name in preferred if name in tables] or ranked[:3]
shown = st.multiselect(
    "Fields", ranked, default=default, format_func=field_label, key="insight_fields",
    help="ranked by how well they separate converting leads",
)  # fmt: skip
for name in shown:
    st.altair_chart(
        conversion_chart(tables[name].head(15), name, numbers["overall_rate"]),
        key=f"conversion_{name}",
    )

# ----------------------------------------------------------------------------- segments
st.subheader("Segments against the ideal customer")
profiles = numbers["segment_profiles"]
if profiles.empty:
    st.caption("No segments to compare.")
else:
    distance = profiles.groupby("segment", sort=False)[["leads", "distance_from_ideal"]].first()
    cols = st.columns(len(distance))
    for col, (segment, row) in zip(cols, distance.iterrows(), strict=True):
        col.metric(
            f"{str(segment).capitalize()} leads differ from the ideal in",
            f"{row['distance_from_ideal']:.0%}",
            help=f"of their fields, on average ({int(row['leads']):,} leads)",
        )
    st.altair_chart(charts.segment_profile_chart(profiles), key="segments")
