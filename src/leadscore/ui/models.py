"""The models a dashboard admin chooses from, the one served, and the long jobs:
comparing and training (with progress), scoring leads into the store.

Models come from two places: the MLflow registry (when tracking is on: every ``leadscore
train`` and every training in the dashboard registers a version; serving one means
promoting it to champion, so the API serves it too) and model folders (trained in the
dashboard with tracking off, or configured as ``service.model``). Which one the dashboard
serves is a dashboard setting in the store (``serving``), by default the API's
``service.model`` (``champion``).

Long jobs run in a background thread, one at a time per dashboard folder, and report
their progress in a :class:`Job` the pages poll: a page can be left and come back to
while a model trains. The comparison's progress is read from its own progress bar
(:class:`ProgressSink`), so the library needs no dashboard hook.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Business, Settings
from leadscore.errors import ArtifactError, LeadscoreError
from leadscore.jsonutil import jsonable
from leadscore.modeling.families import FAMILIES
from leadscore.modeling.model import METADATA_FILE, LeadModel
from leadscore.modeling.thresholds import ThresholdChoice, choose_threshold, profit_curve
from leadscore.store import Store
from leadscore.ui.config import SERVING_KEY
from leadscore.ui.workspace import DatasetInfo, Workspace, labelled_rows, open_rows

#: model families of the quick choice: fast, and usually within a hair of the best
FAST_MODELS = tuple(name for name, family in FAMILIES.items() if family.fast)
#: leads scored (and explained) per store transaction
SCORE_CHUNK = 500
REGISTRY, FOLDER = "registry", "folder"
#: written into a dashboard model folder whose model the registry holds as a version
REGISTERED_FILE = "registered_version.txt"


# ----------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class ModelEntry:
    """One model that can be served."""

    key: str  # "v3" for registry version 3, "folder:<absolute path>" for a folder
    reference: str  # what load_lead_model takes: "3" or the folder
    source: str  # REGISTRY or FOLDER
    name: str
    model: str
    created: str
    auc: float | None
    profit: float | None
    rows: int | None
    aliases: tuple[str, ...] = ()
    run_id: str = ""

    @property
    def label(self) -> str:
        where = f"version {self.reference}" if self.source == REGISTRY else self.name
        tags = f" [{', '.join(self.aliases)}]" if self.aliases else ""
        return f"{where} · {self.model}{tags}"


def folder_key(path: str | Path) -> str:
    return f"folder:{Path(path).resolve()}"


def folder_entry(path: str | Path) -> ModelEntry:
    """A model folder as a catalogue entry (from its metadata.json; nothing is unpickled)."""
    folder = Path(path).resolve()
    try:
        meta = json.loads((folder / METADATA_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{folder} is not a readable model folder: {exc}") from None
    metrics = meta.get("cv_metrics") or {}
    return ModelEntry(
        key=folder_key(folder),
        reference=str(folder),
        source=FOLDER,
        name=folder.name,
        model=str(meta.get("model_label") or meta.get("model") or "model"),
        created=str(meta.get("trained_at", ""))[:16].replace("T", " "),
        auc=metrics.get("auc"),
        profit=(meta.get("threshold") or {}).get("profit"),
        rows=meta.get("rows"),
    )


def serving_reference(store: Store, settings: Settings) -> str:
    """What the dashboard serves: the admins' choice, else the API's ``service.model``."""
    chosen = store.get_setting(SERVING_KEY) or {}
    return str(chosen.get("reference") or settings.service.model)


def registry_exists(settings: Settings) -> bool:
    """Whether there is a registry to ask. The embedded one (a SQLite file) is not created
    just by looking: that would take a while and leave an ``mlflow.db`` behind."""
    from leadscore.registry import tracking_uri

    uri = tracking_uri(settings)
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).is_file()
    return settings.tracking


def serving_key(reference: str, settings: Settings) -> str:
    """A key that names exactly one model: ``v<N>`` for a registry reference (resolved
    now: ``champion`` moves), ``folder:<path>`` for a folder. Raises when there is none."""
    if Path(reference).is_dir():
        return folder_key(reference)
    looks_like_path = "/" in reference or "\\" in reference
    if looks_like_path and not reference.startswith("models:/"):
        raise ArtifactError(f"the served model folder is gone: {reference}")
    if not registry_exists(settings):
        raise LeadscoreError("no model trained yet")
    from leadscore.registry import Registry

    return f"v{Registry(settings).resolve(reference)}"


def reference_of(key: str) -> str:
    """The :func:`~leadscore.registry.load_lead_model` reference of a serving key."""
    return key.removeprefix("folder:") if key.startswith("folder:") else key.removeprefix("v")


def load_model(key: str, settings: Settings) -> LeadModel:
    """The model a serving key names (the caller caches it: loading takes a while)."""
    from leadscore.registry import load_lead_model

    return load_lead_model(reference_of(key), settings)


def catalogue(
    settings: Settings, workspace: Workspace, serving: str | None = None
) -> list[ModelEntry]:
    """Registry versions (when there is a registry), the dashboard's model folders and the
    configured folder, newest first within each. Registry problems leave the registry
    part out (the folders still show)."""
    entries: list[ModelEntry] = []
    if registry_exists(settings):
        from leadscore.registry import Registry

        try:
            versions = Registry(settings).versions()
        except LeadscoreError:
            versions = []

        for v in versions:
            family = FAMILIES[v.model].label if v.model in FAMILIES else v.model or "model"
            entries.append(
                ModelEntry(
                    key=f"v{v.version}", reference=str(v.version), source=REGISTRY,
                    name=f"version {v.version}", model=family,
                    created=f"{v.created:%Y-%m-%d %H:%M}", auc=v.auc, profit=v.profit,
                    rows=v.rows, aliases=tuple(sorted(v.aliases)), run_id=v.run_id,
                )
            )  # fmt: skip
    # a folder the registry holds as a version is listed once, as that version
    folders = [
        p for p in workspace.model_dirs()
        if not (registry_exists(settings) and (p / REGISTERED_FILE).is_file())
    ]  # fmt: skip
    for candidate in (serving, settings.service.model):
        if candidate and Path(candidate).is_dir() and Path(candidate).resolve() not in folders:
            folders.append(Path(candidate).resolve())
    seen = set()
    for folder in folders:
        key = folder_key(folder)
        if key in seen:
            continue
        seen.add(key)
        try:
            entries.append(folder_entry(folder))
        except ArtifactError:
            continue
    return entries


def model_folder(entry: ModelEntry, settings: Settings, workspace: Workspace) -> Path:
    """A local folder holding the entry's model files (evaluation scores for the charts);
    registry versions are downloaded once into the dashboard folder."""
    if entry.source == FOLDER:
        return Path(entry.reference)
    target = workspace.registry_dir / entry.reference
    if (target / METADATA_FILE).is_file():
        return target
    from mlflow import MlflowClient

    from leadscore.registry import tracking_uri

    uri = tracking_uri(settings)
    partial = workspace.registry_dir / f".{entry.reference}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.download_artifacts(entry.run_id, "model_dir", str(partial))
    except Exception as exc:  # MLflow raises its own types; all mean "not available"
        shutil.rmtree(partial, ignore_errors=True)
        raise ArtifactError(f"cannot download version {entry.reference}: {exc}") from None
    shutil.rmtree(target, ignore_errors=True)
    (partial / "model_dir").replace(target)
    shutil.rmtree(partial, ignore_errors=True)
    return target


def serve(entry: ModelEntry, store: Store, settings: Settings, user: str | None) -> str:
    """Make ``entry`` the served model: promote a registry version to champion (the API
    serves it after its next reload), or point the dashboard at a folder. Returns the
    new serving reference."""
    if entry.source == REGISTRY:
        from leadscore.registry import Registry

        registry = Registry(settings)
        current = registry.resolve("champion") if _has_champion(registry) else None
        if current != int(entry.reference):
            registry.promote(int(entry.reference), reason=f"served from the dashboard by {user}")
        reference = "champion"
    else:
        reference = entry.reference
    store.set_setting(SERVING_KEY, {"reference": reference}, by=user)
    return reference


def _has_champion(registry: Any) -> bool:
    try:
        registry.resolve("champion")
    except LeadscoreError:
        return False
    return True


# ----------------------------------------------------------------------------- what-if


@dataclass(frozen=True)
class WhatIf:
    """The contact threshold and profit a model's out-of-fold scores give with some
    business values, next to the values it was trained with."""

    choice: ThresholdChoice
    curve: pd.DataFrame
    trained: ThresholdChoice


def what_if(y: np.ndarray, score: np.ndarray, business: Business, trained: Business) -> WhatIf:
    """Threshold and expected profit with ``business`` against ``trained`` (same scores).

    Example
    -------
    >>> y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9])
    >>> what_if(y, p, Business(cost_per_contact=50), Business()).choice.contacted
    2
    """
    return WhatIf(
        choice=choose_threshold(y, score, business),
        curve=profit_curve(y, score, business),
        trained=choose_threshold(y, score, trained),
    )


# ----------------------------------------------------------------------------- jobs


@dataclass
class Job:
    """A long job in a background thread and how far it is (read by the pages)."""

    kind: str
    user: str | None
    phase: str = "starting"
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    log: list[str] = field(default_factory=list)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def text(self) -> str:
        counted = f" {self.done:,}/{self.total:,}" if self.total else ""
        return f"{self.phase}{counted} · {time.monotonic() - self.started:,.0f} s"

    def step(self, phase: str, done: int = 0, total: int = 0) -> None:
        self.phase, self.done, self.total = phase, done, total


class ProgressSink(io.TextIOBase):
    """A text stream for a rich console that reads ``done/total`` off the comparison's
    progress bar into a :class:`Job`, and keeps the other lines (leakage warnings …)."""

    _ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
    _COUNT = re.compile(r"comparing models.*?(\d+)/(\d+)")

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        clean = self._ANSI.sub("\n", text)
        counts = self._COUNT.findall(clean)
        if counts:
            done, total = counts[-1]
            self.job.step("comparing models", int(done), int(total))
        for line in clean.splitlines():
            line = line.strip()
            if (
                line
                and "comparing models" not in line
                and not line.startswith(("┃", "│", "┏", "┡", "└", "━"))
            ):
                self.job.log.append(line)
        return len(text)


_JOBS: dict[str, Job] = {}
_JOBS_LOCK = threading.Lock()


def current_job(workspace: Workspace) -> Job | None:
    """The dashboard folder's job (running, or the last one finished)."""
    return _JOBS.get(str(workspace.directory))


