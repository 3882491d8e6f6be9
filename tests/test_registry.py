"""MLflow tracking, the model registry and sliding-window retraining, on a real store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.config import Settings
from leadscore.demo import generate_leads
from leadscore.errors import LeadscoreError
from leadscore.lifecycle.compare import compare
from leadscore.lifecycle.registry import CHALLENGER, CHAMPION, Registry, load_lead_model
from leadscore.lifecycle.retrain import parse_span, retrain
from leadscore.lifecycle.train import train

MODELS = ["logreg_l2", "lightgbm"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", tracking=True, cv_folds=3)


def _leads(rows: int, seed: int, start: str = "2026-01-05", days: int = 120) -> pd.DataFrame:
    return generate_leads(rows, seed=seed, start=start, days=days).table.drop(
        columns=["sales_status"]
    )


def _drifted(rows: int, seed: int, start: str, days: int) -> pd.DataFrame:
    """Recent leads whose conversions follow a new pattern: the newsletter now matters and
    what used to matter (time on site, same-day return) no longer does."""
    table = _leads(rows, seed, start, days)
    rng = np.random.default_rng(seed)
    logit = -2.6 + 2.6 * (table["newsletter"] == "yes") + 1.2 * (table["device"] == "mobile")
    table["converted"] = np.where(rng.random(len(table)) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return table


def test_training_is_tracked_and_registered(settings: Settings, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    table = _leads(1200, seed=4)
    first = train(table, settings=settings, models=MODELS, out=tmp_path / "m1", show_progress=False)
    second = train(table, settings=settings, models=["logreg_l1"], show_progress=False)
    registry = Registry(settings)
    assert first.registered_version_ == 1 and second.registered_version_ == 2
    assert registry.resolve(CHAMPION) == 1  # the first model serves until something beats it
    assert registry.resolve(CHALLENGER) == 2

    client = MlflowClient(settings.mlflow_uri)
    run = client.get_run(first.mlflow_run_id_)
    assert run.data.params["data_fingerprint"] == first.metadata_["data_fingerprint"]
    assert float(run.data.params["business.cost_per_contact"]) == 15.0
    assert "sales_status" not in run.data.params["features"]
    assert run.data.metrics["cv_auc"] == pytest.approx(first.cv_metrics_["auc"])
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    assert sorted(c.data.params["model"] for c in children) == sorted(MODELS)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"leaderboard.csv", "audit.json", "model_dir", "report"} <= artifacts
    report_files = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "report")}
    assert {"report.html", "roc.png", "calibration.png", "profit_threshold.png"} <= report_files
    model_files = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "model_dir")}
    assert {"model.joblib", "metadata.json", "evaluation.parquet", "importance.csv"} <= model_files

    listed = registry.versions()
    assert [v.version for v in listed] == [2, 1]
    assert listed[1].aliases == [CHAMPION] and listed[0].aliases == [CHALLENGER]
    assert listed[1].model == first.metadata_["model"]
    assert "MLFLOW_TRACKING_URI" not in os.environ  # the store leaves no trace on the process


def test_promote_rollback_and_loading_by_reference(settings: Settings, tmp_path: Path) -> None:
    table = _leads(1000, seed=5)
    for models in (["logreg_l2"], ["lightgbm"], ["logreg_l1"]):
        train(table, settings=settings, models=models, show_progress=False)
    registry = Registry(settings)
    registry.promote(3)
    assert registry.resolve(CHAMPION) == 3
    registry.promote(2)
    assert registry.load_model(CHAMPION).metadata_["model"] == "lightgbm"
    assert registry.rollback() == 3
    assert registry.rollback() == 1
    with pytest.raises(LeadscoreError, match="no earlier champion"):
        registry.rollback()
    assert load_lead_model("models:/leadscore@champion", settings).metadata_["model"] == "logreg_l2"
    assert load_lead_model("2", settings).metadata_["model"] == "lightgbm"
    with pytest.raises(LeadscoreError, match="no version 9"):
        registry.promote(9)
    with pytest.raises(LeadscoreError, match="model directory not found"):
        load_lead_model(tmp_path / "nowhere", settings)


def test_comparison_runs_have_nested_candidates(settings: Settings) -> None:
    from mlflow import MlflowClient

    board = compare(_leads(800, seed=6), settings=settings, models=MODELS, show_progress=False)
    client = MlflowClient(settings.mlflow_uri)
    run = client.get_run(board.run_id)
    assert run.data.tags["leadscore.job"] == "compare"
    assert run.data.params["best"] == board.best
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{board.run_id}'"
    )
    assert {c.data.params["model"] for c in children} == set(MODELS)
    assert all("auc" in c.data.metrics for c in children)


def test_champion_scores_in_a_fresh_python_process(settings: Settings, tmp_path: Path) -> None:
    table = _leads(1000, seed=7)
    model = train(table, settings=settings, models=["lightgbm"], show_progress=False)
    new = _leads(20, seed=8).drop(columns=["converted"])
    new.to_csv(tmp_path / "new.csv", index=False)
    script = textwrap.dedent(
        f"""
        import mlflow, pandas as pd
        mlflow.set_tracking_uri({settings.mlflow_uri!r})
        pyfunc = mlflow.pyfunc.load_model("models:/leadscore@champion")
        scores = pyfunc.predict(pd.read_csv({str(tmp_path / "new.csv")!r}))
        print(scores[["lead_id", "score"]].to_json(orient="columns"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    scores = pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))
    expected = model.score_leads(new)
    assert scores["lead_id"].tolist() == expected["lead_id"].tolist()
    np.testing.assert_allclose(scores["score"], expected["score"], rtol=1e-7)  # JSON: 10 digits


