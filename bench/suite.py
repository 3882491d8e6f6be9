"""Benchmark suite: leadscore's *defaults* on public data nobody tuned them to.

What it checks
--------------
For each dataset below, on one fixed 70/30 split, the installed command line is run as a
user would run it — ``leadscore train train.csv --target T [--id ID] --out model/ --quiet``
then ``leadscore score model/ holdout.csv --out scores.csv`` (in a temporary folder, tracked
into a throwaway MLflow store, no ``--time``, no other option) — and its holdout ROC-AUC,
expected calibration error (``leadscore.modeling.metrics.expected_calibration_error``) and
wall-clock ``train`` seconds are set beside:

* **LightGBM defaults**: ``LGBMClassifier(verbose=-1)`` on the same columns (text as pandas
  categories with the training part's levels, unseen levels NaN; dates as epoch seconds;
  the id column left out);
* **FLAML** (``--flaml``; 60 s budget, ROC-AUC, seed 0) on the same frame;
* **AutoGluon** (``best_quality``, 60 s) only where ``autogluon.tabular`` is installed.

The table also shows which model leadscore chose, the columns it left out (besides target
and id), and, for the synthetic traps, whether it left out the planted leak / kept the
strong legitimate column. The baselines' results are cached in
``~/.cache/leadscore/bench-suite/`` (one JSON file per dataset, split and
``BASELINE_VERSION``, checked against a hash of the split data and the library version), so
a re-run only re-runs leadscore, which is never cached. Every run's full results are
written to ``bench-suite.json`` (``--json PATH``).

Run
---
``make bench-suite``, or::

    .venv/bin/python bench/suite.py [--only a,b] [--skip a,b] [--flaml] [--json PATH]
                                    [--refresh-baselines] [--list]

Splits: ``random`` is stratified with ``random_state=0`` (xeducation: PyCaret's 123);
``forward`` sorts the rows by time and holds out the last 30 %; the train CSV is written in
time order and leadscore is *not* told which column is the time.

Datasets and their traps
------------------------
Targets are written as they come (1/0, Y/N, Yes/No: leadscore reads those). FlightDelays
(delayed/ontime) and OJ (CH/MM) have no yes/no spelling, so for those two a
``leadscore.toml`` naming the positive and the negative label is written beside the
training file (``POSITIVE_LABELS``), as the README tells a user to do; it sets nothing else.

* ``xeducation`` (real, random/123): PyCaret's lead-scoring data, the nine post-contact
  columns dropped (``POST_CONTACT``); ``Lead Number`` is a sequential id (time proxy) and
  ``Select`` means "not chosen". Skipped when ``../shared/datasets`` is absent.
* ``UniversalBank`` (dmba): ``Income`` alone reaches AUC 0.92 — a strong legitimate column
  the leakage check must keep.
* ``CharlesBookClub`` (dmba): 8 % positives; ``Yes_Florence``/``No_Florence`` are copies of
  the target and ``Seq#`` a row number: dropped.
* ``Tayko`` (dmba): ``Spending`` is > 0 exactly when ``Purchase`` is 1: dropped. A 50/50
  sample.
* ``Fundraising`` (dmba): ``TARGET_D`` (the gift amount) and ``Row Id.`` dropped; a
  weighted 50/50 sample with a weak signal.
* ``Voter-Persuasion`` (dmba): target ``MOVED_AD`` (Y/N); ``MOVED_A`` and ``opposite`` (the
  target again) and ``Partition`` dropped, and so are ``CAND1S``/``CAND2S`` and their
  ``*_UND`` flags: with the party flags they decide ``MOVED_AD`` outright in 12 of 21 cells
  (survey answers the outcome is computed from; LightGBM reaches AUC 0.99 with them, 0.88
  without). ``MESSAGE_A`` is the randomised treatment.
* ``GermanCredit`` (dmba): 1,000 rows (700 to train): small data, 70 % positives.
* ``FlightDelays`` (dmba, forward by ``FL_DATE``): ``DEP_TIME`` (the actual departure)
  dropped; the holdout is 22–31 January 2004 (``DAY_OF_MONTH`` 23–31 never seen in
  training); ``Weather`` = 1 only for delayed flights (a small post-outcome column, kept:
  the data as published).
* ``Taxi`` (dmba ``Taxi-cancellation-case``, forward by ``booking_created``): 5 %
  cancellations in training, 13 % in the holdout; dates as text (``1/1/13 8:01``);
  ``to_date`` mostly empty; ids (``user_id``, area ids) as numbers.
* ``eBayAuctions`` (dmba): ``ClosePrice`` (known after the auction) dropped; 38 % of the
  rows duplicate another, so a random split has copies on both sides; no id.
* ``Caravan`` (ISLP): 6 % positives, 85 coded columns.
* ``OJ`` (ISLP, forward by ``WeekofPurchase``): small; target CH/MM (MM positive); several
  columns are exact functions of others.
* ``Default`` (ISLP): 3 % positives, three columns.
* ``demo-leak`` (synthetic, ``generate_leads(6000, seed=1)``): ``sales_status`` is filled in
  after the call (planted leak, AUC 0.95 alone). The baselines never get it; leadscore must
  leave it out by itself.
* ``demo-strong`` (synthetic, seed 2): ``sales_status`` dropped; ``engagement_index`` =
  true log-odds + N(0, 0.5) noise, strong but known before the outcome: leadscore must keep
  it.
* ``demo-drift`` (synthetic, forward): 4,200 leads at 10 % positives then 1,800 at 20 %
  with facebook's effect moved from −0.5 to +0.7; ``created_at`` and ``sales_status``
  dropped, so time is only the file order. The training part is the early period alone
  (no drift inside it to detect): calibration cannot follow the change, and the row shows
  by how much each system misses.

No candidate dataset was dropped: every one loads and has a binary target.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sklearn.metrics import roc_auc_score

from leadscore.modeling.metrics import expected_calibration_error
from suite_data import (
    DATASETS,
    Dataset,
    DatasetUnavailable,
    Split,
    baseline_frames,
    split,
)

#: bump to invalidate every cached baseline result
BASELINE_VERSION = 1
CACHE_DIR = Path.home() / ".cache" / "leadscore" / "bench-suite"
DEFAULT_JSON = Path("bench-suite.json")
NEAR = 0.005  # leadscore counts as "on par" within this AUC of LightGBM
FLAML_BUDGET_S = 60
AUTOGLUON_LIMIT_S = 60
CLI_TIMEOUT_S = 3600
XGBOOST_ESTIMATORS = ("xgboost", "xgb_limitdepth")
#: FLAML 2.x's default classification estimators without the xgboost ones
FLAML_WITHOUT_XGBOOST = ["lgbm", "rf", "extra_tree", "sgd", "catboost", "lrl1"]
#: targets whose labels leadscore does not know by default: (positive, negative) spelled out
#: in a leadscore.toml beside the data, as the README tells a user to do
POSITIVE_LABELS: dict[str, tuple[str, str]] = {
    "FlightDelays": ("delayed", "ontime"),
    "OJ": ("MM", "CH"),
}

Result = dict[str, Any]


# --------------------------------------------------------------------------- leadscore


@dataclass(frozen=True)
class CliRun:
    seconds: float
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error(self, command: str, lines: int = 25) -> str:
        """The end of what the command printed (Typer's error box, a traceback's last lines)."""
        tail = "\n".join(line.rstrip() for line in self.output.strip().splitlines()[-lines:])
        return f"leadscore {command} exited with {self.returncode}:\n{tail}"


def leadscore_executable() -> str:
    beside = Path(sys.executable).with_name("leadscore")
    found = str(beside) if beside.exists() else shutil.which("leadscore")
    if found is None:
        raise SystemExit("the leadscore command is not installed (pip install -e .)")
    return found


def leadscore_cli(*args: str, cwd: Path, store: Path) -> CliRun:
    """Run the installed command in ``cwd`` as a user would; never raises on failure."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADSCORE_")}
    env |= {"COLUMNS": "160", "LEADSCORE_MLFLOW_URI": f"sqlite:///{store}"}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [leadscore_executable(), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        # (the partial output is bytes here even with text=True)
        printed = [
            p.decode(errors="replace") if isinstance(p, bytes) else p or ""
            for p in (exc.stdout, exc.stderr)
        ]
        output = "\n".join([*printed, f"timed out after {CLI_TIMEOUT_S} s"])
        return CliRun(time.perf_counter() - start, -1, output)
    return CliRun(time.perf_counter() - start, done.returncode, f"{done.stdout}\n{done.stderr}")


def _holdout_keys(meta: Result, holdout: pd.DataFrame) -> tuple[pd.DataFrame, str, list[str]]:
    """The holdout file to score, the scores' key column and each holdout row's key.

    Scores come back ranked, keyed by the model's id column (or ``lead`` = row number when it
    has none); an id that repeats in the holdout is replaced by row keys in the scored file
    (an id is never a model input)."""
    id_column = meta.get("id_column") or (meta.get("roles") or {}).get("id")
    rows = [str(i) for i in range(1, len(holdout) + 1)]
    if not id_column or id_column not in holdout.columns:
        return holdout, "lead", rows
    ids = holdout[id_column].astype(str)
    if ids.is_unique:
        return holdout, id_column, ids.tolist()
    keys = [f"row-{r}" for r in rows]
    return holdout.assign(**{id_column: keys}), id_column, keys


def run_leadscore(dataset: Dataset, parts: Split, step: Callable[[str], None]) -> Result:
    """``leadscore train`` on the training part, ``leadscore score`` on the holdout."""
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        work = Path(tmp)
        store = work / "mlflow.db"
        if dataset.name in POSITIVE_LABELS:
            positive, negative = POSITIVE_LABELS[dataset.name]
            (work / "leadscore.toml").write_text(
                f'positive_labels = ["{positive}"]\nnegative_labels = ["{negative}"]\n'
            )
        parts.train.to_csv(work / "train.csv", index=False)
        role_args = ["--target", dataset.target, *(["--id", dataset.id] if dataset.id else [])]
        step("leadscore train")
        trained = leadscore_cli(
            "train", "train.csv", *role_args, "--out", "model", "--quiet", cwd=work, store=store
        )
        if not trained.ok:
            return {
                "status": "error",
                "train_seconds": trained.seconds,
                "error": trained.error("train"),
            }
        meta = json.loads((work / "model" / "metadata.json").read_text())
        holdout, key, row_keys = _holdout_keys(meta, parts.holdout.drop(columns=[dataset.target]))
        holdout.to_csv(work / "holdout.csv", index=False)
        step("leadscore score")
        scored = leadscore_cli(
            "score", "model", "holdout.csv", "--out", "scores.csv", cwd=work, store=store
        )
        if not scored.ok:
            return {
                "status": "error",
                "train_seconds": trained.seconds,
                "error": scored.error("score"),
            }
        scores = pd.read_csv(work / "scores.csv", dtype={key: str})
    p = scores.set_index(key)["score"].reindex(row_keys).to_numpy(dtype=float)
    if np.isnan(p).any():
        return {
            "status": "error",
            "train_seconds": trained.seconds,
            "error": f"{int(np.isnan(p).sum())} holdout rows got no score (key {key!r})",
        }
    roles = meta.get("roles") or {}
    role_columns = {dataset.target, roles.get("target"), roles.get("id"), meta.get("id_column")}
    excluded = meta.get("excluded") or {}
    left_out = {c: str(r) for c, r in excluded.items() if c not in role_columns}
    suspects = [
        {k: s.get(k) for k in ("column", "auc", "kept", "verdict", "reason") if k in s}
        for s in meta.get("leakage_suspects") or []
    ]
    checks = {f"{c} out": c in left_out for c in dataset.expect_left_out}
    checks |= {f"{c} kept": c not in left_out for c in dataset.expect_kept}
    return {
        "status": "ok",
        "auc": float(roc_auc_score(parts.y_holdout, p)),
        "ece": expected_calibration_error(parts.y_holdout, p),
        "train_seconds": trained.seconds,
        "score_seconds": scored.seconds,
        "model": meta.get("model"),
        "cv_auc": (meta.get("cv_metrics") or {}).get("auc"),
        "left_out": left_out,
        "leakage_suspects": suspects,
        "checks": checks,
        "selection": meta.get("selection"),
        "validation": meta.get("validation"),
    }


# --------------------------------------------------------------------------- baselines


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _scored(y: np.ndarray, p: np.ndarray, seconds: float, **extra: Any) -> Result:
    p = np.asarray(p, dtype=float)
    return {
        "status": "ok",
        "auc": float(roc_auc_score(y, p)),
        "ece": expected_calibration_error(y, p),
        "seconds": seconds,
        **extra,
    }


def run_lightgbm(dataset: Dataset, parts: Split) -> Result:
    import lightgbm

    X, X_holdout = baseline_frames(dataset, parts)
    start = time.perf_counter()
    model = lightgbm.LGBMClassifier(verbose=-1).fit(X, parts.y_train)
    seconds = time.perf_counter() - start
    p = model.predict_proba(X_holdout)[:, 1]
    return _scored(parts.y_holdout, p, seconds, version=lightgbm.__version__)


def flaml_xgboost_check() -> tuple[list[str] | None, str]:
    """Fit FLAML's xgboost estimators for a moment on a small frame like the suite's (a
    category with missing values, a number with NaN). ``(None, note)`` when they work —
    FLAML keeps its default estimator list — otherwise the list without them."""
    from flaml import AutoML

    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame(
        {
            "number": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "level": pd.Categorical(rng.choice(["a", "b", "c", None], n)),
        }
    )
    y = (X["number"].fillna(0) + rng.normal(size=n) > 0).astype(int).to_numpy()
    versions = f"FLAML {_version('flaml')}, xgboost {_version('xgboost')}"
    try:
        AutoML().fit(
            X, y, task="classification", metric="roc_auc", time_budget=3, verbose=0, seed=0,
            estimator_list=list(XGBOOST_ESTIMATORS),
        )  # fmt: skip
    except Exception as exc:  # any failure inside FLAML's xgboost wrappers
        automl = AutoML()
        automl.fit(X, y, task="classification", metric="roc_auc", time_budget=3, verbose=0)
        working = [e for e in automl.estimator_list if e not in XGBOOST_ESTIMATORS]
        note = (
            f"{versions}: xgboost estimators fail inside FLAML ({type(exc).__name__}: "
            f"{exc}); estimator_list restricted to {', '.join(working)}"
        )
        return working, note
    return None, f"{versions}: xgboost estimators work inside FLAML; default estimator list"


def run_flaml(dataset: Dataset, parts: Split, estimators: list[str] | None) -> Result:
    from flaml import AutoML

    X, X_holdout = baseline_frames(dataset, parts)

    def fit(estimator_list: list[str] | None) -> tuple[AutoML, float]:
        automl = AutoML()
        options = {"estimator_list": estimator_list} if estimator_list else {}
        start = time.perf_counter()
        automl.fit(
            X, parts.y_train, task="classification", metric="roc_auc",
            time_budget=FLAML_BUDGET_S, verbose=0, seed=0, **options,
        )  # fmt: skip
        return automl, time.perf_counter() - start

    note = None
    try:
        automl, seconds = fit(estimators)
    except Exception as exc:
        if "xgb" not in traceback.format_exc().lower() or estimators:
            raise
        note = (
            f"xgboost failed inside FLAML ({exc}); estimator_list restricted to "
            f"{', '.join(FLAML_WITHOUT_XGBOOST)}"
        )
        automl, seconds = fit(FLAML_WITHOUT_XGBOOST)
    p = automl.predict_proba(X_holdout)[:, 1]
    extra = {"best": automl.best_estimator, "version": _version("flaml")}
    return _scored(parts.y_holdout, p, seconds, **extra, **({"note": note} if note else {}))


def autogluon_available() -> bool:
    try:
        import autogluon.tabular  # noqa: F401
    except ImportError:
        return False
    return True


def run_autogluon(dataset: Dataset, parts: Split) -> Result:
    from autogluon.tabular import TabularPredictor

    drop = [dataset.target, *([dataset.id] if dataset.id else []), *dataset.baseline_drop]
    train = parts.train.drop(columns=drop).assign(**{dataset.target: parts.y_train})
    with tempfile.TemporaryDirectory(prefix="bench-suite-ag-") as tmp:
        start = time.perf_counter()
        predictor = TabularPredictor(
            label=dataset.target, eval_metric="roc_auc", path=tmp, verbosity=0
        ).fit(train, presets="best_quality", time_limit=AUTOGLUON_LIMIT_S)
        seconds = time.perf_counter() - start
        p = predictor.predict_proba(parts.holdout.drop(columns=drop))[1].to_numpy()
    return _scored(parts.y_holdout, p, seconds, version=_version("autogluon.tabular"))


# --------------------------------------------------------------------------- cache


def cache_path(dataset: Dataset) -> Path:
    return CACHE_DIR / f"{dataset.name}--{dataset.split_label}--v{BASELINE_VERSION}.json"


def read_cache(dataset: Dataset, fingerprint: str) -> dict[str, Result]:
    """Cached baseline results for this dataset, split and data (empty when stale)."""
    path = cache_path(dataset)
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return entry.get("results", {}) if entry.get("fingerprint") == fingerprint else {}


def write_cache(dataset: Dataset, fingerprint: str, results: dict[str, Result]) -> None:
    path = cache_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"dataset": dataset.name, "split": dataset.split_label, "fingerprint": fingerprint}
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps({**entry, "results": results}, indent=1))
    tmp.replace(path)


