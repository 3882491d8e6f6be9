"""Models: compare model families (with a progress bar) and train the best; the
leaderboard; ROC, precision-recall, calibration and profit charts of any model; business
values that move the threshold and the expected profit; the model to serve."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from leadscore.config import Business
from leadscore.errors import LeadscoreError
from leadscore.modeling.families import FAMILIES
from leadscore.reporting.charts import (
    calibration_chart,
    precision_recall_chart,
    profit_chart,
    roc_chart,
)
from leadscore.ui import batch_scoring, charts, jobs, model_catalogue, model_insights, web
from leadscore.ui.config import BUSINESS_KEY

ctx = web.context()
user = web.require_user(ctx)
st.title("Models")

# ----------------------------------------------------------------------------- the job
job = web.follow_job(ctx)
if job is not None and job.kind in ("train", "compare", "rescore"):
    if job.error:
        st.error(f"The {job.kind} job failed: {job.error}")
    elif job.kind == "train" and job.result:
        r = job.result
        where = (
            f"registered as version {r['version']}" if r["version"] else f"saved in {r['folder']}"
        )
        st.success(
            f"Trained **{r['model']}** ({where}): cross-validated AUC {r['auc']:.3f}, "
            f"profit {r['profit']:,.0f} at threshold {r['threshold']:.3f}. {r['selection']}."
        )
        if r["served"]:
            st.success(f"It is now served; {r['scored']:,} leads were scored into the work queue.")
    elif job.kind == "compare" and job.result:
        st.success(f"Compared: best {job.result['best']} — {job.result['note']}.")
    elif job.kind == "rescore" and job.result:
        st.success(f"Scored {job.result['scored']:,} stored leads again.")
    for line in job.log:
        if "LEFT OUT" in line or "kept on purpose" in line:
            # the advice names the CLI flag; here it is the Data page's column roles
            st.warning(
                re.sub(r"Keep it with --keep ('[^']*'|\S+)", "Keep it (Data → Column roles)", line)
            )
    jobs.forget_job(ctx.workspace, job)

info = web.current_dataset(ctx)
labels = {name: family.label for name, family in FAMILIES.items()}

# ----------------------------------------------------------------------------- training
st.subheader("Train")
if info is None:
    st.info("Load leads on the **Data** page first.")
elif info.labelled == 0 or not 0 < info.converted < info.labelled:
    st.info(
        f"The data set {info.name} has no leads of both outcomes to learn from: load leads "
        "with a known outcome (converted and not converted)."
    )
elif not user.is_admin:
    st.caption("Only admins train models.")
else:
    st.caption(
        f"On the {info.labelled:,} leads of **{info.name}** with an outcome "
        f"({info.converted:,} converted). Columns that give the outcome away are left out."
    )
    with st.form("train"):
        which = st.radio(
            "Model families",
            ["Fast (logistic regression, naive Bayes, LightGBM)", "All families", "Choose"],
            horizontal=True,
            key="train_which",
        )
        chosen = st.multiselect(
            "Families (with Choose)", list(FAMILIES), default=["logreg_l2", "lightgbm"],
            format_func=labels.get, key="train_models",
        )  # fmt: skip
        cols = st.columns(2)
        sort = cols[0].selectbox(
            "Choose the best by",
            ["auc", "profit", "pr_auc", "lift_top10", "f1", "log_loss"],
            key="train_sort",
            help="auc: ranking quality; profit: at each model's own best threshold",
        )
        serve_it = cols[1].checkbox(
            "Serve the new model and score the open leads", value=True, key="train_serve"
        )
        compare_only = st.form_submit_button("Compare only")
        train_now = st.form_submit_button("Compare and train", type="primary")
    if compare_only or train_now:
        names = (
            list(jobs.FAST_MODELS) if which.startswith("Fast")
            else None if which == "All families" else chosen
        )  # fmt: skip
        frame = web.dataset_frame(ctx, info)
        try:
            if names == []:
                raise LeadscoreError("choose at least one model family")
            if train_now:
                work = jobs.train_work(
                    frame, info, ctx.settings, ctx.workspace, ctx.store,
                    models=names, sort=sort, serve_it=serve_it, user=user.name,
                )  # fmt: skip
            else:
                work = jobs.compare_work(frame, info, ctx.settings, ctx.workspace, names, sort)
            jobs.start_job(ctx.workspace, "train" if train_now else "compare", user.name, work)
        except LeadscoreError as exc:
            st.error(str(exc))
        else:
            st.rerun()

# ----------------------------------------------------------------------------- leaderboard
if info is not None and ctx.workspace.leaderboard_path(info).is_file():
    board = pd.read_csv(ctx.workspace.leaderboard_path(info))
    st.subheader("Leaderboard")
    st.altair_chart(charts.leaderboard_chart(board), key="leaderboard_chart")
    st.dataframe(
        board[["label", "auc", "auc_std", "pr_auc", "lift_top10", "profit", "ece",
               "fit_seconds"]],
        hide_index=True,
        key="leaderboard",
        column_config={
            "label": "Model", "auc": st.column_config.NumberColumn("AUC", format="%.4f"),
            "auc_std": st.column_config.NumberColumn("± folds", format="%.3f"),
            "pr_auc": st.column_config.NumberColumn("PR-AUC", format="%.3f"),
            "lift_top10": st.column_config.NumberColumn("Lift top 10 %", format="%.2f×"),
            "profit": st.column_config.NumberColumn("Profit", format="localized"),
            "ece": st.column_config.NumberColumn("Calibration error", format="%.3f"),
            "fit_seconds": st.column_config.NumberColumn("Fit s", format="%.1f"),
        },
    )  # fmt: skip

# ----------------------------------------------------------------------------- models
st.subheader("Models to serve")
serving, problem = web.served(ctx)
entries = web.catalogue(ctx)
if not entries:
    st.info("No trained models yet.")
    st.stop()
st.caption(f"Served now: **{serving.label if serving else problem}**")
keys = [e.key for e in entries]
default = keys.index(serving.key) if serving and serving.key in keys else 0
picked = st.selectbox(
    "Model",
    entries,
    index=default,
    format_func=lambda e: e.label + ("  ← served" if serving and e.key == serving.key else ""),
    # a new key when another model is served: the choice starts at the served one again
    key=f"model_pick_{serving.key if serving else ''}",
)
try:
    folder = model_catalogue.model_folder(picked, ctx.settings, ctx.workspace)
    meta_file = Path(folder) / "metadata.json"
    metadata, y, score = web.evaluation(str(folder), meta_file.stat().st_mtime)
except (LeadscoreError, OSError) as exc:
    st.error(f"Cannot show {picked.label}: {exc}")
    st.stop()

trained = Business.model_validate(metadata.get("business") or {})
metrics = metadata.get("cv_metrics") or {}
cols = st.columns(5)
cols[0].metric("AUC", f"{metrics.get('auc', float('nan')):.3f}", help="cross-validated")
cols[1].metric("PR-AUC", f"{metrics.get('pr_auc', float('nan')):.3f}")
cols[2].metric("Lift in the top 10 %", f"{metrics.get('lift_top10', float('nan')):.2f}×")
cols[3].metric("Calibration error", f"{metrics.get('ece', float('nan')):.3f}")
cols[4].metric("Trained on", f"{metadata.get('rows', 0):,} leads")


@st.cache_data(ttl=600, show_spinner=False)
def _change_report(version: int, uri: str) -> tuple[str, pd.DataFrame, pd.DataFrame] | None:
    from leadscore.lifecycle.change_report import read_change_report
    from leadscore.lifecycle.registry import Registry

    report = read_change_report(Registry(ctx.settings), version)
    return None if report is None else (report.summary(), report.matrix_frame(), report.top_frame())


if picked.source == model_catalogue.REGISTRY:
    try:
        change = _change_report(int(picked.reference), ctx.settings.mlflow_uri or "")
    except LeadscoreError:
        change = None
    if change is not None:
        st.subheader("What its promotion changed")
        st.caption(f"{change[0]}. Rows: segment before; columns: segment with this model.")
        st.dataframe(change[1], key="change_matrix")
        st.dataframe(change[2], hide_index=True, key="change_top")

if user.is_admin and (serving is None or picked.key != serving.key):
    if st.button(f"Serve {picked.label}", type="primary", key="serve"):
        try:
            model_catalogue.serve(picked, ctx.store, ctx.settings, user.name)
        except LeadscoreError as exc:
            st.error(str(exc))
        else:
            web.forget_serving()
            st.rerun()
elif (
    user.is_admin
    and serving is not None
    and st.button("Score every stored lead again with the served model", key="rescore")
):
    version = batch_scoring.model_version_text(serving.reference, serving.model, ctx.settings)
    try:
        jobs.start_job(
            ctx.workspace, "rescore", user.name,
            jobs.rescore_work(serving.model, ctx.store, ctx.settings, version),
        )  # fmt: skip
    except LeadscoreError as exc:
        st.error(str(exc))
    else:
        st.rerun()

# ----------------------------------------------------------------------------- what-if
st.subheader("Business values")
st.caption(
    "What a conversion is worth and what a call costs decide the contact threshold. Change "
    "them to see the threshold and the expected profit move (on this model's out-of-fold "
    "scores of its training leads)."
)
base = ctx.settings.business
cols = st.columns(3)
value = cols[0].number_input(
    "Value of a conversion", min_value=0.0, value=float(base.value_per_conversion), step=10.0,
    key="wi_value",
)  # fmt: skip
cost = cols[1].number_input(
    "Cost of a contact", min_value=0.0, value=float(base.cost_per_contact), step=1.0,
    key="wi_cost",
)  # fmt: skip
missed = cols[2].number_input(
    "Cost of a missed conversion", min_value=0.0, value=float(base.missed_conversion_cost),
    step=10.0, key="wi_missed",
)  # fmt: skip
business = Business(
    value_per_conversion=value, cost_per_contact=cost, missed_conversion_cost=missed,
    capacity=base.capacity,
)  # fmt: skip
result = model_insights.what_if(y, score, business, trained)
choice, before = result.choice, result.trained
cols = st.columns(4)
cols[0].metric(
    "Contact threshold (score)",
    f"{choice.threshold * 100:.1f}",
    delta=f"{(choice.threshold - before.threshold) * 100:+.1f} vs as trained",
    delta_color="off",
)
cols[1].metric(
    "Expected profit",
    f"{choice.profit:,.0f}",
    delta=f"{choice.profit - before.profit:+,.0f} vs as trained",
)
cols[2].metric(
    "Leads to call", f"{choice.contacted / max(choice.n_leads, 1):.0%}",
    help=f"{choice.contacted:,} of {choice.n_leads:,} leads",
)  # fmt: skip
cols[3].metric(
    "vs call everyone", f"{choice.profit - choice.contact_all_profit:+,.0f}",
    help=f"calling everyone: {choice.contact_all_profit:,.0f}; no one: "
    f"{choice.contact_none_profit:,.0f}",
)  # fmt: skip
if (
    user.is_admin
    and business != base
    and st.button("Use these values for training and scoring", key="save_business")
):
    ctx.store.settings.set(
            BUSINESS_KEY,
            {"value_per_conversion": value, "cost_per_contact": cost,
             "missed_conversion_cost": missed},
            by=user.name,
        )  # fmt: skip
    st.success("Saved. Models trained from now on choose their threshold with these values.")

# ----------------------------------------------------------------------------- charts
st.subheader("Evaluation")
left, right = st.columns(2)
threshold = float((metadata.get("cutoffs") or {}).get("contact", choice.threshold))
with left:
    st.altair_chart(profit_chart(result.curve, choice.threshold, business), key="profit")
    st.altair_chart(precision_recall_chart(y, score), key="pr")
with right:
    st.altair_chart(roc_chart(y, score, threshold), key="roc")
    st.altair_chart(calibration_chart(y, score), key="calibration")