def forget_job(workspace: Workspace, job: Job) -> None:
    """Drop a finished job once its result has been shown."""
    with _JOBS_LOCK:
        if _JOBS.get(str(workspace.directory)) is job and not job.running:
            del _JOBS[str(workspace.directory)]


def start_job(
    workspace: Workspace, kind: str, user: str | None, work: Callable[[Job], dict[str, Any]]
) -> Job:
    """Run ``work(job)`` in a background thread; refused while another job runs."""
    with _JOBS_LOCK:
        running = _JOBS.get(str(workspace.directory))
        if running is not None and running.running:
            raise LeadscoreError(
                f"a {running.kind} job started by {running.user or 'someone'} is still running"
            )
        job = Job(kind=kind, user=user)
        _JOBS[str(workspace.directory)] = job

    def target() -> None:
        try:
            job.result = work(job)
        except LeadscoreError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug: show it rather than lose it in a thread
            job.error = f"internal error: {type(exc).__name__}: {exc}"
            job.log.append(traceback.format_exc())
        finally:
            job.finished = time.monotonic()

    job.thread = threading.Thread(target=target, name=f"leadscore-{kind}", daemon=True)
    job.thread.start()
    return job


def _console(job: Job) -> Any:
    from rich.console import Console

    # a terminal as far as rich knows, so the progress bar is drawn (and read back)
    # wide enough that no message is wrapped (the sink keeps whole lines)
    return Console(file=ProgressSink(job), force_terminal=True, width=2000, color_system=None)