def fresh(result: Result | None, version: str | None) -> bool:
    """A cached result is reused when it succeeded with the installed library version."""
    return bool(result) and result.get("status") == "ok" and result.get("version") == version


# --------------------------------------------------------------------------- one dataset


@dataclass
class Options:
    flaml: bool
    flaml_estimators: list[str] | None
    autogluon: bool
    refresh: bool


def _attempt(run: Callable[[], Result]) -> Result:
    """A system's result, or its error (one failure never stops the suite)."""
    try:
        return run()
    except Exception as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}


def run_dataset(dataset: Dataset, options: Options, step: Callable[[str], None]) -> Result:
    entry: Result = {
        "name": dataset.name,
        "kind": dataset.kind,
        "split": dataset.split,
        "split_label": dataset.split_label,
        "target": dataset.target,
        "positive": str(dataset.positive),
        "id": dataset.id,
        "trap": dataset.trap,
    }
    step("loading")
    try:
        parts = split(dataset, dataset.load())
    except DatasetUnavailable as exc:
        return {**entry, "status": "skipped", "reason": str(exc)}
    fingerprint = parts.fingerprint
    n = len(parts.train) + len(parts.holdout)
    entry |= {
        "status": "ok",
        "rows": n,
        "train_rows": len(parts.train),
        "holdout_rows": len(parts.holdout),
        "columns": len(parts.train.columns),
        "positive_rate": float((parts.y_train.sum() + parts.y_holdout.sum()) / n),
        "positive_rate_train": float(parts.y_train.mean()),
        "positive_rate_holdout": float(parts.y_holdout.mean()),
        "fingerprint": fingerprint,
    }

    stored = read_cache(dataset, fingerprint)
    cached = {} if options.refresh else stored
    merged = dict(stored)  # what the cache keeps: new successes over the stored ones
    baselines: dict[str, Result] = {}
    plan: list[tuple[str, str | None, bool, Callable[[], Result]]] = [
        ("lightgbm", _version("lightgbm"), True, lambda: run_lightgbm(dataset, parts)),
        (
            "flaml",
            f"{_version('flaml')}/{FLAML_BUDGET_S}s",
            options.flaml,
            lambda: run_flaml(dataset, parts, options.flaml_estimators),
        ),
        (
            "autogluon",
            _version("autogluon.tabular"),
            options.autogluon,
            lambda: run_autogluon(dataset, parts),
        ),
    ]
    for name, version, wanted, run in plan:
        if not wanted:
            continue
        if fresh(cached.get(name), version):
            baselines[name] = {**cached[name], "cached": True}
            continue
        step(f"{name} baseline")
        result = {**_attempt(run), "version": version}
        baselines[name] = {**result, "cached": False}
        if result["status"] == "ok":
            merged[name] = result
    write_cache(dataset, fingerprint, merged)
    entry["leadscore"] = _attempt(lambda: run_leadscore(dataset, parts, step))
    return {**entry, **baselines}


