"""Outcomes in bulk from a CRM export: ``leadscore outcomes import`` (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app as cli
from leadscore.store import Store, StoreError


def test_import_keeps_each_leads_latest_row_and_is_safe_to_repeat(
    db_url: str, tmp_path: Path
) -> None:
    with Store(db_url) as store:
        for lead_id in ("L1", "L2", "L3"):
            store.leads.upsert(lead_id, {})
        store.outcomes.add("L3", False)  # recorded through the API earlier
    export = tmp_path / "crm_export.csv"
    pd.DataFrame(
        {
            "Lead Id": ["L1", "L2", "L1", "L9"],
            "Won": ["no", "yes", "yes", "no"],
            "closed_at": ["2026-03-01", "2026-03-02", "2026-03-05", "2026-03-03"],
        }
    ).to_csv(export, index=False)
    args = ["outcomes", "import", str(export), "--database", db_url, "--id", "Lead Id",
            "--target", "Won"]  # fmt: skip
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "2 outcomes recorded, 0 already recorded" in first.output
    assert "1 leads are not in the store and were skipped" in first.output
    with Store(db_url) as store:
        latest = {o.lead_id: o for o in store.outcomes.all()}
        assert latest["L1"].converted is True  # its later row (won on 5 March)
        assert latest["L1"].occurred_at.day == 5
        assert latest["L2"].converted is True
        assert latest["L3"].converted is False
        assert "L9" not in latest
        before = len(store.outcomes.all(latest_only=False))
    again = CliRunner().invoke(cli, args)
    assert "0 outcomes recorded, 2 already recorded" in again.output
    with Store(db_url) as store:
        assert len(store.outcomes.all(latest_only=False)) == before
    created = CliRunner().invoke(cli, [*args, "--create"])
    assert "1 outcomes recorded, 2 already recorded" in created.output
    with Store(db_url) as store:
        assert store.outcomes.latest("L9").converted is False
        assert store.leads.get("L9") is not None


def test_one_outcome_per_lead_in_one_call(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        store.leads.upsert("L1", {})
        with pytest.raises(StoreError, match="at most one outcome per lead"):
            store.outcomes.add_many([("L1", True, None), ("L1", False, None)])
        assert store.outcomes.all() == []


def test_an_export_without_an_outcome_column_is_named(tmp_path: Path) -> None:
    export = tmp_path / "x.csv"
    pd.DataFrame({"lead_id": ["L1"], "industry": ["x"]}).to_csv(export, index=False)
    ran = CliRunner().invoke(
        cli, ["outcomes", "import", str(export), "--database", f"sqlite:///{tmp_path / 's.db'}"]
    )
    assert ran.exit_code != 0
    assert "outcome" in ran.output


def test_contacted_says_whether_sales_called_each_lead(db_url: str, tmp_path: Path) -> None:
    leads = ["L1", "L2", "L3", "L4", "L5", "L6"]
    with Store(db_url) as store:
        for lead_id in leads:
            store.leads.upsert(lead_id, {})
    export = tmp_path / "crm_export.csv"
    pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L5", "L6", "L1", "L6"],
            "won": ["yes", "no", "yes", "no", "yes", "no", "no", None],
            "closed_at": ["2026-03-01", "2026-03-02", "2026-03-02", "2026-03-03",
                          "2026-03-04", "2026-03-04", "2026-03-06", "2026-03-09"],
            # L1: its later row counts (no); L6: its later row has no outcome, so the
            # earlier one counts, and its cell too
            "Called": ["Yes", "no", " TRUE ", "false", "", "1", "No", "0"],
        }
    ).to_csv(export, index=False)  # fmt: skip
    ran = CliRunner().invoke(
        cli, ["outcomes", "import", str(export), "--database", db_url, "--contacted", "Called"]
    )
    assert ran.exit_code == 0, ran.output
    assert "6 outcomes recorded" in ran.output
    assert "Called: 2 leads contacted, 3 not, 1 not said" in ran.output
    with Store(db_url) as store:
        latest = {o.lead_id: o for o in store.outcomes.all()}
    assert {lead: latest[lead].contacted for lead in leads} == {
        "L1": False, "L2": False, "L3": True, "L4": False, "L5": None, "L6": True,
    }  # fmt: skip
    assert latest["L1"].occurred_at.day == 6 and latest["L6"].occurred_at.day == 4


def test_contacted_as_ones_and_zeros_with_empty_cells(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    export = tmp_path / "x.csv"
    # read as 1.0 / 0.0 / NaN
    export.write_text("lead_id,converted,contacted\nA,1,1\nB,0,\nC,0,0\n")
    ran = CliRunner().invoke(
        cli, ["outcomes", "import", str(export), "--database", url, "--create",
              "--contacted", "contacted"],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    with Store(url) as store:
        said = {o.lead_id: o.contacted for o in store.outcomes.all()}
    assert said == {"A": True, "B": None, "C": False}
    # without the option nothing is said, as before
    plain = tmp_path / "plain.db"
    CliRunner().invoke(cli, ["outcomes", "import", str(export), "--database",
                             f"sqlite:///{plain}", "--create"])  # fmt: skip
    with Store(f"sqlite:///{plain}") as store:
        assert {o.contacted for o in store.outcomes.all()} == {None}


def test_a_bad_or_missing_contacted_column_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    export = tmp_path / "x.csv"
    pd.DataFrame(
        {"lead_id": ["A", "B", "C"], "converted": ["yes", "no", "no"],
         "called": ["yes", "maybe", "2"]}
    ).to_csv(export, index=False)  # fmt: skip
    args = ["outcomes", "import", str(export), "--database", url, "--create"]
    bad = CliRunner().invoke(cli, [*args, "--contacted", "called"])
    assert bad.exit_code == 2
    message = " ".join(bad.output.split())
    assert "--contacted column 'called' must say yes/no, true/false or 1/0" in message
    assert "'maybe', '2' at rows 3, 4" in message
    missing = CliRunner().invoke(cli, [*args, "--contacted", "caled"])
    assert missing.exit_code == 2
    assert "'caled' (did you mean 'called'?)" in " ".join(missing.output.split())
    with Store(url) as store:
        assert store.outcomes.all() == []  # nothing recorded from a bad export


def test_an_export_that_now_says_who_was_called_adds_that(tmp_path: Path) -> None:
    """The same outcomes imported again with ``--contacted`` are recorded again with it
    (before, "same result, same time" skipped them and the calls were never stored); a
    third, plain import of the same export changes nothing."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    export = tmp_path / "x.csv"
    export.write_text("lead_id,converted,closed_at,called\nA,1,2026-03-01,yes\nB,0,2026-03-02,\n")
    plain = ["outcomes", "import", str(export), "--database", url, "--create"]
    for args, added in ((plain, 2), ([*plain, "--contacted", "called"], 1), (plain, 0)):
        ran = CliRunner().invoke(cli, args)
        assert ran.exit_code == 0, ran.output
        assert f"{added} outcomes recorded" in ran.output, ran.output
    with Store(url) as store:
        said = {o.lead_id: o.contacted for o in store.outcomes.all()}
    assert said == {"A": True, "B": None}
