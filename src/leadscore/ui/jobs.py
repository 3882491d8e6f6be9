"""The dashboard's long jobs: comparing and training models (with progress) and scoring
stored leads again.

Long jobs run in a background thread, one at a time per dashboard folder, and report
their progress in a :class:`Job` the pages poll: a page can be left and come back to
while a model trains. The comparison's progress is read from its own progress bar
(:class:`ProgressSink`), so the library needs no dashboard hook.
"""

from __future__ import annotations

import io
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from leadscore.config import Settings
from leadscore.errors import LeadscoreError
from leadscore.modeling.families import FAMILIES
from leadscore.modeling.model import LeadModel
from leadscore.store import Store
from leadscore.ui.batch_scoring import model_version_text, score_into_store
from leadscore.ui.model_catalogue import (
    REGISTERED_FILE,
    REGISTRY,
    ModelEntry,
    folder_entry,
    serve,
)
from leadscore.ui.workspace import DatasetInfo, Workspace, open_rows

#: model families of the quick choice: fast, and usually within a hair of the best
FAST_MODELS = tuple(name for name, family in FAMILIES.items() if family.fast)


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
        from leadscore.lifecycle.compare import compare

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
        from leadscore.lifecycle.train import train

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
            for chunk in store.leads.iter_attributes()
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