# --------------------------------------------------------------------------- report


def _f(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ok(result: Result | None) -> bool:
    return bool(result) and result.get("status") == "ok"


def _rate(entry: Result) -> str:
    if entry["split"] == "forward":
        return f"{entry['positive_rate_train']:.1%}→{entry['positive_rate_holdout']:.1%}"
    return f"{entry['positive_rate']:.1%}"


def _validation(result: Result) -> str:
    """How leadscore validated: forward by a time column, forward in file order, shuffled."""
    text = str(result.get("validation") or "")
    if text.startswith("forward in time"):
        return "time"
    if text.startswith("forward in file order"):
        return "file order"
    return "shuffled" if text.startswith("shuffled") else "—"


def _left_out(result: Result) -> str:
    """The columns leadscore left out (besides target and id), then the trap checks."""
    names = sorted(result.get("left_out") or {})
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    marks = [
        f"[green]✓ {check}[/]" if passed else f"[red]✗ {check}[/]"
        for check, passed in (result.get("checks") or {}).items()
    ]
    return " | ".join([shown or "—", *marks])


def render(console: Console, entries: Sequence[Result], flaml: bool, autogluon: bool) -> None:
    table = Table(title="leadscore defaults vs baselines (holdout)", show_lines=False)
    for header, justify in [
        ("dataset", "left"), ("kind", "left"), ("rows", "right"), ("pos", "right"),
        ("split", "left"), ("LS AUC", "right"), ("LS ECE", "right"), ("LS s", "right"),
        ("LS model", "left"), ("LS valid.", "left"), ("LS left out (trap check)", "left"),
        ("LGBM AUC", "right"), ("LGBM ECE", "right"),
    ]:  # fmt: skip
        table.add_column(header, justify=justify)
    if flaml:
        for header in ("FLAML AUC", "FLAML s"):
            table.add_column(header, justify="right")
    if autogluon:
        table.add_column("AG AUC", justify="right")
    table.add_column("Δ LS−LGBM", justify="right")

    for entry in entries:
        if entry["status"] != "ok":
            table.add_row(
                entry["name"], entry["kind"], "—", "—", entry["split"], "[yellow]skipped[/]"
            )
            continue
        ls, lgbm = entry.get("leadscore") or {}, entry.get("lightgbm") or {}
        if _ok(ls):
            ls_cells = [
                _f(ls["auc"]), _f(ls["ece"], 3), f"{ls['train_seconds']:.0f}",
                str(ls.get("model")), _validation(ls), _left_out(ls),
            ]  # fmt: skip
        else:
            ls_cells = ["[red]error[/]", "", f"{ls.get('train_seconds', 0):.0f}", "", "", ""]
        lgbm_cells = [_f(lgbm["auc"]), _f(lgbm["ece"], 3)] if _ok(lgbm) else ["[red]error[/]", ""]
        row = [
            entry["name"], entry["kind"], f"{entry['rows']:,}", _rate(entry), entry["split"],
            *ls_cells, *lgbm_cells,
        ]  # fmt: skip
        if flaml:
            fl = entry.get("flaml") or {}
            row += [_f(fl["auc"]), f"{fl['seconds']:.0f}"] if _ok(fl) else ["[red]error[/]", ""]
        if autogluon:
            ag = entry.get("autogluon") or {}
            row.append(_f(ag["auc"]) if _ok(ag) else "[red]error[/]")
        if _ok(ls) and _ok(lgbm):
            diff = ls["auc"] - lgbm["auc"]
            style = "red" if diff < -NEAR else "green" if diff > NEAR else ""
            row.append(f"[{style}]{diff:+.4f}[/]" if style else f"{diff:+.4f}")
        else:
            row.append("—")
        table.add_row(*row)
    console.print(table)


def summary(entries: Sequence[Result]) -> dict[str, Any]:
    both = [e for e in entries if _ok(e.get("leadscore")) and _ok(e.get("lightgbm"))]
    diffs = [e["leadscore"]["auc"] - e["lightgbm"]["auc"] for e in both]
    out: dict[str, Any] = {
        "datasets_compared": len(both),
        "mean_auc": {
            "leadscore": float(np.mean([e["leadscore"]["auc"] for e in both])) if both else None,
            "lightgbm": float(np.mean([e["lightgbm"]["auc"] for e in both])) if both else None,
        },
        "mean_ece": {
            "leadscore": float(np.mean([e["leadscore"]["ece"] for e in both])) if both else None,
            "lightgbm": float(np.mean([e["lightgbm"]["ece"] for e in both])) if both else None,
        },
        "within_near_or_better": int(sum(d >= -NEAR for d in diffs)),
        "near": NEAR,
        "leadscore_errors": [
            e["name"] for e in entries if e["status"] == "ok" and not _ok(e.get("leadscore"))
        ],
        "trap_checks_failed": [
            f"{e['name']}: {check}"
            for e in entries
            for check, passed in ((e.get("leadscore") or {}).get("checks") or {}).items()
            if not passed
        ],
    }
    for system in ("flaml", "autogluon"):
        done = [e for e in both if _ok(e.get(system))]
        if done:
            out["mean_auc"][system] = float(np.mean([e[system]["auc"] for e in done]))
            out["mean_auc"][f"leadscore_on_{system}_datasets"] = float(
                np.mean([e["leadscore"]["auc"] for e in done])
            )
            out[f"{system}_datasets"] = len(done)
    return out


def print_summary(console: Console, stats: dict[str, Any], seconds: float) -> None:
    n = stats["datasets_compared"]
    means = stats["mean_auc"]
    if n:
        line = (
            f"Mean holdout AUC over {n} datasets: leadscore {means['leadscore']:.4f}, "
            f"LightGBM defaults {means['lightgbm']:.4f}"
        )
        for system, label in (("flaml", "FLAML"), ("autogluon", "AutoGluon")):
            if system in means:
                line += (
                    f"; {label} {means[system]:.4f} on its {stats[f'{system}_datasets']} "
                    f"(leadscore there {means[f'leadscore_on_{system}_datasets']:.4f})"
                )
        console.print(line)
        console.print(
            f"leadscore within {NEAR} of LightGBM or better on "
            f"{stats['within_near_or_better']} of {n} datasets; mean ECE leadscore "
            f"{stats['mean_ece']['leadscore']:.3f}, LightGBM {stats['mean_ece']['lightgbm']:.3f}"
        )
    if stats["trap_checks_failed"]:
        console.print(f"[red]Trap checks failed: {'; '.join(stats['trap_checks_failed'])}[/]")
    console.print(f"Total run time {seconds / 60:.1f} min")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/suite.py",
        description="leadscore defaults vs LightGBM defaults (and FLAML, AutoGluon) on "
        "public datasets; see the module docstring.",
    )
    parser.add_argument("--only", help="comma-separated datasets to run (see --list)")
    parser.add_argument("--skip", help="comma-separated datasets to leave out")
    parser.add_argument(
        "--flaml", action="store_true", help=f"also FLAML ({FLAML_BUDGET_S} s each)"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="write the results here")
    parser.add_argument(
        "--refresh-baselines", action="store_true", help="re-run the cached baselines"
    )
    parser.add_argument("--list", action="store_true", help="list the datasets and exit")
    return parser.parse_args(argv)


