"""Tests for the settings resolver (leadscore.config): defaults → file → environment →
values saved from the dashboard → flags, and where each value came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.config import (
    Business,
    MixpanelSettings,
    S3Settings,
    Settings,
    load_settings,
    mask_url,
    resolve_settings,
)
from leadscore.errors import ConfigError, LeadscoreError
from leadscore.store import Store, read_saved_settings

TOML = """
database_url = "postgresql://crm:hunter2@db.example.com:5432/leads"

[roles]
target = "signed"
exclude = ["newsletter"]

[business]
value_per_conversion = 200
cost_per_contact = 20

[segments]
hot_share = 0.3

[s3]
access_key_id = "AKIAEXAMPLE"
secret_access_key = "very-secret"

[mixpanel]
username = "svc.account"
secret = "also-secret"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a leadscore.toml and no LEADSCORE_* variables but these."""
    monkeypatch.chdir(tmp_path)
    for name in ("LEADSCORE_CONFIG", "LEADSCORE_DATABASE_URL", "LEADSCORE_TRACKING"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "leadscore.toml").write_text(TOML)
    return tmp_path


def test_each_layer_wins_over_the_ones_before(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_BUSINESS__COST_PER_CONTACT", "25")
    monkeypatch.setenv("LEADSCORE_SEGMENTS__HOT_SHARE", "0.4")
    saved = {
        "business": Business(value_per_conversion=300, cost_per_contact=30).model_dump(),
        "segments": {"hot_share": 0.1, "hot_cutoff": None, "warm_cutoff": None},
    }
    resolved = resolve_settings(
        saved=saved, flags={"business.value_per_conversion": 500.0, "cv_folds": 4}
    )
    business = resolved.settings.business
    assert (business.value_per_conversion, business.cost_per_contact) == (500.0, 30.0)
    assert resolved.settings.segments.hot_share == 0.1
    assert resolved.settings.roles.target == "signed"
    assert resolved.settings.cv_folds == 4
    sources = {v.name: v.source for v in resolved.values()}
    assert sources["business.value_per_conversion"] == "flag"
    assert sources["business.cost_per_contact"] == "dashboard"
    assert sources["business.missed_conversion_cost"] == "dashboard"  # saved with the rest
    assert sources["segments.hot_share"] == "dashboard"
    assert sources["roles.target"] == "file"
    assert sources["cv_folds"] == "flag"
    assert sources["n_jobs"] == "default"

    without_dashboard = resolve_settings()
    assert without_dashboard.settings.business.cost_per_contact == 25.0
    assert without_dashboard.source("business.cost_per_contact") == "env"
    assert without_dashboard.source("business.value_per_conversion") == "file"
    assert without_dashboard.settings.segments.hot_share == 0.4


def test_flags_add_to_the_configured_column_lists(project: Path) -> None:
    resolved = resolve_settings(flags={"roles.exclude": ["lead_number"], "roles.target": None})
    assert resolved.settings.roles.exclude == ["newsletter", "lead_number"]
    assert resolved.settings.roles.target == "signed"  # None: not given


def test_a_saved_section_that_does_not_validate_is_left_out_with_a_note(project: Path) -> None:
    resolved = resolve_settings(
        saved={"business": {"cost_per_contact": -1}, "segments": {"hot_share": 0.25}}
    )
    assert resolved.settings.business.cost_per_contact == 20.0
    assert resolved.source("business.cost_per_contact") == "file"
    assert resolved.settings.segments.hot_share == 0.25
    (note,) = resolved.notes
    assert "business" in note and "cost_per_contact" in note


def test_a_store_that_cannot_be_read_is_a_note_not_a_failure(project: Path) -> None:
    def unreachable(settings: Settings) -> dict[str, dict[str, object]]:
        assert settings.database_url.startswith("postgresql://crm")  # file, env and flags
        raise LeadscoreError("connection refused")

    resolved = resolve_settings(saved=unreachable)
    assert resolved.settings.business.cost_per_contact == 20.0
    assert resolved.notes == ("the values saved from the dashboard were not read: "
                              "connection refused",)  # fmt: skip


def test_the_reader_gets_the_store_that_a_flag_names(project: Path) -> None:
    seen: list[str] = []

    def reader(settings: Settings) -> dict[str, dict[str, object]]:
        seen.append(settings.database_url)
        return {"business": {"cost_per_contact": 11.0}}

    resolved = resolve_settings(saved=reader, flags={"database_url": "sqlite:///other.db"})
    assert seen == ["sqlite:///other.db"]
    assert resolved.settings.business.cost_per_contact == 11.0


def test_invalid_values_are_config_errors(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        resolve_settings(project / "missing.toml")
    with pytest.raises(ConfigError, match=r"business\.cost_per_contact.*zero or positive"):
        resolve_settings(flags={"business.cost_per_contact": -5.0})
    monkeypatch.setenv("LEADSCORE_CV_FOLDS", "1")
    with pytest.raises(ConfigError, match="invalid settings: cv_folds"):
        resolve_settings()


def test_an_explicit_file_is_the_only_file_read(project: Path) -> None:
    other = project / "other.toml"
    other.write_text("[business]\nmissed_conversion_cost = 5\n")
    resolved = resolve_settings(other)
    assert resolved.file == other
    assert resolved.settings.business.missed_conversion_cost == 5.0
    assert resolved.settings.business.cost_per_contact == 15.0  # not ./leadscore.toml's 20
    assert resolved.settings.roles.target is None


def test_load_settings_is_the_resolver_without_the_dashboard(project: Path) -> None:
    assert load_settings().business.cost_per_contact == 20.0
    assert load_settings(cv_folds=3).cv_folds == 3
    assert load_settings(business=Business(cost_per_contact=1)).business.cost_per_contact == 1.0


def test_secrets_are_masked(project: Path) -> None:
    shown = {v.name: v.value for v in resolve_settings().values()}
    assert shown["s3.access_key_id"] == shown["s3.secret_access_key"] == "********"
    assert shown["mixpanel.username"] == shown["mixpanel.secret"] == "********"
    assert shown["mixpanel.api_secret"] is None
    assert shown["database_url"] == "postgresql://crm:***@db.example.com:5432/leads"
    assert "hunter2" not in json.dumps(shown) and "very-secret" not in json.dumps(shown)
    assert mask_url("sqlite:///leadscore.db") == "sqlite:///leadscore.db"
    assert mask_url("mysql://me@h/db?password=pw&x=1") == "mysql://me@h/db?password=***&x=1"


def test_source_settings_live_in_config() -> None:
    from leadscore.data import mixpanel, s3

    assert s3.S3Settings is S3Settings and mixpanel.MixpanelSettings is MixpanelSettings
    assert Settings().s3 == S3Settings()


def test_reading_saved_values_creates_no_store(tmp_path: Path) -> None:
    path = tmp_path / "leadscore.db"
    assert read_saved_settings(f"sqlite:///{path}") == {}
    assert not path.exists()
    with Store(f"sqlite:///{path}") as store:
        store.settings.set("business", {"cost_per_contact": 9.0}, by="maria")
        store.settings.set("serving", {"reference": "champion"}, by="maria")
    assert read_saved_settings(f"sqlite:///{path}") == {"business": {"cost_per_contact": 9.0}}


def test_config_show_prints_every_setting_with_its_source(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_SEGMENTS__HOT_SHARE", "0.35")
    url = f"sqlite:///{project / 'store.db'}"
    with Store(url) as store:
        store.settings.set("business", Business(cost_per_contact=40).model_dump(), by="maria")
    runner = CliRunner(env={"COLUMNS": "200"})
    table = runner.invoke(app, ["config", "show", "--database", url])
    assert table.exit_code == 0, table.output
    rows = {line.split("│")[1].strip(): line for line in table.output.splitlines() if "│" in line}
    assert "40.0" in rows["business.cost_per_contact"]
    assert "dashboard" in rows["business.cost_per_contact"]
    assert "env" in rows["segments.hot_share"] and "0.35" in rows["segments.hot_share"]
    assert "file" in rows["roles.target"] and "signed" in rows["roles.target"]
    assert "flag" in rows["database_url"]
    assert "hunter2" not in table.output and "very-secret" not in table.output

    nobody = "postgresql://crm:hunter2@127.0.0.1:1/leads"  # nothing listens there
    document = runner.invoke(app, ["config", "show", "--json", "--database", nobody])
    assert document.exit_code == 0, document.output
    parsed = json.loads(document.stdout)
    assert parsed["settings"]["roles.exclude"] == {"value": ["newsletter"], "source": "file"}
    assert parsed["settings"]["s3.secret_access_key"]["value"] == "********"
    assert parsed["database"] == "postgresql://crm:***@127.0.0.1:1/leads"
    assert parsed["settings"]["business.cost_per_contact"]["source"] == "file"
    (note,) = parsed["notes"]
    assert "were not read" in note and "127.0.0.1" in note and "hunter2" not in note
    assert "note: the values saved from the dashboard were not read" in document.stderr


def test_config_show_with_a_missing_file_fails_clearly(project: Path) -> None:
    result = CliRunner().invoke(app, ["config", "show", "--config", "nope.toml"])
    assert result.exit_code == 2
    assert "config file not found: nope.toml" in result.output
