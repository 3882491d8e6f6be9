"""The Streamlit glue: the page context, the signed-in user, page guards and caches.

Everything slow is cached and keyed so that it is recomputed exactly when its inputs
change: the work queue by the store's change token (a one-row query), models by the
version they resolve to, data sets by their id, insights by model and data set. So pages
stay fast on many leads, and a score written by the API shows up on the next rerun.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from leadscore.config import Settings, load_settings
from leadscore.errors import LeadscoreError
from leadscore.modeling.model import LeadModel
from leadscore.monitor.cohorts import CohortComparison, earlier_cohorts_rate
from leadscore.monitor.data import cohort_frames, judged_frame
from leadscore.monitor.report import MonitoringReport, build_report
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.store import Store
from leadscore.ui import frames, jobs, model_catalogue, model_insights, override_frames
from leadscore.ui.auth import SessionUser, current_user
from leadscore.ui.config import DATASET_KEY, UIConfig, effective_settings
from leadscore.ui.workspace import DatasetInfo, Workspace

VIEWS = Path(__file__).resolve().parent / "views"
_CONTEXT_KEY = "leadscore_context"


@dataclass
class Context:
    """What every page works with (computed once per run by the app)."""

    config: UIConfig
    settings: Settings
    store: Store
    workspace: Workspace
    user: SessionUser | None

    @property
    def registry_key(self) -> str:
        """What registry lookups depend on (a cache key)."""
        s = self.settings
        return f"{s.tracking}|{s.mlflow_uri}|{s.model_name}"


@st.cache_resource(show_spinner=False)
def open_store(url: str) -> Store:
    """One store (connection pool) per database for the whole server."""
    return Store(url)


def build_context() -> Context:
    """The settings (file, environment, dashboard overrides), the store, the dashboard
    folder and the signed-in user. Raises the user-facing errors of a bad setup."""
    store = open_store(load_settings().database_url)
    config = UIConfig.from_env()
    ctx = Context(
        config=config,
        settings=effective_settings(store),
        store=store,
        workspace=Workspace(config.directory),
        user=current_user(st.session_state, store),
    )
    st.session_state[_CONTEXT_KEY] = ctx
    return ctx


def context() -> Context:
    """The context the app built for this run."""
    ctx = st.session_state.get(_CONTEXT_KEY)
    return ctx if isinstance(ctx, Context) else build_context()


def require_user(ctx: Context) -> SessionUser:
    """The signed-in user; stops the page for anyone else."""
    if ctx.user is None:
        st.warning("Please sign in.")
        st.stop()
    return ctx.user


def require_admin(ctx: Context, what: str = "This page") -> SessionUser:
    """The signed-in admin; stops the page, with the reason, for everyone else."""
    user = require_user(ctx)
    if not user.is_admin:
        st.error(
            f"{what} is for admins only. You are signed in as {user.name} ({user.role}); "
            "ask an admin if you need access."
        )
        st.stop()
    return user


def client_address() -> str | None:
    """The browser's address as the server sees it (``None`` when unknown)."""
    try:
        return st.context.ip_address
    except Exception:  # not every runtime (e.g. tests) knows one
        return None


# ----------------------------------------------------------------------------- store reads


@st.cache_data(show_spinner=False, max_entries=4)
def _queue(url: str, token: tuple[Any, ...]) -> pd.DataFrame:
    return frames.queue_frame(open_store(url).scores.queue())


def queue(ctx: Context) -> pd.DataFrame:
    """The work queue (every lead's latest score and attributes), cached until the store
    changes, with the sales overrides in force now applied (read on every run: one small
    query, and an override expires without any write)."""
    frame = _queue(ctx.store.url, ctx.store.scores.change_token())
    return override_frames.with_overrides(frame, ctx.store.overrides.active())


@st.cache_data(show_spinner=False, max_entries=4)
def _points(url: str, token: tuple[Any, ...]) -> pd.DataFrame:
    return frames.points_frame(open_store(url).scores.points())


def points(ctx: Context) -> pd.DataFrame:
    """The score history without reasons, cached until the store changes."""
    return _points(ctx.store.url, ctx.store.scores.change_token())


@st.cache_data(show_spinner=False, max_entries=4)
def _outcomes(url: str, token: tuple[Any, ...]) -> list[Any]:
    return open_store(url).outcomes.all()


def outcomes(ctx: Context) -> list[Any]:
    """Each lead's latest recorded outcome, cached until the store changes."""
    return _outcomes(ctx.store.url, ctx.store.scores.change_token())


@st.cache_resource(max_entries=3, show_spinner=False)
def _scorer(key: str, stamp: float, _model: LeadModel) -> FastScorer:
    return FastScorer(_model)


def scorer(serving: Served) -> FastScorer:
    """The served model compiled for single leads (what explains movers), once per model."""
    return _scorer(serving.key, _stamp(serving.key), serving.model)


