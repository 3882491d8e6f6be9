"""Score a lead: a form built from the served model's inputs (the most important first);
the score, segment and reasons the API would give, without storing anything."""

from __future__ import annotations

import streamlit as st

from leadscore.errors import LeadscoreError
from leadscore.ui import charts, frames, lead_form, web

#: the fields shown at once; the others wait in "more fields"
FIRST_FIELDS = 12

ctx = web.context()
web.require_user(ctx)
st.title("Score a lead")

serving, problem = web.served(ctx)
if serving is None:
    st.info(f"No model is served yet ({problem}). Train one on the **Models** page.")
    st.stop()
fields = lead_form.form_fields(serving.model)
st.caption(
    f"What you know about a lead, scored by {frames.plain(serving.label)} as the API scores "
    f"it ({len(fields)} fields, the ones that move the score most first; leave a field empty "
    "when it is unknown). Nothing is stored."
)


def ask(column: st.delta_generator.DeltaGenerator, spec: lead_form.FormField) -> object:
    """One field's widget: a picker of the levels the model saw (a new one may be typed)
    for a category, a text box for numbers and dates (checked on submit)."""
    key = f"score_form_{spec.name}"
    if spec.kind == "categorical":
        return column.selectbox(
            spec.label, spec.levels, index=None, placeholder=spec.hint,
            accept_new_options=True, key=key,
        )  # fmt: skip
    return column.text_input(spec.label, placeholder=spec.hint, key=key)


typed: dict[str, object] = {}
with st.form("score_lead"):
    cols = st.columns(3)
    for i, spec in enumerate(fields[:FIRST_FIELDS]):
        typed[spec.name] = ask(cols[i % 3], spec)
    rest = fields[FIRST_FIELDS:]
    if rest:
        with st.expander(f"{len(rest)} more fields"):
            more = st.columns(3)
            for i, spec in enumerate(rest):
                typed[spec.name] = ask(more[i % 3], spec)
    submitted = st.form_submit_button("Score this lead", type="primary")

if submitted:
    try:
        values = lead_form.parse_values(fields, typed)
        result, reasons = lead_form.score_values(web.scorer(serving), values)
    except LeadscoreError as exc:
        st.error(f"Cannot score this lead: {exc}")
        st.stop()
    cols = st.columns(3)
    cols[0].metric("Score", f"{result.score_100}", help="0–100: about the chance in %")
    cols[1].metric("Segment", result.segment.capitalize())
    cols[2].metric("Call?", "yes" if result.contact else "no")
    shown = frames.reasons_frame(reasons)
    if shown.empty:
        st.caption("No reasons: every field is at its usual value.")
    else:
        left, right = st.columns(2)
        with left:
            st.altair_chart(charts.reasons_chart(shown), key="form_reasons")
        with right:
            st.markdown(
                "\n".join(
                    f"- {'▲' if r.direction == 'up' else '▼'} {frames.plain(r.text)}"
                    for r in shown.itertuples(index=False)
                )
            )
