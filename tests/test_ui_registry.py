"""The dashboard on the MLflow registry (tracking on, as after ``make demo``): it serves the
champion, lists the versions, draws a version's charts from its downloaded folder, and
serving another version promotes it (so the API serves it too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import leadscore.ui
from leadscore.config import Settings
from leadscore.demo import generate_leads
from leadscore.lifecycle.registry import Registry
from leadscore.lifecycle.train import train
from leadscore.store import Store
from leadscore.ui import model_catalogue, workspace

APP = Path(leadscore.ui.__file__).resolve().parent / "app.py"

pytestmark = pytest.mark.slow


@pytest.fixture
def registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for name, value in {
        "LEADSCORE_DATABASE_URL": url,
        "LEADSCORE_UI_DIR": str(tmp_path / "dashboard"),
        "LEADSCORE_TRACKING": "true",
        "LEADSCORE_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "LEADSCORE_CV_FOLDS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LEADSCORE_SERVICE__MODEL", raising=False)
    monkeypatch.delenv("LEADSCORE_CONFIG", raising=False)
    settings = Settings()
    table = generate_leads(600, seed=3).table
    for family in ("logreg_l2", "naive_bayes"):  # version 1: champion, 2: challenger
        train(table, settings=settings, models=[family], show_progress=False,
              target="converted", id="lead_id")  # fmt: skip
    with Store(url) as store:
        store.users.add("admin", "admin-password", "admin")
    yield settings


def test_versions_are_listed_charted_and_served_by_promotion(registry_env: Settings) -> None:
    registry = Registry(registry_env)
    assert registry.resolve("champion") == 1
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="login_name").input("admin")
    at.text_input(key="login_password").input("admin-password")
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    at.switch_page("views/models.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    options = next(b for b in at.selectbox if b.label == "Model").options
    assert options[0].startswith("version 2 · Naive Bayes [challenger]")
    assert options[1] == "version 1 · Logistic regression (L2) [champion]  ← served"
    titles = [json.loads(c.proto.spec)["title"]["text"] for c in at.get("vega_lite_chart")]
    assert "ROC curve" in titles  # drawn from the champion's downloaded model folder

    place = workspace.Workspace(Path.cwd() / "dashboard")
    challenger = next(
        e for e in model_catalogue.catalogue(registry_env, place) if e.reference == "2"
    )
    next(b for b in at.selectbox if b.label == "Model").set_value(challenger)
    at.run()
    assert (place.registry_dir / "2" / "evaluation.parquet").is_file()
    at.button(key="serve").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert registry.resolve("champion") == 2  # promoted: the API serves it after a reload
    assert any("Served now: **Naive Bayes (version 2)**" in c.value for c in at.caption)
