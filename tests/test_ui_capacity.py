"""The team's capacity in the dashboard (issue 20), through Streamlit's AppTest: the Leads
page shows the contacts of the period used against the capacity and marks the leads
within the quota; "To contact" and the CSV follow the quota; without a capacity the page
is as before.

Every test has its own SQLite store under tmp_path; scores are written straight into the
store (no model is served: the page says so and goes on).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import leadscore.ui
from leadscore.config import CapacitySettings
from leadscore.live import add_scores
from leadscore.live.capacity import period_quota
from leadscore.store import NewScore, Store
from leadscore.ui import capacity_frames, frames, override_frames

APP = Path(leadscore.ui.__file__).resolve().parent / "app.py"
ADMIN, PASSWORD = "maria", "a-long-password"
TODAY = "✓ in today’s quota"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", url)
    monkeypatch.setenv("LEADSCORE_SERVICE__MODEL", str(tmp_path / "no-model"))
    monkeypatch.setenv("LEADSCORE_UI_DIR", str(tmp_path / "dashboard"))
    monkeypatch.setenv("LEADSCORE_TRACKING", "false")
    monkeypatch.setenv("LEADSCORE_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("LEADSCORE_CAPACITY__PER_PERIOD", "2")
    monkeypatch.delenv("LEADSCORE_CONFIG", raising=False)
    opened = Store(url)
    opened.users.add(ADMIN, PASSWORD, "admin")
    opened.leads.upsert_many({f"L{i}": {"source": "google"} for i in range(1, 5)})
    add_scores(
        opened,
        [
            NewScore("L1", "1", 0.9, 90, "hot", True),
            NewScore("L2", "1", 0.8, 80, "hot", True),
            NewScore("L3", "1", 0.4, 40, "warm", True),
            NewScore("L4", "1", 0.1, 10, "cold", False),
        ],
    )
    yield opened
    opened.close()


def signed_in() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_leads_page_shows_the_quota_used_and_marks_the_leads_within(store: Store) -> None:
    at = signed_in()
    shown = metrics(at)
    assert shown["Contacts today"] == "2 / 2"
    assert shown["To contact"] == "2"  # L3 is worth a call, but the quota is full
    hot = at.dataframe[0].value
    assert hot["lead_id"].tolist() == ["L1", "L2"] and hot["quota"].tolist() == [TODAY, TODAY]
    warm = at.dataframe[1].value
    assert warm["lead_id"].tolist() == ["L3"] and warm["quota"].tolist() == [""]


def test_overrides_and_outcomes_move_the_quota_on_the_page(store: Store) -> None:
    store.overrides.set("L1", "cold", "not a buyer", "maria")  # frees its slot
    at = signed_in()
    assert metrics(at)["Contacts today"] == "2 / 2"
    assert at.dataframe[0].value["quota"].tolist() == [TODAY]  # L2
    assert at.dataframe[1].value["quota"].tolist() == [TODAY]  # L3 moves in
    store.overrides.set("L4", "hot", "VIP referral", "maria")  # a hot pin takes a slot
    at = signed_in()
    hot = at.dataframe[0].value
    assert hot["lead_id"].tolist() == ["L4", "L2"] and hot["quota"].tolist() == [TODAY, TODAY]
    assert at.dataframe[1].value["quota"].tolist() == [""]  # L3 out again
    store.overrides.clear("L4", "maria")
    store.outcomes.add("L3", False)  # worked today, while a candidate: it keeps a slot
    at = signed_in()
    assert metrics(at)["Contacts today"] == "2 / 2"
    assert metrics(at)["To contact"] == "2"
    assert at.dataframe[1].value["quota"].tolist() == [TODAY]


def test_the_csv_carries_the_quota_and_the_model_decision(store: Store) -> None:
    quota = period_quota(store, CapacitySettings(per_period=2))
    queue = override_frames.with_overrides(frames.queue_frame(store.scores.queue()), {})
    table = pd.read_csv(io.BytesIO(frames.queue_csv(capacity_frames.with_quota(queue, quota))))
    row = table.set_index("lead_id")
    assert row["contact"].tolist() == [True, True, False, False]
    assert row["model_contact"].tolist() == [True, True, True, False]
    assert row.loc["L1", "quota"] == TODAY and pd.isna(row.loc["L3", "quota"])


def test_without_a_capacity_the_page_is_as_before(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADSCORE_CAPACITY__PER_PERIOD")
    at = signed_in()
    assert "Contacts today" not in metrics(at)
    assert metrics(at)["To contact"] == "3"
    assert "quota" not in at.dataframe[0].value.columns
