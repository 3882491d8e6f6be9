"""Values saved on the dashboard's Settings page are what ``leadscore config show``,
``train``, ``retrain`` and ``serve`` use, unless a command-line flag overrides them — on
SQLite and PostgreSQL (issue 18's bug: the CLI and the API used to ignore them)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from leadscore.cli import app
from leadscore.config import Business, Segments, Settings
from leadscore.errors import LeadscoreError
from leadscore.store import Store
from leadscore.ui.config import BUSINESS_KEY, SEGMENTS_KEY

FASTEST = ["--models", "logreg_l2", "--cv", "3", "--quiet"]

#: what an admin saved on the Settings page (neither the defaults nor anything configured)
SAVED_BUSINESS = Business(value_per_conversion=300, cost_per_contact=40, missed_conversion_cost=90)
SAVED_SEGMENTS = Segments(hot_share=0.2, hot_cutoff=0.45, warm_cutoff=0.12)

runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def run(*args: object) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def saved(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store at ``db_url`` (SQLite or PostgreSQL) where an admin saved business values
    and segments the way the dashboard's Settings page does; no leadscore.toml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    with Store(db_url) as store:  # the Settings page's own calls (ui/views/settings.py)
        store.settings.set(BUSINESS_KEY, SAVED_BUSINESS.model_dump(), by="maria")
        store.settings.set(SEGMENTS_KEY, SAVED_SEGMENTS.model_dump(), by="maria")
    return db_url


@pytest.fixture
def leads(demo_leads: Any, tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    demo_leads.table.head(600).to_csv(path, index=False)
    return path


def _metadata(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "metadata.json").read_text())


def test_config_show_reports_the_saved_values(saved: str) -> None:
    shown = json.loads(run("config", "show", "--database", saved, "--json").stdout)
    settings = shown["settings"]
    for name, value in SAVED_BUSINESS.model_dump().items():
        assert settings[f"business.{name}"] == {"value": value, "source": "dashboard"}
    for name, value in SAVED_SEGMENTS.model_dump().items():
        assert settings[f"segments.{name}"] == {"value": value, "source": "dashboard"}
    assert shown["notes"] == []


def test_train_uses_the_saved_values_and_a_flag_beats_them(saved: str, leads: Path) -> None:
    run("train", leads, *FASTEST, "--database", saved, "--out", "M")
    meta = _metadata(Path("M"))
    assert meta["business"] == SAVED_BUSINESS.model_dump()
    assert meta["segments"] == SAVED_SEGMENTS.model_dump()
    assert meta["cutoffs"]["hot"] == pytest.approx(0.45)
    assert meta["cutoffs"]["warm"] == pytest.approx(0.12)

    run("train", leads, *FASTEST, "--database", saved, "--cost-per-contact", 7, "--out", "F")
    flagged = _metadata(Path("F"))["business"]
    assert flagged["cost_per_contact"] == 7.0
    assert flagged["value_per_conversion"] == 300.0  # the rest still from the dashboard


def test_retrain_uses_the_saved_values(
    saved: str, leads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadscore.lifecycle.retrain as retraining

    seen: list[Any] = []

    def fake_retrain(data: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["settings"])
        raise LeadscoreError("stop here: the settings are what this test checks")

    monkeypatch.setattr(retraining, "retrain", fake_retrain)
    result = runner.invoke(app, ["retrain", str(leads), "--database", saved, "--time", "x"])
    assert result.exit_code == 2 and "stop here" in result.output
    (settings,) = seen
    assert settings.business == SAVED_BUSINESS and settings.segments == SAVED_SEGMENTS


def test_the_service_uses_the_saved_values(
    saved: str, leads: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``leadscore serve`` resolves the settings, hands the flags to its workers in the
    environment, and each worker builds ``leadscore.service.server:app``: both see the
    values saved from the dashboard."""
    import uvicorn

    from leadscore.lifecycle.train import train

    model = tmp_path / "served"
    quick = Settings(tracking=False, cv_folds=3)
    train(leads, settings=quick, models=["logreg_l2"], out=model, show_progress=False)
    for name in ("LEADSCORE_SERVICE__MODEL", "LEADSCORE_CONFIG", "LEADSCORE_DATABASE_URL"):
        # serve sets these for its workers: setenv first, so that the test's end restores
        # them even where they were unset (delenv alone records nothing for an unset name,
        # and the saved store's URL leaked into later tests' settings)
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    workers: list[Any] = []

    def fake_run(target: str, **options: Any) -> None:
        module_name, _, attribute = target.partition(":")
        sys.modules.pop(module_name, None)  # a worker imports it afresh
        workers.append(getattr(importlib.import_module(module_name), attribute))

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = run("serve", model, "--database", saved, "--port", 8123)
    assert "serving model version" in result.output
    (worker_app,) = workers
    settings = worker_app.state.settings
    assert settings.business == SAVED_BUSINESS and settings.segments == SAVED_SEGMENTS
    assert settings.service.model == str(model)
    assert settings.database_url == saved


def test_the_settings_page_shows_the_cutoffs_the_served_model_uses(
    leads: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With "the best-scored share" the fixed-score inputs used to show 50 and 10, numbers
    the served model never used; now they, and a line above them, show its own cutoffs."""
    from streamlit.testing.v1 import AppTest

    import leadscore.ui
    from leadscore.lifecycle.train import train

    model = tmp_path / "served"
    quick = Settings(tracking=False, cv_folds=3)
    train(leads, settings=quick, models=["logreg_l2"], out=model, show_progress=False)
    cutoffs = _metadata(model)["cutoffs"]
    hot, warm = round(cutoffs["hot"] * 100), round(cutoffs["warm"] * 100)
    assert (hot, warm) != (50, 10)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for name, value in {
        "LEADSCORE_DATABASE_URL": url, "LEADSCORE_SERVICE__MODEL": str(model),
        "LEADSCORE_UI_DIR": str(tmp_path / "dashboard"), "LEADSCORE_TRACKING": "false",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LEADSCORE_CONFIG", raising=False)
    with Store(url) as store:
        store.users.add("maria", "a-long-password", "admin")

    at = AppTest.from_file(str(Path(leadscore.ui.__file__).parent / "app.py"), default_timeout=60)
    at.run()
    at.text_input(key="login_name").input("maria")
    at.text_input(key="login_password").input("a-long-password")
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    at.switch_page("views/settings.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {n.label: n.value for n in at.number_input}
    assert shown["Hot from score"] == hot
    assert shown["Warm from score (empty: the contact threshold)"] == warm
    (info,) = [i.value for i in at.info if "served model" in i.value]
    assert f"hot from score {hot}, warm from score {warm}" in info