def compare_work(
    frame: pd.DataFrame, info: DatasetInfo, settings: Settings, workspace: Workspace,
    models: list[str] | None, sort: str,
) -> Callable[[Job], dict[str, Any]]:  # fmt: skip
    """A job that compares the candidates on the labelled leads and keeps the leaderboard."""

    def work(job: Job) -> dict[str, Any]:
        from leadscore.modeling.compare import compare

        job.step("preparing the data")
        board = compare(
            frame, roles=info.role_model, settings=settings, models=models, sort=sort,
            console=_console(job), show_progress=True,
        )  # fmt: skip
        board.write(workspace.leaderboard_path(info))
        return {"best": board.best, "note": board.selection_note, "seconds": board.seconds}

    return work


def train_work(
    frame: pd.DataFrame, info: DatasetInfo, settings: Settings, workspace: Workspace,
    store: Store, *, models: list[str] | None, sort: str, serve_it: bool, user: str | None,
) -> Callable[[Job], dict[str, Any]]:  # fmt: skip
    """A job that compares, trains the best, keeps the model (registered when tracking is
    on) and — with ``serve_it`` — serves it and scores the data set's open leads (all its
    leads when none is open) into the store."""

    def work(job: Job) -> dict[str, Any]:
        from leadscore.modeling.train import train

        job.step("preparing the data")
        staging = workspace.new_model_dir("training")
        model = train(
            frame, roles=info.role_model, settings=settings, models=models, sort=sort,
            out=staging, leaderboard_out=workspace.leaderboard_path(info),
            console=_console(job), show_progress=True,
        )  # fmt: skip
        folder = workspace.new_model_dir(model.metadata_["model"])
        staging.replace(folder)
        version = getattr(model, "registered_version_", None)
        if version is not None:
            (folder / REGISTERED_FILE).write_text(f"{version}\n")
        entry = (
            ModelEntry(
                key=f"v{version}",
                reference=str(version),
                source=REGISTRY,
                name=f"version {version}",
                model=model.metadata_["model_label"],
                created="",
                auc=None,
                profit=None,
                rows=None,
            )
            if version is not None
            else folder_entry(folder)
        )
        result: dict[str, Any] = {
            "model": model.metadata_["model_label"],
            "folder": str(folder),
            "version": version,
            "auc": model.cv_metrics_.get("auc"),
            "profit": model.threshold_choice_.profit,
            "threshold": model.cutoffs_.contact,
            "selection": model.metadata_.get("selection"),
            "served": False,
            "scored": 0,
        }
        if serve_it:
            job.step("serving the new model")
            reference = serve(entry, store, settings, user)
            version_text = model_version_text(reference, model, settings)
            target = info.role_model.target
            rows = open_rows(frame, target, settings)
            if rows.empty:
                rows = frame
            result["served"] = True
            result["scored"] = score_into_store(
                model, rows, store, version_text, settings,
                progress=lambda done, total: job.step("scoring leads", done, total),
                drop=[c for c in (target,) if c],
            )  # fmt: skip
        return result

    return work