def test_retraining_promotes_a_challenger_that_learned_the_drift(settings: Settings) -> None:
    old = _leads(2500, seed=9, start="2026-01-05", days=100)
    train(old, settings=settings, models=MODELS, time="created_at", show_progress=False)
    recent = _drifted(2000, seed=10, start="2026-04-20", days=60)
    everything = pd.concat([old, recent], ignore_index=True)
    decision = retrain(
        everything, settings=settings, window="45d", holdout="15d", time="created_at"
    )
    assert decision.promoted, decision.reason
    assert decision.challenger["profit"] > decision.champion["profit"]
    registry = Registry(settings)
    assert decision.challenger_version == 2  # judged; its refit on window + holdout serves
    assert registry.resolve(CHAMPION) == decision.served_version == 3
    assert decision.change_report and decision.change_report["source"] == "judging leads"
    run = registry.client.get_run(decision.run_id)
    assert run.data.tags["leadscore.verdict"] == "promoted"
    assert run.data.metrics["challenger_profit"] == pytest.approx(decision.challenger["profit"])
    assert run.data.metrics["champion_profit"] == pytest.approx(decision.champion["profit"])


def test_without_drift_a_tiny_window_keeps_the_champion(settings: Settings) -> None:
    history = _leads(4000, seed=11, start="2026-01-05", days=150)
    seen = history[history["created_at"] < "2026-05-05"]  # the champion has not seen the holdout
    train(seen, settings=settings, models=MODELS, time="created_at", show_progress=False)
    decision = retrain(history, settings=settings, window="6d", holdout="30d", time="created_at")
    assert not decision.promoted, decision.reason
    assert "champion kept" in decision.reason
    registry = Registry(settings)
    assert registry.resolve(CHAMPION) == 1
    assert registry.resolve(CHALLENGER) == decision.challenger_version == 2
    assert registry.client.get_run(decision.run_id).data.tags["leadscore.verdict"] == (
        "kept champion"
    )


def test_retraining_refuses_data_without_time(settings: Settings) -> None:
    with pytest.raises(LeadscoreError, match="--time"):
        retrain(_leads(500, seed=12), settings=settings)
    with pytest.raises(LeadscoreError, match="time span"):
        parse_span("ninety days")


def test_killed_retraining_leaves_the_champion_serving(settings: Settings, tmp_path: Path) -> None:
    history = _leads(3000, seed=13, start="2026-01-05", days=120)
    history.to_csv(tmp_path / "leads.csv", index=False)
    train(history, settings=settings, models=["logreg_l2"], time="created_at", show_progress=False)
    env = {
        **os.environ,
        "LEADSCORE_MLFLOW_URI": settings.mlflow_uri or "",
        "LEADSCORE_TRACKING": "true",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("leadscore")), "retrain", str(tmp_path / "leads.csv"),
         "--time", "created_at", "--window", "60d", "--quiet"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(6)  # well into training the whole zoo, before any decision
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    registry = Registry(settings)
    assert registry.resolve(CHAMPION) == 1
    model = registry.load_model(CHAMPION)
    assert model.metadata_["model"] == "logreg_l2"
    assert len(model.score_leads(history.head(5).drop(columns=["converted"]))) == 5
    assert all(v.version >= 1 for v in registry.versions())  # the registry still reads
