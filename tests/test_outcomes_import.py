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
