"""Lead detail: who the lead is (and its CRM record), score, segment, score history, the
reasons, the sales override (set and cleared here by admins), the distance from the ideal
customer, and the lead's raw attributes and events."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from leadscore.errors import LeadscoreError
from leadscore.explain.wording import field_label
from leadscore.live.overrides import (
    clear_override,
    effective_contact,
    set_override,
    through_day,
)
from leadscore.store import OVERRIDE_SEGMENTS
from leadscore.ui import charts, frames, model_insights, web
from leadscore.ui.identity import crm_link, identity_of

ctx = web.context()
user = web.require_user(ctx)
st.title("Lead detail")

wanted = st.query_params.get("lead", "")
lead_id = st.text_input("Lead id", value=wanted, key=f"lead_id_{wanted}").strip()
if lead_id != wanted:
    st.query_params["lead"] = lead_id
if not lead_id:
    best = web.queue(ctx).head(50)
    if best.empty:
        st.info("No scored leads yet.")
        st.stop()
    choice = st.selectbox(
        "…or pick one of the best-scored leads",
        [None, *best["lead_id"]],
        format_func=lambda i: "" if i is None else i,
        key="lead_pick",
    )
    if choice is None:
        st.info("Type a lead id, pick one, or click a lead on the **Leads** page.")
        st.stop()
    lead_id = str(choice)

lead = ctx.store.leads.get(lead_id)
if lead is None:
    st.warning(f"No lead with id {lead_id!r} in the store.")
    st.stop()
history = ctx.store.scores.history(lead_id, limit=200)
latest = history[0] if history else None
outcome = ctx.store.outcomes.latest(lead_id)
pin = ctx.store.overrides.active([lead_id]).get(lead_id)

# ----------------------------------------------------------------------------- who
who = identity_of(lead.attributes)
link = crm_link(ctx.settings.dashboard.crm_url, lead_id)
if who.items() or link:
    left, right = st.columns([5, 1])
    left.subheader(frames.plain(who.name or f"Lead {lead_id}"))
    details = [value for label, value in who.items() if label not in ("Name", "Owner")]
    if who.owner:
        details.append(f"owner {who.owner}")
    if details:
        left.markdown(" · ".join(frames.plain(d) for d in details))
    if link:
        right.link_button("Open in CRM", link, icon=":material/open_in_new:")

# ----------------------------------------------------------------------------- headline
cols = st.columns(4)
if latest is not None:
    previous = history[1].score_100 if len(history) > 1 else None
    cols[0].metric(
        "Score",
        f"{latest.score_100}",
        delta=None if previous is None else latest.score_100 - previous,
        help="0–100: about the chance in % that the lead converts",
    )
    cols[1].metric(
        "Segment",
        (latest.segment if pin is None else pin.segment).capitalize(),
        help=None if pin is None else f"📌 a sales override; the model says {latest.segment}",
    )
    cols[2].metric(
        "Call?",
        "yes" if effective_contact(latest.contact, pin) else "no",
        help=(
            "yes, by exploration: below the cut-off, drawn at random so the model keeps "
            "learning from leads like this one"
            if latest.explored
            else None
        ),
    )
else:
    cols[0].metric("Score", "–")
cols[3].metric(
    "Outcome",
    "none yet" if outcome is None else ("converted" if outcome.converted else "lost"),
)
# a line, not a tile: a date and time do not fit a tile's large type
if latest is not None:
    st.caption(
        f"Scored {latest.scored_at:%Y-%m-%d %H:%M} UTC by model version "
        f"{frames.plain(latest.model_version)}."
    )
else:
    st.caption("This lead has no score yet.")
if latest is not None and outcome is None:
    alike = web.earlier_cohorts(ctx, lead_id)
    if alike is not None:
        low, high = alike.interval
        st.caption(
            f"{alike.text}; 95 % interval {100 * low:.0f}–{100 * high:.0f} %. (Each earlier "
            "lead at its last score before its outcome.)"
        )

left, right = st.columns(2)
with left:
    if history:
        st.altair_chart(charts.score_history(frames.history_frame(history)), key="history")
with right:
    reasons = frames.reasons_frame(latest.reasons if latest else None)
    if reasons.empty:
        st.caption("No reasons stored with the latest score.")
    else:
        st.altair_chart(charts.reasons_chart(reasons), key="reasons")
        st.markdown(
            "\n".join(
                f"- {'▲' if r.direction == 'up' else '▼'} {frames.plain(r.text)}"
                for r in reasons.itertuples(index=False)
            )
        )

# ----------------------------------------------------------------------------- override
st.subheader("Sales override")
note = st.session_state.pop("override_note", None)
if note:
    st.success(note)
if pin is None:
    st.caption("None: the model's segment counts.")
else:
    ends = f" until {pin.until:%Y-%m-%d %H:%M} UTC" if pin.until else ""
    model_says = f" The model says {latest.segment}." if latest is not None else ""
    st.info(
        f"📌 Pinned **{pin.segment}** by {frames.plain(pin.author)} on "
        f"{pin.created_at:%Y-%m-%d}{ends}: {frames.plain(pin.reason)}.{model_says}"
    )
if user.is_admin:
    with st.form("override", clear_on_submit=True):
        cols = st.columns([1, 3, 1])
        segment = cols[0].selectbox("Segment", OVERRIDE_SEGMENTS, key="override_segment")
        reason = cols[1].text_input(
            "Reason", key="override_reason", placeholder="what you learned (required)"
        )
        until = cols[2].date_input(
            "Until (optional)", value=None, min_value=datetime.now(UTC).date(),
            key="override_until", help="the override holds through this day (UTC)",
        )  # fmt: skip
        if st.form_submit_button("Set the override", type="primary"):
            try:
                set_override(ctx.store, lead_id, segment, reason, user.name,
                             None if until is None else through_day(until))  # fmt: skip
            except LeadscoreError as exc:
                st.error(str(exc))
            else:
                st.session_state["override_note"] = f"Lead {lead_id} pinned {segment}."
                st.rerun()
    if pin is not None and st.button("Clear the override", key="override_clear"):
        clear_override(ctx.store, lead_id, user.name)
        st.session_state["override_note"] = "Override cleared: the model's segment counts."
        st.rerun()
else:
    st.caption("Admins set and clear overrides (you are a viewer).")

# ----------------------------------------------------------------------------- ideal


def shown(value: object) -> str:
    """A value for the table: numbers to four significant figures."""
    return f"{value:,.4g}" if isinstance(value, float) else str(value)


st.subheader("Compared with the ideal customer")
serving, problem = web.served(ctx)
info = web.current_dataset(ctx)
if serving is None:
    st.caption(f"No model is served: {problem}")
elif info is None or info.labelled == 0:
    st.caption(
        "The ideal customer is described from leads with a known outcome: load such a data "
        "set on the **Data** page."
    )
else:
    try:
        ideal = web.ideal(ctx, serving, info)
        inputs = model_insights.lead_inputs(
            serving.model, lead_id, lead.attributes, ctx.store.events.for_lead(lead_id)
        )
        gaps = model_insights.deviations(serving.model, inputs, ideal)
    except LeadscoreError as exc:
        st.caption(f"Cannot compare this lead with the ideal customer: {exc}")
    else:
        if gaps.empty:
            st.success("This lead matches the ideal customer on every field.")
        else:
            st.altair_chart(charts.deviation_chart(gaps.head(10)), key="deviations")
            st.dataframe(
                gaps.assign(
                    field=gaps["field"].map(field_label),
                    value=gaps["value"].map(lambda v: "not given" if v is None else shown(v)),
                    ideal=gaps["ideal"].map(shown),
                ),
                hide_index=True,
                column_config={
                    "field": "Field",
                    "value": "This lead",
                    "ideal": "Ideal customer",
                    "cost_points": st.column_config.NumberColumn(charts.GAIN_TITLE, format="%+.1f"),
                },
                key="gaps",
            )

# ----------------------------------------------------------------------------- raw
attributes_tab, events_tab, scores_tab = st.tabs(["Attributes", "Events", "All scores"])
with attributes_tab:
    st.dataframe(frames.attributes_table(lead.attributes), hide_index=True, key="attributes")
    st.caption(
        f"First seen {lead.created_at:%Y-%m-%d %H:%M} UTC, updated "
        f"{lead.updated_at:%Y-%m-%d %H:%M} UTC."
    )
with events_tab:
    events = ctx.store.events.for_lead(lead_id)
    if events:
        st.dataframe(frames.events_table(events), hide_index=True, key="events")
    else:
        st.caption(
            "No events stored for this lead: it was scored from its attributes (the API's "
            "/v1/score, a lead table) or from an events file that was not stored with it. "
            "Events sent to the API (POST /v1/events) are kept and shown here."
        )
with scores_tab:
    st.dataframe(frames.history_frame(history).iloc[::-1], hide_index=True, key="scores")
