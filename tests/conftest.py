"""Shared fixtures: small seeded demo tables, in memory and written to a folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadscore.data.demo import DemoLeads, generate_leads, write_demo

#: columns a model must not learn from: the id, the outcome and the post-contact leak
NOT_FEATURES = ["lead_id", "converted", "sales_status"]


@pytest.fixture(scope="session")
def demo_leads() -> DemoLeads:
    """1,500 labelled demo leads (about 180 converted: not "small data")."""
    return generate_leads(1500, seed=1)


@pytest.fixture
def leads(demo_leads: DemoLeads) -> pd.DataFrame:
    """A fresh copy of the labelled demo table, safe to modify."""
    return demo_leads.table.copy()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``leads.csv`` (800 rows), ``new_leads.csv`` (100) and ``truth.csv``."""
    directory = tmp_path_factory.mktemp("demo")
    write_demo(directory, rows=800, new_rows=100, seed=42)
    return directory
