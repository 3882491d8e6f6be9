"""The compiled scorer saved with a model (leadscore.scoring.bundle) and loading a model to
serve (leadscore.lifecycle.loader): read as saved, or compiled where it cannot be."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from leadscore import LeadModel
from leadscore.config import Settings
from leadscore.demo import DemoLeads, generate_leads
from leadscore.errors import ArtifactError
from leadscore.lifecycle import loader
from leadscore.lifecycle.artifacts import save_model
from leadscore.lifecycle.loader import load_for_serving
from leadscore.live import ModelSlot, ServingModel
from leadscore.modeling.model import EstimatorsLeftOut
from leadscore.scoring import bundle
from leadscore.scoring.bundle import SCORER_FILE
from leadscore.scoring.realtime.scorer import FastScorer

NOT_FEATURES = ["lead_id", "converted", "sales_status"]
Rows = list[dict[str, object]]


def fit(demo: DemoLeads, family: str) -> LeadModel:
    table = demo.table
    return LeadModel(family, cv=3).fit(
        table.drop(columns=NOT_FEATURES), table["converted"], id_column="lead_id"
    )


@pytest.fixture(scope="module")
def saved(demo_leads: DemoLeads, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(fit(demo_leads, "lightgbm"), tmp_path_factory.mktemp("loader") / "model")


@pytest.fixture(scope="module")
def rows() -> Rows:
    return generate_leads(25, seed=21, labelled=False).table.to_dict("records")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(tracking=False, mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(saved, folder)
    return folder


def no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make compiling a scorer (what a saved one spares) fail the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled a scorer instead of reading the saved one")

    monkeypatch.setattr(loader, "FastScorer", refuse)


def test_a_saved_model_serves_its_saved_scorer(
    saved: Path, settings: Settings, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = json.loads((saved / "metadata.json").read_text())
    assert meta["scorer"]["file"] == SCORER_FILE and (saved / SCORER_FILE).is_file()
    model = LeadModel.load(saved)
    compiled = FastScorer(model)
    no_compiling(monkeypatch)
    loaded = load_for_serving(str(saved), settings)
    assert loaded.precompiled
    assert isinstance(loaded.model.pipeline_, EstimatorsLeftOut)  # the boosters stay on disk
    assert loaded.model.schema_.names == model.schema_.names
    assert loaded.scorer.score_many(rows, 3) == compiled.score_many(rows, 3)
    assert loaded.scorer.score(rows[0], 3) == compiled.score(rows[0], 3)
    assert loaded.scorer.score_many(rows * 3) == compiled.score_many(rows * 3)  # a batch
    # the arrays are read in place, and writable (the kernels' compiled signatures)
    assert all(a.flags.writeable for a in loaded.scorer.forest.blocks if hasattr(a, "flags"))


#: families whose scorer is saved with the model (it does not call the model's estimators)
SAVED = {"logreg_l2", "naive_bayes", "extra_trees", "hist_gb"}


@pytest.mark.parametrize(
    "family", ["logreg_l2", "xgboost", "naive_bayes", "extra_trees", "hist_gb"]
)
def test_each_family_serves_the_same_scores_saved_or_compiled(
    demo_leads: DemoLeads, family: str, tmp_path: Path, settings: Settings, rows: Rows
) -> None:
    """Linear models (logistic regression, naive Bayes: per-field lookups) and compiled
    tree models save their scorer too; families whose scorer calls the model's estimators
    (XGBoost, the batch path) save none and are compiled at load."""
    model = fit(demo_leads, family)
    folder = save_model(model, tmp_path / family)
    loaded = load_for_serving(str(folder), settings)
    assert loaded.precompiled is (family in SAVED)
    assert (folder / SCORER_FILE).is_file() is loaded.precompiled
    assert loaded.scorer.score_many(rows, 3) == FastScorer(model).score_many(rows, 3)


def test_a_scorer_saved_by_other_code_is_compiled_again(
    copy: Path, settings: Settings, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "code_fingerprint", lambda: "another version")
    loaded = load_for_serving(str(copy), settings)
    assert not loaded.precompiled and loaded.scorer.forest is not None
    assert not isinstance(loaded.model.pipeline_, EstimatorsLeftOut)


def test_a_changed_scorer_file_is_refused_by_name(copy: Path, settings: Settings) -> None:
    data = bytearray((copy / SCORER_FILE).read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the trees' arrays
    (copy / SCORER_FILE).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"{SCORER_FILE} does not match the checksum"):
        load_for_serving(str(copy), settings)
    (copy / SCORER_FILE).write_bytes(b"")
    with pytest.raises(ArtifactError, match="cannot read the compiled scorer"):
        load_for_serving(str(copy), settings)


def test_saving_again_replaces_the_scorer_and_a_family_without_one_removes_it(
    demo_leads: DemoLeads, copy: Path, settings: Settings
) -> None:
    before = json.loads((copy / "metadata.json").read_text())["scorer"]["sha256"]
    model = LeadModel.load(copy)
    model.metadata_["trained_at"] = "2026-12-04T00:00:00+00:00"
    save_model(model, copy)
    after = json.loads((copy / "metadata.json").read_text())["scorer"]["sha256"]
    assert after != before and not list(copy.glob(".*partial"))
    save_model(fit(demo_leads, "xgboost"), copy)  # another family into the same folder
    assert "scorer" not in json.loads((copy / "metadata.json").read_text())
    assert not (copy / SCORER_FILE).exists()
    assert not load_for_serving(str(copy), settings).precompiled


def test_a_model_loaded_to_serve_cannot_be_saved_or_predict(
    saved: Path, settings: Settings, tmp_path: Path
) -> None:
    light = load_for_serving(str(saved), settings).model
    with pytest.raises(Exception, match="without its fitted estimators"):
        light.save(tmp_path / "again")
    assert not (tmp_path / "again").exists()
    frame = generate_leads(3, seed=2, labelled=False).table
    with pytest.raises(Exception, match="load the model folder"):
        light.score_leads(frame)


def test_the_champion_serves_its_saved_scorer(
    tmp_path: Path, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.lifecycle.train import train

    settings = Settings(mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", tracking=True, cv_folds=3)
    table = generate_leads(800, seed=4).table.drop(columns=["sales_status"])
    model = train(table, settings=settings, models=["lightgbm"], show_progress=False)
    no_compiling(monkeypatch)
    loaded = load_for_serving("champion", settings)
    assert loaded.precompiled and loaded.version == str(model.registered_version_)
    expected = model.score_leads(generate_leads(25, seed=21, labelled=False).table)["score"]
    assert [r.score for r in loaded.scorer.score_many(rows)] == pytest.approx(
        expected.tolist(), abs=1e-6
    )


def test_a_slot_prepares_each_model_before_swapping_it_in(
    copy: Path, settings: Settings, rows: Rows
) -> None:
    slot = ModelSlot.load(str(copy), settings)
    first = slot.current
    seen: list[tuple[str, str]] = []

    def prepare(model: ServingModel) -> None:
        seen.append((model.version, slot.current.version))

    slot.preparers.append(prepare)
    model = LeadModel.load(copy)
    model.metadata_["trained_at"] = "2026-12-01T00:00:00+00:00"
    save_model(model, copy)
    second = slot.reload()
    assert second.version != first.version and slot.current is second
    assert seen == [(second.version, first.version)]  # prepared while the first served
    assert second.scorer.score_many(rows, 3) == first.scorer.score_many(rows, 3)
