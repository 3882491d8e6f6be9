"""The models a dashboard admin chooses from, and the one the dashboard serves.

Models come from two places: the MLflow registry (when tracking is on: every ``leadscore
train`` and every training in the dashboard registers a version; serving one means
promoting it to champion, so the API serves it too) and model folders (trained in the
dashboard with tracking off, or configured as ``service.model``). Which one the dashboard
serves is a dashboard setting in the store (``serving``), by default the API's
``service.model`` (``champion``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadscore.config import Settings
from leadscore.errors import ArtifactError, LeadscoreError
from leadscore.modeling.families import FAMILIES
from leadscore.modeling.folder import METADATA_FILE
from leadscore.modeling.model import LeadModel
from leadscore.store import Store
from leadscore.ui.config import SERVING_KEY
from leadscore.ui.workspace import Workspace

REGISTRY, FOLDER = "registry", "folder"
#: written into a dashboard model folder whose model the registry holds as a version
REGISTERED_FILE = "registered_version.txt"


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
    chosen = store.settings.get(SERVING_KEY) or {}
    return str(chosen.get("reference") or settings.service.model)


def registry_exists(settings: Settings) -> bool:
    """Whether there is a registry to ask. The embedded one (a SQLite file) is not created
    just by looking: that would take a while and leave an ``mlflow.db`` behind."""
    from leadscore.lifecycle.registry import tracking_uri

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
    from leadscore.lifecycle.registry import Registry

    return f"v{Registry(settings).resolve(reference)}"


def reference_of(key: str) -> str:
    """The :func:`~leadscore.lifecycle.registry.load_lead_model` reference of a serving key."""
    return key.removeprefix("folder:") if key.startswith("folder:") else key.removeprefix("v")


def load_model(key: str, settings: Settings) -> LeadModel:
    """The model a serving key names (the caller caches it: loading takes a while)."""
    from leadscore.lifecycle.registry import load_lead_model

    return load_lead_model(reference_of(key), settings)


def catalogue(
    settings: Settings, workspace: Workspace, serving: str | None = None
) -> list[ModelEntry]:
    """Registry versions (when there is a registry), the dashboard's model folders and the
    configured folder, newest first within each. Registry problems leave the registry
    part out (the folders still show)."""
    entries: list[ModelEntry] = []
    if registry_exists(settings):
        from leadscore.lifecycle.registry import Registry

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

    from leadscore.lifecycle.registry import tracking_uri

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
        from leadscore.lifecycle.registry import Registry

        registry = Registry(settings)
        current = registry.resolve("champion") if _has_champion(registry) else None
        if current != int(entry.reference):
            registry.promote(int(entry.reference), reason=f"served from the dashboard by {user}")
        reference = "champion"
    else:
        reference = entry.reference
    store.settings.set(SERVING_KEY, {"reference": reference}, by=user)
    return reference


def _has_champion(registry: Any) -> bool:
    try:
        registry.resolve("champion")
    except LeadscoreError:
        return False
    return True
