"""Tests for the ``leadscore`` command line (leadscore.cli)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from leadscore.cli import app
from leadscore.config import load_settings

SCORE_COLUMNS = [
    "lead_id", "score", "score_100", "segment", "rank", "contact", "explored", "propensity",
]  # fmt: skip
FAST = ["--models", "logreg_l2,lightgbm", "--cv", "3", "--quiet"]
FASTEST = ["--models", "logreg_l2", "--cv", "3", "--quiet"]

runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def run(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def fails(result: Result, *needles: str) -> str:
    """Exit status 2, one readable message naming the problem, no traceback."""
    output = result.output
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert "error" in result.stderr
    for needle in needles:
        assert needle in output, f"{needle!r} not in {output!r}"
    return output


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "D"
    result = ok(run("demo-data", "--rows", 800, "--new-rows", 100, "--out", directory))
    assert "leads.csv" in result.output
    return directory


@pytest.fixture(scope="module")
def trained(demo: Path) -> tuple[Path, Path, Result]:
    model_dir = demo.parent / "M"
    board = demo.parent / "lb.json"
    result = ok(run("train", demo / "leads.csv", *FAST, "--out", model_dir, "--leaderboard", board))
    return model_dir, board, result


@pytest.fixture(scope="module")
def model_dir(trained: tuple[Path, Path, Result]) -> Path:
    return trained[0]


@pytest.fixture
def leads(demo: Path) -> pd.DataFrame:
    return pd.read_csv(demo / "leads.csv")


@pytest.fixture
def new_leads(demo: Path) -> pd.DataFrame:
    return pd.read_csv(demo / "new_leads.csv")


def _metadata(model_dir: Path) -> dict:
    return json.loads((model_dir / "metadata.json").read_text())


# ----------------------------------------------------------------------------- happy path


def test_demo_data_writes_three_files(demo: Path) -> None:
    assert sorted(p.name for p in demo.iterdir()) == ["leads.csv", "new_leads.csv", "truth.csv"]
    assert len(pd.read_csv(demo / "leads.csv")) == 800
    new = pd.read_csv(demo / "new_leads.csv")
    assert len(new) == 100
    assert "converted" not in new.columns
    assert len(pd.read_csv(demo / "truth.csv")) == 900


def test_audit_writes_json_and_html(demo: Path, tmp_path: Path) -> None:
    report, page = tmp_path / "a.json", tmp_path / "a.html"
    result = ok(run("audit", demo / "leads.csv", "--json", report, "--html", page))
    assert "sales_status" in result.output
    data = json.loads(report.read_text())
    assert data["rows"] == 800
    assert data["target"] == "converted"
    assert "sales_status" in [s["column"] for s in data["leakage_suspects"]]
    assert "sales_status" in page.read_text()


def test_compare_writes_the_leaderboard(demo: Path, tmp_path: Path) -> None:
    board = tmp_path / "board.csv"
    result = ok(run("compare", demo / "leads.csv", *FAST, "--out", board))
    assert "Leaderboard" in result.output
    table = pd.read_csv(board)
    assert sorted(table["model"]) == ["lightgbm", "logreg_l2"]
    assert {"auc", "pr_auc", "profit", "log_loss"} <= set(table.columns)
    assert "2 models compared in" in result.output  # not a bare "11.3 s"
    assert "the PyCaret lead-scoring tutorial's values, not yours" in result.output


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose output console is 80 columns wide (the console reads COLUMNS once,
    when it is made: ``make test`` sets it to 160)."""
    from leadscore.cli import common

    monkeypatch.setattr(common.out, "width", 80)
    return runner


def test_the_leaderboard_keeps_its_numbers_whole_in_80_columns(
    demo: Path, narrow: CliRunner
) -> None:
    """In an 80-column terminal (or a pipe without COLUMNS) the leaderboard used to cut
    every cell to ``0.…``; now it leaves out the minor columns and says which."""
    args = ["compare", str(demo / "leads.csv"), *FAST, "--value-per-conversion", "200"]
    result = ok(narrow.invoke(app, args))
    table = [line for line in result.output.splitlines() if line.startswith(("│", "┃"))]
    assert table and all(len(line) <= 80 for line in table)
    assert "…" not in "\n".join(table)
    assert "Left out at this width:" in result.output and "Brier" in result.output
    header = next(line for line in table if "AUC" in line)
    assert all(name in header for name in ("model", "AUC", "profit"))
    assert "(your settings)" in result.output