def rescore_work(
    model: LeadModel, store: Store, settings: Settings, version: str
) -> Callable[[Job], dict[str, Any]]:
    """A job that scores every stored lead again from its stored attributes."""

    def work(job: Job) -> dict[str, Any]:
        job.step("reading the stored leads")
        rows = [
            {"__lead_id": lead_id, **attributes}
            for chunk in store.iter_leads()
            for lead_id, attributes in chunk
        ]
        if not rows:
            raise LeadscoreError("the store holds no leads yet: load data and train first")
        frame = pd.DataFrame.from_records(rows)
        key = model.id_column_ or "lead"
        frame[key] = frame.pop("__lead_id")
        scored = score_into_store(
            model, frame, store, version, settings,
            progress=lambda done, total: job.step("scoring leads", done, total),
            keep_attributes=False,
        )  # fmt: skip
        return {"scored": scored}

    return work


def model_version_text(reference: str, model: LeadModel, settings: Settings) -> str:
    """The model version recorded with stored scores (as the API records it)."""
    from leadscore.scoring.loader import model_version

    return model_version(reference, model, settings)


def score_into_store(
    model: LeadModel,
    frame: pd.DataFrame,
    store: Store,
    version: str,
    settings: Settings,
    *,
    progress: Callable[[int, int], None] | None = None,
    drop: list[str] | None = None,
    keep_attributes: bool = True,
) -> int:
    """Score leads, explain them and append the scores to the store, in chunks (each one
    transaction). The whole batch is scored first, so a capacity ("call the N best")
    applies to the batch as a whole. With ``keep_attributes`` every column of a lead (but
    ``drop``) is stored as its attributes, so the lead page shows what the CRM sent.
    Returns how many leads were scored."""
    from leadscore.scoring.batch import store_scores

    frame = frame.reset_index(drop=True)
    scores = model.score_leads(frame, capacity=settings.business.capacity)
    key = model.id_column_ or "lead"
    total = len(frame)
    for start in range(0, total, SCORE_CHUNK):
        part = slice(start, min(start + SCORE_CHUNK, total))
        rows, scored = frame.iloc[part], scores.iloc[part]
        if keep_attributes:
            raw = rows.drop(columns=[c for c in [*(drop or []), key] if c in rows.columns])
            raw = raw.astype(object).where(raw.notna(), None)
            ids = scored[key].astype(str).tolist()
            store.upsert_leads(dict(zip(ids, jsonable(raw.to_dict("records")), strict=True)))
        store_scores(store, model, rows, scored, version, reasons=3)
        if progress:
            progress(part.stop, total)
    return total


