"""Model folders are signed with a key kept outside them (leadscore.modeling.signing):
a folder whose metadata is unsigned, re-written or signed under another key is refused
before anything in it is unpickled (issue 19, row 10)."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import joblib
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.config import Settings
from leadscore.demo import generate_leads
from leadscore.errors import ArtifactError
from leadscore.lifecycle.artifacts import save_model
from leadscore.lifecycle.loader import load_for_serving
from leadscore.modeling.model import LeadModel
from leadscore.modeling.signing import KEY_ENV, KEY_FILE_ENV, VERIFY_ENV, key_id, signing_keys

OTHER_KEY = "another-machine-" + "k" * 40


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = generate_leads(400, seed=3).table
    X = table.drop(columns=["lead_id", "converted", "sales_status"])
    model = LeadModel("logreg_l2", cv=3).fit(X, table["converted"])
    return save_model(model, tmp_path_factory.mktemp("signed") / "model")


@pytest.fixture
def folder(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def _meta(folder: Path) -> dict:
    return json.loads((folder / "metadata.json").read_text())


def _write(folder: Path, meta: dict) -> None:
    (folder / "metadata.json").write_text(json.dumps(meta))


def test_a_saved_folder_is_signed_and_loads(folder: Path) -> None:
    signature = _meta(folder)["signature"]
    assert signature["algorithm"] == "hmac-sha256"
    assert signature["key_id"] == key_id(signing_keys()[0])
    assert isinstance(LeadModel.load(folder), LeadModel)


def test_a_forged_checksum_does_not_get_a_foreign_pickle_loaded(folder: Path) -> None:
    # whoever can write the folder can write a matching checksum, not the signature
    joblib.dump({"not": "a model"}, folder / "model.joblib")
    meta = _meta(folder)
    meta["sha256"] = hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest()
    _write(folder, meta)
    with pytest.raises(ArtifactError, match="metadata was changed after signing"):
        LeadModel.load(folder)


def test_unsigned_folders_are_refused_unless_the_operator_opts_out(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = _meta(folder)
    del meta["signature"]
    _write(folder, meta)
    with pytest.raises(ArtifactError, match=r"not a signed leadscore model.*models sign"):
        LeadModel.load(folder)
    monkeypatch.setenv(VERIFY_ENV, "false")
    assert isinstance(LeadModel.load(folder), LeadModel)


def test_a_folder_signed_under_another_key_is_refused_by_name(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = signing_keys()[0].decode()  # the key the folder was signed with
    monkeypatch.setenv(KEY_ENV, OTHER_KEY)
    with pytest.raises(ArtifactError, match="signed with another key"):
        LeadModel.load(folder)
    # rotation: the new key first signs, the old one still verifies
    monkeypatch.setenv(KEY_ENV, f"{OTHER_KEY},{old}")
    assert isinstance(LeadModel.load(folder), LeadModel)


def test_serving_refuses_an_unsigned_folder_before_reading_its_scorer(
    folder: Path, tmp_path: Path
) -> None:
    meta = _meta(folder)
    del meta["signature"]
    _write(folder, meta)
    settings = Settings(tracking=False, mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(ArtifactError, match="not a signed leadscore model"):
        load_for_serving(str(folder), settings)


def test_models_sign_vouches_for_a_folder_whose_files_match(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv(KEY_ENV, OTHER_KEY)  # this machine's key is another one
    with pytest.raises(ArtifactError):
        LeadModel.load(folder)
    result = runner.invoke(app, ["models", "sign", str(folder)])
    assert result.exit_code == 0, result.output
    assert key_id(OTHER_KEY.encode()) in result.output
    assert isinstance(LeadModel.load(folder), LeadModel)
    # a changed file is not vouched for
    (folder / "model.joblib").write_bytes(b"changed")
    result = runner.invoke(app, ["models", "sign", str(folder)])
    assert result.exit_code != 0 and "checksum" in result.output


def test_the_key_file_is_made_once_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    key_file = tmp_path / "keys" / "signing.key"
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))
    assert signing_keys() == []  # reading makes nothing
    first = signing_keys(create=True)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert signing_keys(create=True) == first == signing_keys()
