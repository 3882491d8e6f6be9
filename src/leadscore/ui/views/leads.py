"""Leads: the home page. How many leads are hot, warm and cold, the best ones to call —
who they are, why, and a link to their CRM record — filters, search by id and the work
queue as CSV."""

from __future__ import annotations

import streamlit as st

from leadscore.explain.wording import field_label
from leadscore.live.capacity import period_quota
from leadscore.ui import capacity_frames, charts, frames, queue_table, web
from leadscore.ui.identity import LABELS
from leadscore.ui.identity import QUEUE_COLUMNS as WHO

ctx = web.context()
web.require_user(ctx)
st.title("Leads")

serving, problem = web.served(ctx)
frame = web.queue(ctx)
# the team's capacity per period ([capacity] per_period): contact follows the quota
quota = period_quota(ctx.store, ctx.settings.capacity) if ctx.settings.capacity.per_period else None
if quota is not None and not frame.empty:
    frame = capacity_frames.with_quota(frame, quota)
if frame.empty:
    st.info(
        "No scored leads yet. An admin loads leads on the **Data** page and trains a model "
        "on the **Models** page; the scoring API adds leads as they arrive."
    )
    if problem:
        st.caption(f"Served model: {problem}")
    st.stop()

time_column = serving.model.time_column_ if serving else None
keys = frames.key_columns(frame, time_column)
st.caption(
    f"Served model: {serving.label if serving else problem} · {len(frame):,} leads · "
    f"last scored {frames.as_of_text(frame['scored_at'].max())}"
)

# ----------------------------------------------------------------------------- filters
with st.container(border=True):
    cols = st.columns([1.2, 1.2, 1.2, 1.4, 1.2])
    segments = cols[0].multiselect("Segment", list(frames.SEGMENTS), key="f_segment")
    levels: dict[str, list[str]] = {}
    for col, key, label in ((cols[1], "source", "Source"), (cols[2], "country", "Country")):
        column = keys.get(key)
        if column:
            levels[column] = col.multiselect(
                label, frames.level_options(frame, column), key=f"f_{key}", help=f"column {column}"
            )
        else:
            col.caption(f"{label}: no such field in the leads")
    dates = frames.lead_dates(frame, keys.get("created"))
    first, last = dates.min().date(), dates.max().date()
    created = keys.get("created")
    # empty by default: every lead is listed, those without a creation date too
    picked = cols[3].date_input(
        "Created between",
        value=(),
        min_value=first,
        max_value=last,
        key="f_dates",
        format="YYYY-MM-DD",
        help=(f"from {created}, or " if created else "from ")
        + "when the store first saw the lead (leads scored through the API may have no "
        "creation date)",
    )
    search = cols[4].text_input("Search by lead id", key="f_search", placeholder="e.g. L001234")
start, end = (
    (picked[0], picked[1]) if isinstance(picked, tuple) and len(picked) == 2 else (None, None)
)
shown = frames.filter_queue(
    frame, segments=segments, levels=levels, date_column=keys.get("created"),
    start=start, end=end, search=search,
)  # fmt: skip

# ----------------------------------------------------------------------------- numbers
counts = frames.segment_counts(shown)
metrics = st.columns(5)
metrics[0].metric("Hot", f"{counts['hot']:,}", help="worth a call, and among the best scored")
metrics[1].metric("Warm", f"{counts['warm']:,}", help="worth a call")
metrics[2].metric("Cold", f"{counts['cold']:,}", help="below the contact threshold")
explored = frames.explored_leads(shown, len(shown))
metrics[3].metric(
    "To contact", f"{int(shown['contact'].sum()):,}",
    help=f"{len(explored):,} of them by exploration: below the cut-off, drawn at random so "
    "the model keeps learning from the leads it would leave alone",
)  # fmt: skip
metrics[4].metric("Leads shown", f"{len(shown):,}", help=f"of {len(frame):,}")
if quota is not None:
    label, value = capacity_frames.quota_text(quota)
    cut = f"; a new lead needs a score above {quota.cutoff_100}" if quota.cutoff_100 else ""
    st.metric(
        label, value,
        help="slots used of the team's capacity: leads pinned hot or worked this period, "
        f"and the best candidates{cut}",
    )  # fmt: skip

