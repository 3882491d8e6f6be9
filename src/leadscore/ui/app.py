"""The dashboard's entry point: ``streamlit run`` this file (``leadscore ui`` does).

Signed out, the only page is the sign-in page. Signed in, the navigation shows the pages
of the user's role; the admin-only Settings page is still registered (hidden) for
viewers, so opening its address shows why it is refused instead of a missing page.
"""

from __future__ import annotations

import streamlit as st

from leadscore.errors import LeadscoreError
from leadscore.ui import web
from leadscore.ui.auth import sign_out

st.set_page_config(page_title="leadscore", page_icon=":material/leaderboard:", layout="wide")

try:
    ctx = web.build_context()
except LeadscoreError as exc:
    st.error(f"The dashboard cannot start: {exc}")
    st.stop()

VIEWS = web.VIEWS
if ctx.user is None:
    page = st.navigation(
        [st.Page(VIEWS / "login.py", title="Sign in", icon=":material/login:", url_path="login")],
        position="hidden",
    )
else:
    admin = ctx.user.is_admin
    page = st.navigation(
        {
            "Sales": [
                st.Page(VIEWS / "leads.py", title="Leads", icon=":material/groups:", default=True),
                st.Page(VIEWS / "lead.py", title="Lead detail", icon=":material/person_search:"),
                st.Page(VIEWS / "score.py", title="Score a lead", icon=":material/calculate:"),
                st.Page(VIEWS / "insights.py", title="Insights", icon=":material/lightbulb:"),
            ],
            "Data and models": [
                st.Page(VIEWS / "data.py", title="Data", icon=":material/database:"),
                st.Page(VIEWS / "models.py", title="Models", icon=":material/model_training:"),
                st.Page(VIEWS / "monitoring.py", title="Monitoring", icon=":material/monitoring:"),
            ],
            "Admin": [
                st.Page(
                    VIEWS / "settings.py",
                    title="Settings",
                    icon=":material/settings:",
                    visibility="visible" if admin else "hidden",
                ),
            ],
        }
    )
    with st.sidebar:
        st.caption(f"Signed in as **{ctx.user.name}** ({ctx.user.role})")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            sign_out(st.session_state)
            st.rerun()
page.run()
