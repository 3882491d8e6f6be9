"""The dashboard's pages: Streamlit scripts that :mod:`leadscore.ui.app` registers with
``st.navigation`` (run by Streamlit, never imported)."""
