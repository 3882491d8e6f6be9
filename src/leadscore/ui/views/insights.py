"""Insights: what drives the score beside its held-out cross-check, conversion by source /
country / device (share of leads and rate), the ideal customer and how each segment
differs from it on the fields that matter."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leadscore.errors import LeadscoreError
from leadscore.explain.wording import field_label
from leadscore.reporting.charts import conversion_chart
from leadscore.ui import charts, frames, model_insights, web

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

drivers = numbers["drivers"]
profiles = numbers["segment_profiles"]
matter = model_insights.fields_that_matter(drivers, profiles)
st.altair_chart(
    charts.drivers_crosscheck_chart(drivers, model_insights.WEAK_AUC_DROP), key="drivers"
)
if "auc_drop" in drivers and drivers["auc_drop"].isna().all():
    st.caption("This model has no held-out cross-check (trained before it was measured).")
for row in model_insights.weak_drivers(drivers).itertuples(index=False):
    st.warning(
        f"**{frames.plain(field_label(row.field))}** moves the score by {row.importance:.1f} "
        f"points on average, but shuffling it on held-out leads lowers the AUC by only "
        f"{row.auc_drop:.4f}: the model leans on it more than it helps rank leads. Weak "
        "evidence: do not act on it alone.",
        icon=":material/help:",
    )

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
if profiles.empty or not matter:
    st.caption("No segments to compare.")
    st.stop()
shown_profiles = model_insights.profiles_of(profiles, matter)
st.caption(
    f"The {len(matter)} fields that matter most (by their effect on the score) on which the "
    "segments differ, the most important first; fields every segment matches the ideal on "
    "are left out. The ideal customer: among converted leads the model ranks highest, the "
    "commonest level or the median."
)
distance = shown_profiles.groupby("segment", sort=False)[["leads", "distance_from_ideal"]].first()
cols = st.columns(len(distance))
for col, (segment, row) in zip(cols, distance.iterrows(), strict=True):
    col.metric(
        f"{str(segment).capitalize()} leads differ from the ideal in",
        f"{row['distance_from_ideal']:.0%}",
        help=f"of these fields, on average ({int(row['leads']):,} leads)",
    )
left, right = st.columns([2, 3])
with left:
    ideal = numbers["ideal_profile"]
    st.dataframe(
        pd.DataFrame(
            {
                "field": [field_label(k) for k in matter],
                "ideal": [
                    "" if ideal.get(k) is None
                    else (f"{ideal[k]:,.4g}" if isinstance(ideal[k], float) else str(ideal[k]))
                    for k in matter
                ],
            }
        ),
        hide_index=True,
        height=36 + 35 * len(matter),  # every field at once
        key="ideal",
        column_config={"field": "Field", "ideal": "Ideal customer"},
    )  # fmt: skip
with right:
    st.altair_chart(charts.segment_profile_chart(shown_profiles), key="segments")
