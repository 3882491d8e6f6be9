"""Sign in. The same message for an unknown name and a wrong password; repeated failures
are slowed down by the store. There is no built-in account: the first admin is created
with ``leadscore users add NAME --role admin``."""

from __future__ import annotations

import streamlit as st

from leadscore.ui import web
from leadscore.ui.auth import sign_in

ctx = web.context()
st.title("leadscore")
st.caption("Predictive lead scoring: who to call first, and why.")

left, _ = st.columns([2, 3])
with left:
    if not ctx.store.users.all():
        st.info(
            "No users yet. Create the first admin on the server:\n\n"
            "`leadscore users add NAME --role admin`\n\n(it prints a random password)."
        )
    with st.form("login", border=True):
        name = st.text_input("User name", key="login_name", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="login_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = sign_in(ctx.store, st.session_state, name, password, web.client_address())
        if result.ok:
            st.rerun()
        st.error(result.message)