def comparison_frames(
    store: Store, end: datetime
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What :func:`~leadscore.monitor.cohorts.earlier_cohorts_rate` reads of the store,
    at most two scores per lead instead of every score: every lead, its last score before
    ``end`` and its latest outcome (:func:`~leadscore.monitor.data.cohort_frames`, one
    row per lead), and each outcome's last score strictly before it
    (:func:`~leadscore.monitor.data.judged_frame`, one row per outcome).

    The last score alone would not do: an earlier lead counts at its last score before
    its outcome (a later score already knew it), so a lead scored again after its outcome
    (a new model re-scoring every lead, a new event) would drop out of the comparison.
    With the score before the outcome beside it, the answer is the one the whole history
    gives (scores up to ``end``).

    Parameters
    ----------
    store:
        The score store.
    end:
        Scores given before this time count (now, on the lead page).

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> [len(frame) for frame in comparison_frames(store, datetime.now(UTC))]
    [0, 0, 0]
    """
    leads, latest, outcomes = cohort_frames(store, end)
    before = judged_frame(store, end)[list(latest.columns)]
    # a lead whose last score came before its outcome is in both frames: once is enough
    scores = pd.concat([before, latest], ignore_index=True).drop_duplicates(ignore_index=True)
    return leads, scores, outcomes


@st.cache_data(show_spinner=False, max_entries=2)
def _comparison_frames(
    url: str, token: tuple[Any, ...]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return comparison_frames(open_store(url), datetime.now(UTC))


def earlier_cohorts(ctx: Context, lead_id: str) -> CohortComparison | None:
    """How leads scoring like this one converted in the cohorts before its own
    (:func:`leadscore.monitor.cohorts.earlier_cohorts_rate`), from the store's
    :func:`comparison_frames` cached until it changes."""
    token = ctx.store.scores.change_token()
    leads, scores, outcomes = _comparison_frames(ctx.store.url, token)
    return earlier_cohorts_rate(leads, scores, outcomes, lead_id)


@st.cache_data(show_spinner="Reading the monitoring report…", max_entries=8)
def _report(
    url: str,
    token: tuple[Any, ...],
    key: str,
    days: int,
    version: str | None,
    _scorer: FastScorer | None,
    _business: Any,
) -> MonitoringReport:
    end = datetime.now(UTC)
    return build_report(
        open_store(url), _scorer, _business, start=end - timedelta(days=days),
        model_version=version,
    )  # fmt: skip


def _stored_version(serving: Served, settings: Settings) -> str:
    """The version the served model's scores are stored under, as the service and the
    CLI name it (a registry version's number without asking the registry again)."""
    if serving.key.startswith("v") and serving.key[1:].isdigit():
        return serving.key[1:]
    from leadscore.lifecycle.loader import model_version

    return model_version(serving.reference, serving.model, settings)


def monitoring_report(ctx: Context, serving: Served | None, days: int) -> MonitoringReport:
    """The monitoring report of the last ``days`` days (:mod:`leadscore.monitor.report`:
    the numbers ``leadscore monitor report`` and the API give), cached until the store
    changes."""
    found = scorer(serving) if serving is not None else None
    key = serving.key if serving is not None else ""
    version = None if serving is None else _stored_version(serving, ctx.settings)
    token = ctx.store.scores.change_token()
    return _report(ctx.store.url, token, key, days, version, found, ctx.settings.business)


# ----------------------------------------------------------------------------- models


@st.cache_data(ttl=15, show_spinner=False)
def _serving_key(reference: str, registry_key: str, _settings: Settings) -> str:
    return model_catalogue.serving_key(reference, _settings)


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def _model(key: str, registry_key: str, stamp: float, _settings: Settings) -> LeadModel:
    return model_catalogue.load_model(key, _settings)


def forget_serving() -> None:
    """Resolve the served model and the model list afresh (after a training or a
    promotion: ``champion`` moves, versions appear)."""
    _serving_key.clear()
    _catalogue.clear()


@st.cache_data(ttl=30, show_spinner=False)
def _catalogue(
    registry_key: str, directory: str, folders: tuple[str, ...], serving: str, _settings: Settings
) -> list[model_catalogue.ModelEntry]:
    return model_catalogue.catalogue(_settings, Workspace(directory), serving)


def catalogue(ctx: Context) -> list[model_catalogue.ModelEntry]:
    """The models that can be served (cached briefly: the registry is slow to ask)."""
    serving = model_catalogue.serving_reference(ctx.store, ctx.settings)
    folders = tuple(p.name for p in ctx.workspace.model_dirs())
    return _catalogue(
        ctx.registry_key, str(ctx.workspace.directory), folders, serving, ctx.settings
    )


def _stamp(key: str) -> float:
    # a folder re-trained in place (same path) must not be served from the cache
    if key.startswith("folder:"):
        meta = Path(model_catalogue.reference_of(key)) / "metadata.json"
        return meta.stat().st_mtime if meta.is_file() else 0.0
    return 0.0


@dataclass(frozen=True)
class Served:
    """The model the dashboard serves."""

    reference: str
    key: str
    model: LeadModel

    @property
    def label(self) -> str:
        meta = self.model.metadata_
        where = f"version {self.key[1:]}" if self.key.startswith("v") else Path(self.reference).name
        return f"{meta.get('model_label', meta.get('model'))} ({where})"


def served(ctx: Context) -> tuple[Served | None, str | None]:
    """The served model, or ``None`` and why not."""
    reference = model_catalogue.serving_reference(ctx.store, ctx.settings)
    try:
        key = _serving_key(reference, ctx.registry_key, ctx.settings)
        model = _model(key, ctx.registry_key, _stamp(key), ctx.settings)
    except LeadscoreError as exc:
        return None, str(exc)
    return Served(reference, key, model), None


# ----------------------------------------------------------------------------- data sets


def current_dataset(ctx: Context) -> DatasetInfo | None:
    """The data set admins loaded last (``None`` when none, or when it was deleted)."""
    chosen = ctx.store.settings.get(DATASET_KEY) or {}
    return ctx.workspace.dataset(chosen.get("id"))


@st.cache_data(show_spinner="Reading the data set…", max_entries=2)
def _dataset_frame(directory: str, dataset_id: str) -> pd.DataFrame:
    workspace = Workspace(directory)
    info = workspace.dataset(dataset_id)
    if info is None:
        raise LeadscoreError(f"data set {dataset_id} is gone from {directory}")
    return workspace.frame(info)


def dataset_frame(ctx: Context, info: DatasetInfo) -> pd.DataFrame:
    """A data set's table (cached by id: a data set never changes)."""
    return _dataset_frame(str(ctx.workspace.directory), info.id)


@st.cache_data(show_spinner="Auditing the data (single-column signal, leakage)…", max_entries=4)
def _audit(
    directory: str, dataset_id: str, roles_json: str, settings_key: str, _settings: Settings
) -> Any:
    from leadscore.config import Roles
    from leadscore.modeling.audit import audit

    frame = _dataset_frame(directory, dataset_id)
    return audit(frame, Roles.model_validate_json(roles_json), _settings)


def audit_report(ctx: Context, info: DatasetInfo) -> Any:
    """The audit of a data set with its roles (cached)."""
    settings_key = ctx.settings.model_dump_json(include={"missing_values", "on_bad_number"})
    roles = info.role_model.model_dump_json()
    return _audit(str(ctx.workspace.directory), info.id, roles, settings_key, ctx.settings)


@st.cache_data(show_spinner="Working out what converts…", max_entries=2)
def _insights(
    model_key: str, stamp: float, directory: str, dataset_id: str, target: str | None,
    _model: LeadModel, _settings: Settings,
) -> dict[str, Any]:  # fmt: skip
    frame = _dataset_frame(directory, dataset_id)
    return model_insights.insights(_model, frame, _settings, target)


def insights(ctx: Context, serving: Served, info: DatasetInfo) -> dict[str, Any]:
    """Insights of the current data set by the served model (cached by both)."""
    return _insights(
        serving.key, _stamp(serving.key), str(ctx.workspace.directory), info.id,
        info.role_model.target, serving.model, ctx.settings,
    )  # fmt: skip


@st.cache_data(show_spinner="Describing the ideal customer…", max_entries=2)
def _ideal(
    model_key: str, stamp: float, directory: str, dataset_id: str, target: str | None,
    _model: LeadModel, _settings: Settings,
) -> dict[str, object]:  # fmt: skip
    frame = _dataset_frame(directory, dataset_id)
    return model_insights.ideal_customer(_model, frame, _settings, target)


def ideal(ctx: Context, serving: Served, info: DatasetInfo) -> dict[str, object]:
    """The ideal customer of the current data set by the served model (cached by both)."""
    return _ideal(
        serving.key, _stamp(serving.key), str(ctx.workspace.directory), info.id,
        info.role_model.target, serving.model, ctx.settings,
    )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=8)
def evaluation(folder: str, stamp: float) -> tuple[dict[str, Any], Any, Any]:
    """A model folder's metadata and out-of-fold outcomes and scores (for its charts)."""
    from leadscore.reporting.evaluation import load_report_data

    report = load_report_data(folder)
    return report.metadata, report.y, report.score


# ----------------------------------------------------------------------------- jobs


def follow_job(ctx: Context) -> jobs.Job | None:
    """Show the running job's progress until it ends (then rerun); returns a finished
    job whose outcome is still to be shown, else ``None``."""
    job = jobs.current_job(ctx.workspace)
    if job is None:
        return None
    if job.running:
        bar = st.progress(job.fraction, text=job.text)
        while job.running:
            time.sleep(0.25)
            bar.progress(job.fraction, text=job.text)
        forget_serving()  # the job may have promoted a new champion
        st.rerun()
    return job


def nav_to_lead(lead_id: str) -> None:
    """Open a lead's page."""
    st.switch_page(str(VIEWS / "lead.py"), query_params={"lead": lead_id})