def test_train_saves_model_and_leaderboard(trained: tuple[Path, Path, Result]) -> None:
    model_dir, board, result = trained
    assert (model_dir / "model.joblib").is_file()
    meta = _metadata(model_dir)
    assert meta["rows"] == 800
    assert meta["model"] in ("logreg_l2", "lightgbm")
    assert meta["excluded"]["sales_status"].startswith("leakage suspect")
    data = json.loads(board.read_text())
    assert sorted(m["model"] for m in data["models"]) == ["lightgbm", "logreg_l2"]
    assert "LEFT OUT" in result.output and "sales_status" in result.output
    assert "Trained" in result.output and "Saved to" in result.output
    # the profit basis once: under the leaderboard, not again after the training summary
    assert result.output.count("Profit counts") == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_writes_a_readable_table(
    model_dir: Path, demo: Path, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"s{suffix}"
    result = ok(run("score", model_dir, demo / "new_leads.csv", "--out", out))
    assert "100 leads" in result.output
    scores = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(scores) == 100
    assert list(scores.columns) == SCORE_COLUMNS
    assert scores["rank"].tolist() == list(range(1, 101))
    assert set(scores["segment"]) <= {"hot", "warm", "cold"}
    assert scores["score_100"].between(0, 100).all()
    new_ids = pd.read_csv(demo / "new_leads.csv")["lead_id"]
    assert sorted(scores["lead_id"]) == sorted(new_ids)


def test_score_with_capacity(model_dir: Path, demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    result = ok(run("score", model_dir, demo / "new_leads.csv", "--capacity", 5, "--out", out))
    scores = pd.read_csv(out)
    # the five best, and on top of them the default exploration's draw below the cut-off
    chosen = scores.loc[scores["contact"] & ~scores["explored"]]
    assert sorted(chosen["rank"]) == [1, 2, 3, 4, 5]
    explored = int(scores["explored"].sum())
    assert explored and (scores.loc[scores["explored"], "propensity"] == 0.05).all()
    assert f"{5 + explored} to contact ({explored} of them by exploration)" in result.output


@pytest.mark.parametrize("capacity", ["0", "-3"])
def test_capacity_below_one_is_refused(model_dir: Path, demo: Path, capacity: str) -> None:
    # train validates --capacity through the business settings ...
    fails(run("train", demo / "leads.csv", "--out", demo.parent / "X", "--capacity", capacity))
    # ... and score must not quietly fall back to the threshold (0) or contact no one (-3)
    fails(run("score", model_dir, demo / "new_leads.csv", "--capacity", capacity), "capacity")


def test_train_with_a_time_column(demo: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "timed"
    ok(run("train", demo / "leads.csv", *FASTEST, "--time", "created_at", "--out", model_dir))
    meta = _metadata(model_dir)
    assert meta["time_column"] == "created_at"
    assert meta["time_window"]["start"].startswith("2026-01-05")
    out = tmp_path / "s.csv"
    ok(run("score", model_dir, demo / "new_leads.csv", "--out", out))
    assert len(pd.read_csv(out)) == 100


def test_business_values_are_stored(demo: Path, model_dir: Path, tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    money = ["--value-per-conversion", "500", "--cost-per-contact", "7"]
    money += ["--missed-conversion-cost", "0"]
    trained = ok(run("train", demo / "leads.csv", *FASTEST, *money, "--out", custom))
    assert "(your settings)" in trained.output
    meta = _metadata(custom)
    assert meta["business"] == {
        "value_per_conversion": 500.0,
        "cost_per_contact": 7.0,
        "missed_conversion_cost": 0.0,
        "capacity": None,
    }
    default = _metadata(model_dir)
    assert default["business"]["cost_per_contact"] == 15.0
    # defaults nobody chose are said to be such, in the model and in its report
    assert (default["business_defaults"], meta["business_defaults"]) == (True, False)
    ok(run("report", model_dir, "--out", tmp_path / "report"))
    page = (tmp_path / "report" / "report.html").read_text()
    assert "the PyCaret lead-scoring tutorial&#x27;s values, not yours" in page
    ok(run("report", custom, "--out", tmp_path / "custom-report"))
    assert "tutorial" not in (tmp_path / "custom-report" / "report.html").read_text()
    # cheap contacts and valuable conversions: call more leads
    assert meta["cutoffs"]["contact"] < default["cutoffs"]["contact"]


def test_settings_file_and_environment(
    leads: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    leads.rename(columns={"converted": "signed"}).to_csv("leads.csv", index=False)
    Path("leadscore.toml").write_text(
        '[roles]\ntarget = "signed"\nexclude = ["newsletter"]\n\n'
        "[business]\ncost_per_contact = 20\n"
    )
    assert load_settings().business.cost_per_contact == 20
    ok(run("audit", "leads.csv", "--json", "a.json"))
    report = json.loads(Path("a.json").read_text())
    assert report["target"] == "signed"
    status = {c["name"]: c["status"] for c in report["columns"]}
    assert status["newsletter"] == "excluded by you"

    monkeypatch.setenv("LEADSCORE_BUSINESS__COST_PER_CONTACT", "33")
    ok(run("train", "leads.csv", *FASTEST, "--out", "M"))
    meta = _metadata(Path("M"))
    assert meta["roles"]["target"] == "signed"
    assert meta["excluded"]["newsletter"] == "excluded by you"
    assert "newsletter" not in [c["name"] for c in meta["schema"]["columns"]]
    assert meta["business"]["cost_per_contact"] == 33.0


# ----------------------------------------------------------------------------- real processes


def _process(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env["COLUMNS"] = "200"
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)


def test_console_script_help() -> None:
    script = Path(sys.executable).with_name("leadscore")
    assert script.is_file()
    done = _process(str(script), "--help")
    assert done.returncode == 0, done.stderr
    for command in ("demo-data", "audit", "compare", "train", "score"):
        assert command in done.stdout


def test_module_entry_point_reports_errors_without_traceback(demo: Path, tmp_path: Path) -> None:
    done = _process(
        sys.executable, "-m", "leadscore.cli", "score", str(tmp_path / "nowhere"),
        str(demo / "new_leads.csv"),
    )  # fmt: skip
    assert done.returncode == 2
    assert "model directory not found" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# ----------------------------------------------------------------------------- bad inputs


def test_nonexistent_file(tmp_path: Path) -> None:
    fails(run("audit", tmp_path / "nope.csv"), "file not found", "nope.csv")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    fails(run("train", path, "--out", tmp_path / "M"), "empty", "empty.csv")


def test_header_only_file(demo: Path, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text((demo / "leads.csv").read_text().splitlines()[0] + "\n")
    fails(run("audit", path), "no rows")


def test_missing_target_column(demo: Path) -> None:
    output = fails(run("audit", demo / "leads.csv", "--target", "nope"), "'nope'", "not found")
    assert "lead_id" in output  # shows the columns there are
    fails(run("audit", demo / "leads.csv", "--target", "convertd"), "did you mean 'converted'")


def test_one_class_target(leads: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    leads.assign(converted="no").to_csv(path, index=False)
    fails(run("train", path, "--out", tmp_path / "M"), "one class", "converted")


def test_semicolon_file_works(leads: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    leads.to_csv(path, index=False, sep=";")
    report = tmp_path / "a.json"
    ok(run("audit", path, "--json", report))
    data = json.loads(report.read_text())
    assert data["rows"] == 800
    assert data["target"] == "converted"


def test_garbage_target_values_are_named(leads: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "maybe.csv"
    leads.loc[[3, 10, 11], "converted"] = "maybe"
    leads.to_csv(path, index=False)
    fails(run("audit", path), "converted", "'maybe'")


def test_messages_with_brackets_are_printed_verbatim(leads: pd.DataFrame, tmp_path: Path) -> None:
    """User data in an error message must not be read as console markup."""
    path = tmp_path / "brackets.csv"
    leads.loc[3, "converted"] = "[/maybe]"
    leads.loc[4, "converted"] = "[bold]perhaps"
    leads.to_csv(path, index=False)
    fails(run("audit", path), "converted", "[/maybe]", "[bold]perhaps")


def test_text_in_a_numeric_column(leads: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "abc.csv"
    leads["visits"] = leads["visits"].astype(object)
    leads.loc[[5, 50, 500], "visits"] = "abc"
    leads.to_csv(path, index=False)
    fails(run("audit", path), "'visits'", "'abc'", "--bad-numbers")
    ok(run("audit", path, "--bad-numbers", "missing"))
    fails(run("audit", path, "--bad-numbers", "whatever"), "--bad-numbers", "'whatever'")


def test_unseen_categories_at_scoring(
    model_dir: Path, new_leads: pd.DataFrame, tmp_path: Path
) -> None:
    path, out = tmp_path / "odd.csv", tmp_path / "s.csv"
    new_leads.assign(source="tiktok", device="vr_headset", country="Atlantis").to_csv(
        path, index=False
    )
    ok(run("score", model_dir, path, "--out", out))
    assert len(pd.read_csv(out)) == 100


def test_missing_column_at_scoring(
    model_dir: Path, new_leads: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "partial.csv"
    new_leads.drop(columns=["visits"]).to_csv(path, index=False)
    fails(run("score", model_dir, path), "'visits'", "not found")


def test_tampered_model_dir(model_dir: Path, demo: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(model_dir, tampered)
    with (tampered / "model.joblib").open("ab") as handle:
        handle.write(b"evil")
    fails(run("score", tampered, demo / "new_leads.csv"), "checksum")
    fails(run("score", tmp_path / "nowhere", demo / "new_leads.csv"), "not found")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--sort", "nonsense"], ["cannot sort by 'nonsense'"]),
        (["--models", "nonsense"], ["unknown model 'nonsense'"]),
        (["--cost-per-contact", "-5"], ["cost_per_contact", "must be zero or positive"]),
        (["--cv", "1"], ["--cv", "at least 2"]),
    ],
)
def test_bad_options(demo: Path, args: list[str], needles: list[str]) -> None:
    fails(run("compare", demo / "leads.csv", *args), *needles)


def test_bad_settings_file(demo: Path, tmp_path: Path) -> None:
    fails(run("audit", demo / "leads.csv", "--config", tmp_path / "no.toml"), "config file")
    broken = tmp_path / "broken.toml"
    broken.write_text("[roles\ntarget = ")
    fails(run("audit", demo / "leads.csv", "--config", broken), "settings")


def test_the_audit_keeps_column_names_whole_in_80_columns(demo: Path, narrow: CliRunner) -> None:
    result = ok(narrow.invoke(app, ["audit", str(demo / "leads.csv")]))
    table = [line for line in result.output.splitlines() if line.startswith("│")]
    names = {line.split("│")[1].strip() for line in table}
    assert {"time_on_site_s", "returned_same_day", "sales_status"} <= names, names
    assert all(len(line) <= 80 for line in table)
    assert "left out at this width:" in result.output


def test_a_reader_that_stops_early_is_no_internal_error(tmp_path: Path) -> None:
    """``leadscore … | head``: the reader closes the pipe; the command ends quietly with
    the status a shell gives for SIGPIPE instead of "internal error: BrokenPipeError"."""
    script = (
        "import typer\n"
        "from leadscore.cli.common import handle_errors\n"
        "@handle_errors\n"
        "def lines() -> None:  # as the --json outputs print\n"
        "    for i in range(200_000):\n"
        "        print(f'line {i}')\n"
        "typer.run(lines)\n"
    )
    reader = subprocess.Popen(
        f"{sys.executable} -c {shlex.quote(script)} | head -n 1",
        shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        executable="/bin/bash", cwd=tmp_path,
    )  # fmt: skip
    output, errors = reader.communicate(timeout=120)
    assert output == "line 0\n"
    assert "internal error" not in errors and "Traceback" not in errors, errors
