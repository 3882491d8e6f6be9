"""Experiments and the model registry, on MLflow.

Every ``compare`` and ``train`` is an MLflow run (the candidates as nested runs), every
trained model a registered version. Two aliases say which version does what: ``champion``
serves (every scoring entry point loads it by default) and ``challenger`` is the newest
one waiting for its chance. Promotions are recorded, so ``rollback`` can go back.

The default store is embedded — a SQLite file ``mlflow.db`` and an ``mlartifacts/`` folder
in the working directory — and any MLflow tracking server works by URI
(``LEADSCORE_MLFLOW_URI`` or ``mlflow_uri`` in ``leadscore.toml``). Browse with
``leadscore mlflow-ui``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from leadscore.config import Settings
from leadscore.data.masking import mask_source
from leadscore.errors import ArtifactError, ConfigError, LeadscoreError
from leadscore.jsonutil import write_json

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from leadscore.modeling.leaderboard import Leaderboard
    from leadscore.modeling.model import LeadModel

CHAMPION = "champion"
CHALLENGER = "challenger"
_HISTORY_TAG = "leadscore.champion_history"
_MODEL_ARTIFACT = "lead_model"


def tracking_uri(settings: Settings) -> str:
    """The configured tracking URI, or the embedded SQLite store in the working directory."""
    if settings.mlflow_uri:
        return settings.mlflow_uri
    return f"sqlite:///{(Path.cwd() / 'mlflow.db').resolve()}"


@dataclass
class VersionInfo:
    """One registered model version, as ``leadscore models list`` shows it."""

    version: int
    aliases: list[str]
    run_id: str
    created: pd.Timestamp
    model: str
    auc: float | None
    profit: float | None
    rows: int | None
    description: str


class Registry:
    """Runs, registered versions and aliases of one project's lead model.

    Parameters
    ----------
    settings:
        Project settings: ``mlflow_uri``, ``model_name``, ``experiment``.

    Example (it needs the MLflow tracking server or folder of the settings)::

        registry = Registry(Settings())
        registry.promote(3)
        model = registry.load_model("champion")
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.uri = tracking_uri(self.settings)
        self.name = self.settings.model_name

    # ------------------------------------------------------------------ plumbing

    @property
    def client(self) -> MlflowClient:
        from mlflow import MlflowClient

        from leadscore.store.db import create_private_sqlite

        create_private_sqlite(self.uri)  # 0600, before MLflow makes it world-readable
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    @contextlib.contextmanager
    def _active(self) -> Iterator[str]:
        """Point MLflow's fluent API at this store for the duration; yield the experiment id.

        MLflow's own chatter (registration notices, schema hints) is kept out of the
        terminal: leadscore reports what happened itself.
        """
        import logging
        import warnings

        import mlflow

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="mlflow")

        # MLflow's setters also write environment variables (inherited by subprocesses):
        # put back exactly what was there, so using a store leaves no trace on the process.
        saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        previous_tracking = mlflow.get_tracking_uri()
        previous_registry = mlflow.get_registry_uri()
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        try:
            yield self._experiment_id()
        except LeadscoreError:
            raise
        except Exception as exc:  # MLflow raises its own types; all mean "store unusable"
            if type(exc).__name__ in ("MlflowException", "RestException", "OperationalError"):
                raise ConfigError(f"MLflow store {self.uri} failed: {exc}") from None
            raise
        finally:
            mlflow.set_tracking_uri(previous_tracking)
            mlflow.set_registry_uri(previous_registry)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _experiment_id(self) -> str:
        client = self.client
        experiment = client.get_experiment_by_name(self.settings.experiment)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if self.uri.startswith("sqlite:///"):
            # Artifacts beside the embedded database, not wherever the first run happened.
            database = Path(self.uri.removeprefix("sqlite:///"))
            location = (database.parent / "mlartifacts").resolve().as_uri()
        return client.create_experiment(self.settings.experiment, artifact_location=location)

    # ------------------------------------------------------------------ tracking

    def log_comparison(self, board: Leaderboard, *, source: str, nested: bool = False) -> str:
        """Record a comparison: parameters, the leaderboard and one nested run per model."""
        import mlflow

        source = mask_source(source)  # tags and run names are read by anyone with the UI
        with (
            self._active() as experiment,
            mlflow.start_run(
                experiment_id=experiment, run_name=f"compare · {Path(source).name}", nested=nested
            ) as run,
        ):
            self._log_board(board, source, experiment)
            return run.info.run_id

    def _log_board(self, board: Leaderboard, source: str, experiment: str) -> None:
        import mlflow

        table = board.lead_table
        mlflow.set_tags({"leadscore.job": "compare", "leadscore.source": mask_source(source)})
        mlflow.log_params(
            {
                "rows": table.n_rows,
                "positive_rate": round(table.positive_rate, 6),
                "features": _clip(", ".join(map(str, table.features.columns))),
                "excluded": _clip(json.dumps(table.excluded)),
                "folds": board.n_folds,
                "sort": board.sort,
                "best": board.best,
                **{f"business.{k}": v for k, v in board.business.model_dump().items()},
            }
        )
        best = board.table.set_index("model").loc[board.best]
        mlflow.log_metrics({f"best_{k}": float(best[k]) for k in _METRICS if pd.notna(best[k])})
        mlflow.log_metrics(
            {
                "contact_all_profit": board.baselines.contact_all_profit,
                "contact_none_profit": board.baselines.contact_none_profit,
                "compare_seconds": board.seconds,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifact(str(board.to_csv(Path(tmp) / "leaderboard.csv")))
            audit = {
                "leakage_suspects": [s.__dict__ for s in board.suspects],
                "excluded": table.excluded,
                "notes": table.notes,
            }
            mlflow.log_artifact(str(write_json(audit, Path(tmp) / "audit.json")))
        for row in board.table.to_dict("records"):
            with mlflow.start_run(
                experiment_id=experiment, run_name=str(row["model"]), nested=True
            ):
                mlflow.set_tag("leadscore.job", "candidate")
                mlflow.log_params({"model": row["model"], "label": row["label"]})
                names = (*_METRICS, "auc_std", "fit_seconds")
                mlflow.log_metrics({k: float(row[k]) for k in names if pd.notna(row.get(k))})

    def log_training(
        self,
        model: LeadModel,
        board: Leaderboard,
        model_dir: Path,
        *,
        source: str,
        register: bool = True,
    ) -> tuple[str, int | None]:
        """Record a training run, log the model as an MLflow pyfunc and register it.

        The new version becomes ``champion`` when there is none yet, else ``challenger``.
        Returns the run id and the version number.
        """
        import mlflow

        source = mask_source(source)
        with (
            self._active() as experiment,
            mlflow.start_run(
                experiment_id=experiment, run_name=f"train · {Path(source).name}"
            ) as run,
        ):
            self._log_board(board, source, experiment)
            mlflow.set_tag("leadscore.job", "train")
            meta = model.metadata_
            mlflow.log_params(
                {
                    "model": meta["model"],
                    "data_fingerprint": meta["data_fingerprint"],
                    "selection": _clip(str(meta.get("selection", ""))),
                    "threshold": round(model.cutoffs_.contact, 6),
                    "hot_cutoff": round(model.cutoffs_.hot, 6),
                }
            )
            mlflow.log_metrics(
                {f"cv_{k}": float(v) for k, v in model.cv_metrics_.items() if pd.notna(v)}
            )
            mlflow.log_artifacts(str(model_dir), artifact_path="model_dir")
            with tempfile.TemporaryDirectory() as tmp:
                from leadscore.reporting.report import write_report

                write_report(model_dir, Path(tmp) / "report")
                mlflow.log_artifacts(str(Path(tmp) / "report"), artifact_path="report")
            version = self._log_pyfunc(model, model_dir) if register else None
            return run.info.run_id, version

    def _log_pyfunc(self, model: LeadModel, model_dir: Path) -> int:
        from leadscore.lifecycle.pyfunc import example_input, signature_of

        example = example_input(model)
        signature = signature_of(model, example)
        # MLflow prints registration notices straight to stderr; leadscore reports the version
        with contextlib.redirect_stderr(io.StringIO()):
            info = self._log_model(model_dir, signature, example)
        version = int(info.registered_model_version)
        role = CHALLENGER if self._alias_version(CHAMPION) is not None else CHAMPION
        if role == CHAMPION:
            self._set_champion(version, reason="first model")
        else:
            self.client.set_registered_model_alias(self.name, CHALLENGER, str(version))
        return version

    def log_decision(self, decision: Any) -> str:
        """Record a retraining decision: both models' metrics on the judging leads, the
        versions and the verdict (:func:`leadscore.lifecycle.decision_log.log_decision`)."""
        from leadscore.lifecycle.decision_log import log_decision

        with self._active() as experiment:
            return log_decision(decision, experiment)

    def _log_model(self, model_dir: Path, signature: Any, example: pd.DataFrame) -> Any:
        import mlflow

        from leadscore.lifecycle.pyfunc import LeadScorePyfunc

        package = Path(__file__).resolve().parent
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=LeadScorePyfunc(),
            artifacts={_MODEL_ARTIFACT: str(model_dir)},
            code_paths=[str(package)],
            signature=signature,
            input_example=example,
            registered_model_name=self.name,
            pip_requirements=_requirements(),
        )

    # ------------------------------------------------------------------ registry

    def _alias_version(self, alias: str) -> int | None:
        try:
            return int(self.client.get_model_version_by_alias(self.name, alias).version)
        except Exception:  # MLflow raises when the model or the alias does not exist
            return None

    def _history(self) -> list[int]:
        model = self.client.get_registered_model(self.name)
        return json.loads(model.tags.get(_HISTORY_TAG, "[]"))

    def _set_champion(self, version: int, reason: str) -> None:
        """Move the champion alias, remembering the one it replaces (for rollback)."""
        client = self.client
        current = self._alias_version(CHAMPION)
        history = self._history()
        if current is not None and current != version:
            history.append(current)
        client.set_registered_model_tag(self.name, _HISTORY_TAG, json.dumps(history[-50:]))
        # One call moves the alias: whoever loads "champion" gets the old or the new
        # version, never nothing.
        client.set_registered_model_alias(self.name, CHAMPION, str(version))
        client.set_model_version_tag(self.name, str(version), "leadscore.promoted", reason)
        if self._alias_version(CHALLENGER) == version:
            client.delete_registered_model_alias(self.name, CHALLENGER)

    def never_written(self) -> bool:
        """Whether this is an embedded SQLite registry nothing was ever written to (no
        file, or the empty file made before MLflow's): reading one would first create
        MLflow's tables, seconds of work for an empty answer."""
        if not self.uri.startswith("sqlite:///"):
            return False
        path = Path(self.uri.removeprefix("sqlite:///").partition("?")[0])
        return not path.is_file() or path.stat().st_size == 0

    def versions(self) -> list[VersionInfo]:
        """All versions, newest first, with their aliases and headline metrics (none from
        a registry never written to, which is left as it is)."""
        if self.never_written():
            return []
        try:
            found = self.client.search_model_versions(f"name='{self.name}'")
        except Exception as exc:  # no such model, or an unreachable store
            raise ConfigError(f"cannot read the model registry at {self.uri}: {exc}") from None
        out = []
        for mv in sorted(found, key=lambda v: int(v.version), reverse=True):
            metrics = self.client.get_run(mv.run_id).data.metrics if mv.run_id else {}
            params = self.client.get_run(mv.run_id).data.params if mv.run_id else {}
            out.append(
                VersionInfo(
                    version=int(mv.version),
                    # search results leave aliases out: ask for each version
                    aliases=list(self.client.get_model_version(self.name, mv.version).aliases),
                    run_id=mv.run_id or "",
                    created=pd.Timestamp(mv.creation_timestamp, unit="ms"),
                    model=params.get("model", ""),
                    auc=metrics.get("cv_auc"),
                    profit=metrics.get("cv_profit"),
                    rows=int(float(params["rows"])) if "rows" in params else None,
                    description=mv.description or "",
                )
            )
        return out

    def describe(self, version: int) -> dict[str, Any]:
        """Everything recorded about one version: its run's parameters, metrics and tags."""
        try:
            mv = self.client.get_model_version(self.name, str(version))
        except Exception:
            raise LeadscoreError(f"{self.name} has no version {version}") from None
        run = self.client.get_run(mv.run_id)
        return {
            "version": int(mv.version),
            "aliases": list(getattr(mv, "aliases", []) or []),
            "run_id": mv.run_id,
            "source": mv.source,
            "tags": dict(mv.tags),
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
        }

    def promote(self, version: int, reason: str = "promoted by hand") -> None:
        """Make ``version`` the champion."""
        self.describe(version)  # refuses an unknown version with a clear message
        self._set_champion(version, reason)

    def rollback(self) -> int:
        """Give the champion alias back to the previous champion; returns its version."""
        history = self._history()
        if not history:
            raise LeadscoreError(f"{self.name} has no earlier champion to roll back to")
        previous = history.pop()
        current = self._alias_version(CHAMPION)
        self.client.set_registered_model_alias(self.name, CHAMPION, str(previous))
        self.client.set_registered_model_tag(self.name, _HISTORY_TAG, json.dumps(history))
        if current is not None:
            self.client.set_model_version_tag(
                self.name, str(current), "leadscore.rolled_back", "replaced by rollback"
            )
        return previous

    def resolve(self, reference: str | int) -> int:
        """A version number from ``champion``, ``challenger``, ``7`` or ``models:/name@alias``."""
        text = str(reference)
        if text.startswith("models:/"):
            text = text.rsplit("@", 1)[-1] if "@" in text else text.rsplit("/", 1)[-1]
        if text.isdigit():
            return int(text)
        version = self._alias_version(text)
        if version is None:
            raise LeadscoreError(
                f"no {text!r} model in the registry {self.uri} (model name {self.name!r}); "
                "train one first (leadscore train …) or give a model folder"
            )
        return version

    def load_model(self, reference: str | int = CHAMPION) -> LeadModel:
        """The :class:`LeadModel` of a version (default: the champion)."""
        from leadscore.modeling.model import LeadModel

        with self.model_folder(reference) as folder:
            return LeadModel.load(folder)

    @contextlib.contextmanager
    def model_folder(self, reference: str | int = CHAMPION) -> Iterator[Path]:
        """A version's saved model folder, downloaded to a temporary folder (removed on
        leaving the block)."""
        import mlflow

        version = self.resolve(reference)
        # (a scorer read from the folder stays mapped after it is removed; where the
        # system refuses to remove a mapped file, it is left to the temporary folder)
        with self._active(), tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{self.name}/{version}", dst_path=tmp
                )
            except Exception as exc:
                raise ArtifactError(f"cannot download version {version}: {exc}") from None
            # MLflow keeps the artifact folder's own name: find the folder with the model
            found = sorted(Path(local, "artifacts").glob("*/metadata.json"))
            if not found:
                raise ArtifactError(f"version {version} holds no leadscore model folder")
            yield found[0].parent


