"""Settings (admins only): business values, segment cutoffs, capacity, API keys, webhooks
and users."""

from __future__ import annotations

import secrets

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from leadscore.config import Business, Segments, load_settings
from leadscore.errors import LeadscoreError
from leadscore.store import DEFAULT_WEBHOOK_KINDS, ROLES, SCOPES, WEBHOOK_KINDS
from leadscore.ui import frames, web
from leadscore.ui.auth import random_password
from leadscore.ui.config import BUSINESS_KEY, SEGMENTS_KEY, segment_inputs, served_cutoffs_text

ctx = web.context()
user = web.require_admin(ctx, "The Settings page")
st.title("Settings")


def problem(exc: Exception) -> str:
    """A validation or store error as one line."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return str(exc)


def changed_by(key: str) -> str:
    record = ctx.store.settings.changed().get(key)
    if record is None:
        return "from leadscore.toml and the environment"
    when = f"{record['updated_at']:%Y-%m-%d %H:%M} UTC"
    return f"changed in the dashboard by {record['updated_by']} on {when}"


business_tab, keys_tab, hooks_tab, users_tab = st.tabs(
    ["Business and segments", "API keys", "Webhooks", "Users"]
)

# ----------------------------------------------------------------------------- business
with business_tab:
    current = ctx.settings.business
    st.subheader("Business values")
    st.caption(
        f"Define profit, and so the contact threshold of models trained from now on "
        f"({changed_by(BUSINESS_KEY)})."
    )
    with st.form("business"):
        cols = st.columns(4)
        value = cols[0].number_input(
            "Value of a conversion", min_value=0.0, value=float(current.value_per_conversion)
        )
        cost = cols[1].number_input(
            "Cost of a contact", min_value=0.0, value=float(current.cost_per_contact)
        )
        missed = cols[2].number_input(
            "Cost of a missed conversion", min_value=0.0,
            value=float(current.missed_conversion_cost),
        )  # fmt: skip
        capacity = cols[3].number_input(
            "Capacity (leads per batch; 0: no limit)", min_value=0, step=10,
            value=int(current.capacity or 0),
            help="The team calls only this many of the best leads of each scored batch.",
        )  # fmt: skip
        if st.form_submit_button("Save the business values", type="primary"):
            try:
                chosen = Business(
                    value_per_conversion=value, cost_per_contact=cost,
                    missed_conversion_cost=missed, capacity=int(capacity) or None,
                )  # fmt: skip
            except ValidationError as exc:
                st.error(problem(exc))
            else:
                ctx.store.settings.set(BUSINESS_KEY, chosen.model_dump(), by=user.name)
                st.success("Saved.")

    segments = ctx.settings.segments
    st.subheader("Segments")
    st.caption(
        "Cold is below the contact threshold. Hot is the best-scored share of leads (or "
        "above a fixed score); warm is in between. Models keep the cutoffs they were trained "
        f"with: the new ones apply from the next training ({changed_by(SEGMENTS_KEY)})."
    )
    serving, serving_problem = web.served(ctx)
    served_cutoffs = serving.model.metadata_.get("cutoffs") if serving else None
    if serving is not None and served_cutoffs:
        st.info(served_cutoffs_text(serving.label, served_cutoffs))
    elif serving is None:
        st.warning(
            f"No model is served ({serving_problem}), so the cutoffs in use are not known; "
            "the inputs stay empty until one is."
        )
    hot_score, warm_score = segment_inputs(segments, served_cutoffs)
    # outside the form: choosing the mode at once enables the inputs that mode reads
    mode = st.radio(
        "Hot leads are",
        ["the best-scored share of leads", "leads above fixed scores"],
        index=1 if segments.hot_cutoff is not None else 0,
        horizontal=True,
        key="segments_mode",
    )
    fixed = mode.startswith("leads above")
    in_use = "" if fixed else "; now: the served model's, from the hot share it was trained with"
    with st.form("segments"):
        cols = st.columns(3)
        share = cols[0].slider(
            "Hot share", 0.01, 0.99, float(segments.hot_share), format="%.2f",
            help="with the share mode", disabled=fixed,
        )  # fmt: skip
        hot = cols[1].number_input(
            "Hot from score", 0, 100, hot_score, help=f"with fixed scores{in_use}",
            disabled=not fixed,
        )  # fmt: skip
        warm = cols[2].number_input(
            "Warm from score (empty: the contact threshold)", 0, 100, warm_score,
            help=f"with fixed scores{in_use}", disabled=not fixed,
        )  # fmt: skip
        if st.form_submit_button("Save the segments", type="primary"):
            try:
                if fixed and hot is None:
                    raise ValueError("give the score hot leads start from")
                chosen_segments = Segments(
                    hot_share=share,
                    hot_cutoff=hot / 100 if fixed and hot is not None else None,
                    warm_cutoff=warm / 100 if fixed and warm is not None else None,
                )
            except (ValidationError, ValueError) as exc:
                st.error(problem(exc))
            else:
                ctx.store.settings.set(SEGMENTS_KEY, chosen_segments.model_dump(), by=user.name)
                st.success("Saved.")
    if st.button("Back to the values of leadscore.toml and the environment", key="reset_values"):
        ctx.store.settings.delete(BUSINESS_KEY)
        ctx.store.settings.delete(SEGMENTS_KEY)
        st.rerun()
    configured = load_settings()
    st.caption(
        f"Configured: value {configured.business.value_per_conversion:,.0f}, cost "
        f"{configured.business.cost_per_contact:,.0f}, missed "
        f"{configured.business.missed_conversion_cost:,.0f}, hot share "
        f"{configured.segments.hot_share:.0%}."
    )

# ----------------------------------------------------------------------------- API keys
with keys_tab:
    st.caption(
        "Keys of the scoring API. Only a hash is stored: a new key is shown once. Scopes: "
        "score, ingest, read, admin (everything)."
    )
    keys = ctx.store.keys.all()
    if keys:
        st.dataframe(
            pd.DataFrame(
                {
                    "id": [k.id for k in keys],
                    "name": [k.name for k in keys],
                    "key": [k.prefix + "…" for k in keys],
                    "scopes": [", ".join(k.scopes) for k in keys],
                    "created": frames.utc_text([k.created_at for k in keys]),
                    "last used": frames.utc_text([k.last_used_at for k in keys]),
                    "active": [k.active for k in keys],
                }
            ),
            hide_index=True,
            key="keys_table",
        )
    with st.form("new_key", clear_on_submit=True):
        cols = st.columns([2, 3])
        name = cols[0].text_input("Who or what uses the key", placeholder="crm-sync")
        scopes = cols[1].multiselect("Scopes", list(SCOPES), default=["score", "read"])
        if st.form_submit_button("Create a key", type="primary"):
            try:
                plaintext, record = ctx.store.keys.create(name, scopes)
            except LeadscoreError as exc:
                st.error(problem(exc))
            else:
                st.warning("Copy the key now: it cannot be shown again.")
                st.code(plaintext, language=None)
    active = [k for k in keys if k.active]
    if active:
        cols = st.columns([3, 1])
        doomed = cols[0].selectbox(
            "Revoke", active, format_func=lambda k: f"{k.id}: {k.name} ({k.prefix}…)",
            key="revoke_pick",
        )  # fmt: skip
        if cols[1].button("Revoke the key", key="revoke"):
            ctx.store.keys.revoke(doomed.id)
            st.rerun()

# ----------------------------------------------------------------------------- webhooks
with hooks_tab:
    st.caption(
        "The API POSTs a signed payload to these URLs when a lead turns hot or its score "
        "jumps, and (kind moved) for the movers `leadscore monitor notify` finds "
        "(HMAC-SHA256 of the secret; see the README)."
    )
    hooks = ctx.store.webhooks.all()
    if hooks:
        st.dataframe(
            pd.DataFrame(
                {
                    "id": [h.id for h in hooks],
                    "url": [h.url for h in hooks],
                    "kinds": [", ".join(h.kinds) for h in hooks],
                    "min jump": [h.min_jump for h in hooks],
                    "created": frames.utc_text([h.created_at for h in hooks]),
                }
            ),
            hide_index=True,
            key="hooks_table",
        )
    with st.form("new_hook", clear_on_submit=True):
        url = st.text_input("URL", placeholder="https://crm.example.com/hooks/leads")
        cols = st.columns(3)
        kinds = cols[0].multiselect(
            "When", list(WEBHOOK_KINDS), default=list(DEFAULT_WEBHOOK_KINDS),
            help="moved: the period's movers, queued by `leadscore monitor notify` on a schedule",
        )  # fmt: skip
        jump = cols[1].number_input("Smallest jump (points)", 1, 100, 30)
        secret = cols[2].text_input(
            "Signing secret (empty: a random one, shown once)", type="password"
        )
        if st.form_submit_button("Add the webhook", type="primary"):
            chosen_secret = secret or secrets.token_urlsafe(24)
            try:
                hook = ctx.store.webhooks.add(url, chosen_secret, kinds=kinds, min_jump=int(jump))
            except LeadscoreError as exc:
                st.error(problem(exc))
            else:
                st.success(f"Webhook {hook.id} added.")
                if not secret:
                    st.warning("Give the receiver this secret now: it is not shown again.")
                    st.code(chosen_secret, language=None)
    if hooks:
        cols = st.columns([3, 1])
        gone = cols[0].selectbox(
            "Remove", hooks, format_func=lambda h: f"{h.id}: {h.url}", key="hook_pick"
        )
        if cols[1].button("Remove the webhook", key="remove_hook"):
            ctx.store.webhooks.remove(gone.id)
            st.rerun()
    deliveries = ctx.store.webhooks.deliveries(limit=50)
    if deliveries:
        st.markdown("**Latest deliveries**")
        st.dataframe(
            pd.DataFrame(
                {
                    "webhook": [d.webhook_id for d in deliveries],
                    "lead": [d.lead_id for d in deliveries],
                    "event": [d.kind for d in deliveries],
                    "status": [d.status for d in deliveries],
                    "attempts": [d.attempts for d in deliveries],
                    "HTTP": [d.last_status_code for d in deliveries],
                    "error": [d.last_error or "" for d in deliveries],
                    "created": frames.utc_text([d.created_at for d in deliveries]),
                }
            ),
            hide_index=True,
            key="deliveries_table",
        )

# ----------------------------------------------------------------------------- users
with users_tab:
    st.caption("Admins load data, train and serve models and change settings; viewers read.")
    users = ctx.store.users.all()
    st.dataframe(
        pd.DataFrame(
            {
                "name": [u.name for u in users],
                "role": [u.role for u in users],
                "created": frames.utc_text([u.created_at for u in users]),
                "last sign-in": frames.utc_text([u.last_login_at for u in users]),
            }
        ),
        hide_index=True,
        key="users_table",
    )
    with st.form("new_user", clear_on_submit=True):
        cols = st.columns(3)
        new_name = cols[0].text_input("User name")
        new_role = cols[1].selectbox("Role", list(ROLES), index=1)
        new_password = cols[2].text_input(
            "Password (empty: a random one, shown once)", type="password"
        )
        if st.form_submit_button("Add the user", type="primary"):
            chosen_password = new_password or random_password()
            try:
                added = ctx.store.users.add(new_name, chosen_password, new_role)
            except LeadscoreError as exc:
                st.error(problem(exc))
            else:
                st.success(f"User {added.name} ({added.role}) added.")
                if not new_password:
                    st.warning("Give them this password now: it is not shown again.")
                    st.code(chosen_password, language=None)
    st.markdown("**Change a user**")
    cols = st.columns([2, 1, 1, 1, 1])
    target = cols[0].selectbox("User", users, format_func=lambda u: f"{u.name} ({u.role})")
    other = "viewer" if target.role == "admin" else "admin"
    actions = {
        "role": cols[1].button(f"Make {other}", key="user_role"),
        "password": cols[2].button("New password", key="user_password"),
        "remove": cols[3].button("Remove", key="user_remove"),
    }
    try:
        if actions["role"]:
            ctx.store.users.set_role(target.name, other)
            st.rerun()
        if actions["password"]:
            fresh = random_password()
            ctx.store.users.set_password(target.name, fresh)
            st.warning(f"New password of {target.name} (shown once):")
            st.code(fresh, language=None)
        if actions["remove"]:
            if target.name == user.name:
                raise LeadscoreError("you cannot remove yourself; another admin can")
            ctx.store.users.remove(target.name)
            st.rerun()
    except LeadscoreError as exc:
        st.error(problem(exc))
