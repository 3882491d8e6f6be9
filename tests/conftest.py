"""Shared fixtures: a small seeded demo lead table."""

from __future__ import annotations

import pytest

from leadscore.data.demo import DemoLeads, generate_leads


@pytest.fixture(scope="session")
def demo_leads() -> DemoLeads:
    """1,500 labelled demo leads (about 180 converted: not "small data"). Do not modify it:
    tests that change the table work on ``demo_leads.table.copy()``."""
    return generate_leads(1500, seed=1)