_METRICS = ("auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier",
            "lift_top10", "recall_top10", "profit", "ece")  # fmt: skip


def load_lead_model(reference: str | Path, settings: Settings | None = None) -> LeadModel:
    """A model folder, or a registry reference (``champion``, ``challenger``, ``7``,
    ``models:/name@alias``)."""
    from leadscore.modeling.model import LeadModel

    with model_folder(reference, settings) as folder:
        return LeadModel.load(folder)


@contextlib.contextmanager
def model_folder(reference: str | Path, settings: Settings | None = None) -> Iterator[Path]:
    """The saved model folder a reference names: a folder itself, or a registry version
    downloaded for the duration of the block."""
    text = str(reference)
    if Path(text).is_dir():
        yield Path(text)
        return
    looks_like_path = "/" in text or "\\" in text or Path(text).suffix
    if looks_like_path and not text.startswith("models:/"):
        raise ArtifactError(f"model directory not found: {reference}")
    with Registry(settings).model_folder(text) as folder:
        yield folder


def _clip(text: str, limit: int = 6000) -> str:
    # MLflow limits parameter values; long feature lists are cut, the full one is in files
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _requirements() -> list[str]:
    from leadscore.modeling.folder import PINNED_LIBRARIES, installed_distribution

    names = (*PINNED_LIBRARIES, "scipy", "joblib", "pyarrow", "pydantic", "pydantic-settings",
             "ua-parser", "geoip2fast", "pytz", "rich", "typer")  # fmt: skip
    found = [installed_distribution(name) for name in names]
    return [f"{dist}=={version}" for dist, version in filter(None, found)]
