"""Data: load leads (upload, S3, Mixpanel, SQL, demo), check them as the CLI does, preview
them, set the column roles, audit them for leakage, and score their open leads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import streamlit as st

from leadscore.config import Roles
from leadscore.data.masking import mask_source, mask_text
from leadscore.data.sources import SourceKind, read_table
from leadscore.errors import LeadscoreError
from leadscore.ui import batch_scoring, frames, jobs, web, workspace
from leadscore.ui.config import DATASET_KEY

ctx = web.context()
user = web.require_user(ctx)
st.title("Data")

job = web.follow_job(ctx)
if job is not None and job.kind == "score":
    if job.error:
        st.error(f"Scoring failed: {job.error}")
    else:
        st.success(f"Scored {job.result['scored']:,} leads into the work queue.")
    jobs.forget_job(ctx.workspace, job)


def load(name: str, source: str, read: Callable[[], pd.DataFrame]) -> None:
    """Read, check and keep a table as the current data set; on any error show it and
    keep nothing. Only admins load data (checked here too, not only by hiding the boxes)."""
    name = mask_source(name)
    if not user.is_admin:
        st.error("Only admins load data.")
        return
    try:
        with st.spinner(f"Reading {name}…"):
            frame = read()
            check = workspace.check_table(frame, ctx.settings.roles, ctx.settings)
            info = ctx.workspace.save_dataset(
                frame, name=name, source=source, check=check, loaded_by=user.name
            )
    except LeadscoreError as exc:
        st.error(workspace.named_problem(name, mask_text(str(exc))))
        return
    ctx.store.settings.set(DATASET_KEY, {"id": info.id}, by=user.name)
    no_outcome = (
        " It has no outcome column (converted, won, target, …; or choose one under Column "
        "roles): its leads can be scored, not learned from."
        if check.target is None
        else ""
    )
    st.session_state["data_loaded"] = f"Loaded {name}: {info.rows:,} leads.{no_outcome}"
    st.rerun()


def checked(text: str, kind: SourceKind) -> str:
    """The source a box may read (its own scheme, no local file, not leadscore's own
    databases, one SELECT), or a DataError that :func:`load` shows."""
    return workspace.box_source(text, kind, ctx.settings, ctx.store.url)


# ----------------------------------------------------------------------------- loading
if user.is_admin:
    with st.expander(
        "Load leads", expanded=web.current_dataset(ctx) is None, icon=":material/upload:"
    ):
        upload_tab, s3_tab, mixpanel_tab, sql_tab, demo_tab = st.tabs(
            ["Upload a file", "S3", "Mixpanel", "SQL table", "Demo data"]
        )
        with upload_tab:
            st.caption(
                "One row per lead; a column saying whether it converted (yes/no, 1/0, won/lost) "
                "for the leads to learn from, empty for open leads. CSV (comma, semicolon, tab or "
                f"pipe) or Parquet, up to {ctx.config.max_upload_mb} MB."
            )
            uploaded = st.file_uploader(
                "Lead table",
                type=list(workspace.UPLOAD_TYPES),
                max_upload_size=ctx.config.max_upload_mb,
                key="upload",
            )
            if uploaded is not None and st.button(
                "Load this file", type="primary", key="load_upload"
            ):
                content = uploaded.getvalue()
                load(
                    uploaded.name,
                    f"upload {uploaded.name}",
                    lambda: workspace.read_upload(
                        uploaded.name, content, ctx.config.max_upload_bytes
                    ),
                )
        with s3_tab:
            url = st.text_input(
                "S3 URL", placeholder="s3://bucket/leads.csv or s3://bucket/exports/", key="s3_url"
            )
            st.caption("Credentials from LEADSCORE_S3__* or the usual AWS settings of the server.")
            if st.button("Load from S3", key="load_s3", disabled=not url.strip()):
                load(
                    url.strip(),
                    url.strip(),
                    lambda: read_table(checked(url, "s3"), settings=ctx.settings),
                )
        with mixpanel_tab:
            st.caption(
                "Raw events from Mixpanel's export API become one row of features per lead "
                "(as `leadscore features` does); a lead converted when the conversion event "
                "follows. Credentials from LEADSCORE_MIXPANEL__*."
            )
            cols = st.columns(2)
            today = dt.date.today()
            start = cols[0].date_input("From", value=today - dt.timedelta(days=30), key="mp_from")
            end = cols[1].date_input("To", value=today - dt.timedelta(days=1), key="mp_to")
            lead_event = cols[0].text_input("Lead event (optional)", key="mp_lead")
            conversion = cols[1].text_input("Conversion event", key="mp_conversion")
            if st.button(
                "Load from Mixpanel", key="load_mixpanel", disabled=not conversion.strip()
            ):
                source = workspace.mixpanel_source(str(start), str(end))
                load(
                    f"Mixpanel {start} – {end}",
                    source,
                    lambda: workspace.leads_from_events(
                        checked(source, "mixpanel"),
                        lead_event=lead_event.strip(),
                        conversion_event=conversion.strip(),
                    ),
                )
        with sql_tab:
            st.caption(
                "Read-only: a table, or one SELECT query. leadscore's own databases (the score "
                "store, the model registry) cannot be read here."
            )
            db_url = st.text_input(
                "Database URL", placeholder="postgresql://user@host:5432/crm", key="sql_url"
            )
            cols = st.columns(2)
            table_name = cols[0].text_input("Table", placeholder="crm.leads", key="sql_table")
            query = cols[1].text_area("…or a SELECT query", key="sql_query", height=80)
            if st.button("Load from the database", key="load_sql", disabled=not db_url.strip()):
                try:
                    source = workspace.sql_source(db_url, table_name, query)
                except LeadscoreError as exc:
                    st.error(mask_text(str(exc)))
                else:
                    load(
                        table_name.strip() or "SQL query",
                        db_url.strip(),
                        lambda: read_table(checked(source, "sql"), settings=ctx.settings),
                    )
        with demo_tab:
            st.markdown(workspace.make_demo_text())
            st.caption(
                "The button loads a smaller demo of its own: one CRM export of the same "
                "company's leads with known, planted effects — 1,500 with an outcome and 300 "
                "open ones — and a deliberate leak (`sales_status`, written after the call) "
                "for the audit to catch."
            )
            cols = st.columns(2)
            if cols[0].button("Load the demo data", key="load_demo", type="primary"):
                load("demo leads", "demo", workspace.demo_frame)
            cols[1].download_button(
                "Download the demo CSV",
                data=workspace.demo_csv(),
                file_name="demo_leads.csv",
                mime="text/csv",
                key="demo_csv",
            )
else:
    st.caption("Only admins load data; you see the current data set.")

if message := st.session_state.pop("data_loaded", None):
    st.success(message)

# ----------------------------------------------------------------------------- current
info = web.current_dataset(ctx)
if info is None:
    st.info("No data set loaded yet.")
    st.stop()

frame = web.dataset_frame(ctx, info)
st.subheader(f"Current data set: {frames.plain(info.name)}")
cols = st.columns(5)
cols[0].metric("Leads", f"{info.rows:,}")
cols[1].metric("With an outcome", f"{info.labelled:,}")
rate = f"{info.converted / info.labelled:.1%} of those with an outcome" if info.labelled else None
cols[2].metric("Converted", f"{info.converted:,}", help=rate)
cols[3].metric(
    "Open in this table", f"{info.open:,}",
    help="rows of this data set without an outcome yet: the button below scores them",
)  # fmt: skip
cols[4].metric(
    "Scored leads", f"{len(web.queue(ctx)):,}",
    help="every lead with a score in the store — the work queue of the Leads page — "
    "whether scored through the API, the command line or this page",
)  # fmt: skip
st.caption(
    f"{len(info.columns):,} columns, from {frames.plain(info.source)}; loaded "
    f"{info.loaded_at.replace('T', ' ')} by {frames.plain(info.loaded_by)}."
)

preview_tab, roles_tab, audit_tab = st.tabs(["Preview", "Column roles", "Audit"])
with preview_tab:
    st.dataframe(frame.head(200), key="preview")
    st.caption(f"The first {min(200, len(frame))} of {len(frame):,} rows.")

with roles_tab:
    roles = info.role_model
    none = "(none)"
    names = [none, *info.columns]

    def pick(label: str, current: str | None, key: str) -> str | None:
        index = names.index(current) if current in names else 0
        chosen = st.selectbox(label, names, index=index, key=key, disabled=not user.is_admin)
        return None if chosen == none else chosen

    with st.form("roles"):
        cols = st.columns(3)
        with cols[0]:
            target = pick("Outcome (target)", roles.target, "role_target")
        with cols[1]:
            lead_id = pick("Lead id", roles.id, "role_id")
        with cols[2]:
            time_column = pick(
                "Creation time (validate on the newest leads)", roles.time, "role_time"
            )
        exclude = st.multiselect(
            "Leave out", info.columns, default=[c for c in roles.exclude if c in info.columns],
            key="role_exclude", disabled=not user.is_admin,
        )  # fmt: skip
        keep = st.multiselect(
            "Keep even if the audit suspects leakage", info.columns,
            default=[c for c in roles.keep if c in info.columns], key="role_keep",
            disabled=not user.is_admin,
        )  # fmt: skip
        save_roles = st.form_submit_button("Save the roles", disabled=not user.is_admin)
    if save_roles:
        new_roles = Roles(target=target, id=lead_id, time=time_column, exclude=exclude, keep=keep)
        try:
            check = workspace.check_table(frame, new_roles, ctx.settings)
            info = ctx.workspace.save_dataset(
                frame, name=info.name, source=info.source, check=check, loaded_by=user.name
            )
        except LeadscoreError as exc:
            st.error(str(exc))
        else:
            ctx.store.settings.set(DATASET_KEY, {"id": info.id}, by=user.name)
            st.rerun()
    for note in info.notes:
        st.caption(f"Note: {frames.plain(note)}")

with audit_tab:
    if info.labelled == 0:
        st.info("The audit needs leads with a known outcome; this data set has none.")
    else:
        try:
            report = web.audit_report(ctx, info)
        except LeadscoreError as exc:
            st.error(str(exc))
        else:
            st.markdown(
                f"**{report.rows:,} leads** with an outcome, **{report.n_positive:,} converted** "
                f"({report.positive_rate:.1%}); outcome `{report.target}`, id `{report.id}`"
                + (f", time `{report.time}`" if report.time else "")
            )
            if report.leakage_suspects:
                for suspect in report.leakage_suspects:
                    if suspect.verdict == "strong":
                        st.warning(
                            f"**Strong column: {frames.plain(suspect.column)}** — "
                            f"{frames.plain(suspect.reason)}"
                            + (
                                f" A quick model reaches AUC {suspect.auc_with:.3f} with it and "
                                f"{suspect.auc_without:.3f} without."
                                if suspect.auc_with is not None and suspect.auc_without is not None
                                else ""
                            ),
                            icon=":material/help:",
                        )
                        continue
                    action = "kept on purpose" if suspect.kept else "left out of modelling"
                    st.error(
                        f"**Leakage suspect: {frames.plain(suspect.column)}** — "
                        f"{frames.plain(suspect.reason)} ({action}). "
                        "Keep it only if it is known before the first contact.",
                        icon=":material/warning:",
                    )
            else:
                st.success("No leakage suspects: no column gives the outcome away.")
            for warning in report.warnings:
                st.warning(warning)
            for note in report.notes:
                st.caption(f"Note: {frames.plain(note)}")
            columns = pd.DataFrame([c.__dict__ for c in report.columns])
            columns["flags"] = columns["flags"].map(", ".join)
            st.dataframe(
                columns,
                hide_index=True,
                key="audit_columns",
                column_config={
                    "name": "Column", "kind": "Type", "status": "Status",
                    "missing_share": st.column_config.NumberColumn("Missing", format="percent"),
                    "cardinality": "Distinct", "top_share": st.column_config.NumberColumn(
                        "Top value share", format="percent"),
                    "auc": st.column_config.NumberColumn("AUC alone", format="%.3f"),
                    "missing_auc": st.column_config.NumberColumn("AUC of missing", format="%.3f"),
                    "flags": "Flags",
                },
            )  # fmt: skip

# ----------------------------------------------------------------------------- scoring
if user.is_admin and info.open:
    st.subheader("Score the open leads")
    serving, problem = web.served(ctx)
    if serving is None:
        st.caption(f"No model is served ({problem}): train one on the **Models** page.")
    elif st.button(f"Score the {info.open:,} open leads with {serving.label}", key="score_open"):
        try:
            version = batch_scoring.model_version_text(
                serving.reference, serving.model, ctx.settings
            )
            rows = workspace.open_rows(frame, info.role_model.target, ctx.settings)

            def work(job: jobs.Job) -> dict[str, int]:
                scored = batch_scoring.score_into_store(
                    serving.model, rows, ctx.store, version, ctx.settings,
                    progress=lambda done, total: job.step("scoring leads", done, total),
                    drop=[c for c in (info.role_model.target,) if c],
                )  # fmt: skip
                return {"scored": scored}

            jobs.start_job(ctx.workspace, "score", user.name, work)
        except LeadscoreError as exc:
            st.error(str(exc))
        else:
            st.rerun()