left, right = st.columns(2)
with left:
    st.altair_chart(charts.donut(frames.segment_shares(counts)), key="donut")
with right:
    if len(shown):
        st.altair_chart(charts.score_histogram(shown), key="histogram")

if search.strip():
    exact = frame.loc[frame["lead_id"].str.lower() == search.strip().lower(), "lead_id"]
    if len(exact):
        found = str(exact.iloc[0])
        if found not in set(shown["lead_id"]):
            st.caption(f"Lead {frames.plain(found)} exists, but the filters above leave it out.")
        if st.button(f"Open lead {found}", type="primary", key="open_search"):
            web.nav_to_lead(found)
    elif shown.empty:
        st.warning(f"No lead id contains {search.strip()!r}.")

# ----------------------------------------------------------------------------- tables
crm_url = ctx.settings.dashboard.crm_url
view, columns = queue_table.queue_view(shown, keys, crm_url)
if quota is not None:
    columns.insert(columns.index("segment") + 1, "quota")
config = {
    "lead_id": st.column_config.TextColumn("Lead"),
    **{WHO[kind]: st.column_config.TextColumn(label) for kind, label in LABELS.items()},
    "score_100": st.column_config.ProgressColumn(
        "Score",
        min_value=0,
        max_value=100,
        format="%d",
        help="0–100: about the chance in %",
        width="small",
    ),
    "segment": st.column_config.TextColumn("Segment"),
    **{
        column: st.column_config.TextColumn(field_label(column), help=f"column {column}")
        for column in keys.values()
        if column
    },
    "pin": st.column_config.TextColumn("Override", help="a sales override sets the segment"),
    "quota": st.column_config.TextColumn("Quota", help="holds one of the period's contacts"),
    "top_reasons": st.column_config.TextColumn(
        "Top reasons", width=queue_table.REASONS_WIDTH, help="what raises the score most"
    ),
    "crm": st.column_config.LinkColumn(
        "CRM", display_text="Open ↗", help=f"the lead's record in the CRM: {crm_url}"
    ),
}
for segment in ("hot", "warm"):
    top = frames.top_leads(view, segment, 25)
    st.subheader(f"Top {segment} leads")
    if top.empty:
        st.caption(f"No {segment} leads with these filters.")
        continue
    st.caption("Click a row to open the lead; click a column header to sort.")
    event = st.dataframe(
        top[columns],
        hide_index=True,
        column_config=config,
        on_select="rerun",
        selection_mode="single-row",
        row_height=(height := queue_table.reasons_row_height(top["top_reasons"])),
        height=queue_table.table_height(len(top), height),
        key=f"top_{segment}",
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        web.nav_to_lead(str(top.iloc[rows[0]]["lead_id"]))

if len(explored):
    st.subheader("Contact by exploration")
    st.caption(
        f"{len(explored):,} leads below the cut-off drawn at random for a call "
        "([exploration] share in the settings): their outcomes let the model be judged, "
        "and retrained, on every kind of lead, not only on those it already likes."
    )
    picked_out = frames.explored_leads(view, 25)
    st.dataframe(
        picked_out[columns],
        hide_index=True,
        column_config=config,
        row_height=(height := queue_table.reasons_row_height(picked_out["top_reasons"])),
        height=queue_table.table_height(len(picked_out), height),
        key="explored",
    )

st.download_button(
    f"Download the work queue ({len(shown):,} leads, CSV)",
    data=frames.queue_csv(shown),
    file_name="work_queue.csv",
    mime="text/csv",
    icon=":material/download:",
    key="download_queue",
)