# ----------------------------------------------------------------------------- insights


def insights(
    model: LeadModel, frame: pd.DataFrame, settings: Settings, target: str | None
) -> dict[str, Any]:
    """Conversion tables, findings, the ideal customer, segment profiles and global
    drivers of the labelled leads of a data set, by the served model."""
    from leadscore.explain.drivers import explain_sample, global_drivers
    from leadscore.explain.insights import compute_insights, load_for_insights

    labelled = labelled_rows(frame, target, settings)
    if labelled.empty:
        raise LeadscoreError(
            "insights need leads with a known outcome: the current data set has none"
        )
    model, table = load_for_insights(model, labelled)
    numbers = compute_insights(model, table)
    saved = getattr(model, "drivers_", None)  # recorded by `train` on its training leads
    if saved is not None:
        numbers["drivers"] = saved
    else:
        _, explained = explain_sample(model, table.features, sample=500)
        numbers["drivers"] = global_drivers(explained)
    return numbers


def ideal_customer(
    model: LeadModel, frame: pd.DataFrame, settings: Settings, target: str | None
) -> dict[str, object]:
    """The ideal customer of a data set's labelled leads (cheaper than :func:`insights`:
    no conversion tables, no drivers)."""
    from leadscore.explain.ideal import ideal_profile
    from leadscore.explain.insights import load_for_insights

    labelled = labelled_rows(frame, target, settings)
    if labelled.empty:
        raise LeadscoreError(
            "the ideal customer needs leads with a known outcome: the current data set has none"
        )
    model, table = load_for_insights(model, labelled)
    kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    scores = model.predict_proba(table.features)[:, 1]
    return ideal_profile(table.features, table.y, scores, kinds)


def deviations(
    model: LeadModel, attributes: dict[str, Any], ideal: dict[str, object]
) -> pd.DataFrame:
    """What each difference from the ideal customer costs one stored lead (score points)."""
    from leadscore.explain.ideal import lead_deviations

    return lead_deviations(model, pd.DataFrame([attributes]), ideal)