def _names(value: str | None) -> list[str]:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    known = {d.name.lower(): d.name for d in DATASETS}
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        raise SystemExit(f"unknown dataset(s) {unknown}; known: {', '.join(known.values())}")
    return [known[n.lower()] for n in names]


def selected(args: argparse.Namespace) -> list[Dataset]:
    only, skip = set(_names(args.only)), set(_names(args.skip))
    return [d for d in DATASETS if (not only or d.name in only) and d.name not in skip]


def list_datasets(console: Console) -> None:
    table = Table(title="bench/suite.py datasets")
    for header in ("dataset", "kind", "split", "target", "id", "trap"):
        table.add_column(header, overflow="fold")
    for d in DATASETS:
        table.add_row(d.name, d.kind, d.split_label, d.target, d.id or "—", d.trap)
    console.print(table)


@contextlib.contextmanager
def progress_bar(console: Console, total: int) -> Iterator[tuple[Progress, Any]]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        yield progress, progress.add_task("datasets", total=total)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    probe = Console()
    console = probe if probe.is_terminal else Console(width=max(probe.width, 200))
    if args.list:
        list_datasets(console)
        return 0
    datasets = selected(args)
    if not datasets:
        raise SystemExit("no dataset selected")
    start = time.perf_counter()

    flaml, estimators, flaml_note = args.flaml, None, None
    if flaml:
        try:
            with console.status("FLAML: checking its xgboost estimators"):
                estimators, flaml_note = flaml_xgboost_check()
        except ImportError as exc:
            flaml, flaml_note = False, f"FLAML not importable ({exc}): skipped"
        console.print(flaml_note)
    autogluon = autogluon_available()
    autogluon_note = (
        "AutoGluon: autogluon.tabular imports; running it"
        if autogluon
        else "AutoGluon: not installed (autogluon.tabular does not import); skipped"
    )
    console.print(autogluon_note)
    options = Options(flaml, estimators, autogluon, args.refresh_baselines)

    entries: list[Result] = []
    with progress_bar(console, len(datasets)) as (progress, task):
        for dataset in datasets:

            def step(what: str, name: str = dataset.name) -> None:
                progress.update(task, description=f"{name}: {what}")

            entry = run_dataset(dataset, options, step)
            entries.append(entry)
            progress.console.print(_one_line(entry))
            progress.advance(task)
        progress.update(task, description="done")

    seconds = time.perf_counter() - start
    render(console, entries, flaml, autogluon)
    stats = summary(entries)
    print_summary(console, stats, seconds)
    for entry in entries:
        for system in ("leadscore", "lightgbm", "flaml", "autogluon"):
            result = entry.get(system) or {}
            if result.get("status") == "error":
                console.print(f"[red]{entry['name']} — {system} failed:[/]\n{result['error']}")
            if result.get("note"):
                console.print(f"{entry['name']} — {system}: {result['note']}")
        if entry["status"] == "skipped":
            console.print(f"[yellow]{entry['name']} skipped:[/] {entry['reason']}")

    report = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "total_seconds": seconds,
        "argv": list(sys.argv[1:] if argv is None else argv),
        "versions": {
            "python": platform.python_version(),
            **{p: _version(p) for p in ("leadscore", "lightgbm", "flaml", "xgboost", "pandas")},
        },
        "baseline_version": BASELINE_VERSION,
        "notes": [n for n in (flaml_note, autogluon_note) if n],
        "summary": stats,
        "datasets": entries,
    }
    args.json.write_text(json.dumps(report, indent=1, default=str))
    console.print(f"Results: {args.json}")
    return 0


def _one_line(entry: Result) -> str:
    if entry["status"] != "ok":
        return f"[yellow]{entry['name']}: skipped[/] ({entry.get('reason')})"
    ls, lgbm = entry.get("leadscore") or {}, entry.get("lightgbm") or {}
    text = f"{entry['name']}: leadscore "
    text += (
        f"AUC {ls['auc']:.4f} ({ls['model']}, {ls['train_seconds']:.0f} s)"
        if _ok(ls)
        else "[red]error[/]"
    )
    text += f", LightGBM {_f(lgbm.get('auc'))}" + (" (cached)" if lgbm.get("cached") else "")
    if _ok(entry.get("flaml")):
        text += f", FLAML {entry['flaml']['auc']:.4f}" + (
            " (cached)" if entry["flaml"]["cached"] else ""
        )
    return text


if __name__ == "__main__":
    sys.exit(main())
