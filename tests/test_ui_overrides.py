"""Sales overrides in the dashboard (issue 20), through Streamlit's AppTest: the lead page
shows the override in force and lets admins (not viewers) set and clear it; the work queue
marks overridden leads, leaves excluded ones out and exports the override columns.

Every test has its own SQLite store under tmp_path; scores are written straight into the
store (no model is served: the pages say so and go on).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import leadscore.ui
from leadscore.live import add_scores
from leadscore.store import NewScore, Store
from leadscore.ui import frames, override_frames

APP = Path(leadscore.ui.__file__).resolve().parent / "app.py"
ADMIN, VIEWER, PASSWORD = "maria", "tom", "a-long-password"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", url)
    monkeypatch.setenv("LEADSCORE_SERVICE__MODEL", str(tmp_path / "no-model"))
    monkeypatch.setenv("LEADSCORE_UI_DIR", str(tmp_path / "dashboard"))
    monkeypatch.setenv("LEADSCORE_TRACKING", "false")
    monkeypatch.setenv("LEADSCORE_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("LEADSCORE_CONFIG", raising=False)
    opened = Store(url)
    opened.users.add(ADMIN, PASSWORD, "admin")
    opened.users.add(VIEWER, PASSWORD, "viewer")
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


def signed_in(name: str, lead: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    if lead is not None:
        at.query_params["lead"] = lead
        at.switch_page("views/lead.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def test_an_admin_sets_and_clears_an_override_on_the_lead_page(store: Store) -> None:
    at = signed_in(ADMIN, "L4")
    assert metrics(at)["Segment"] == "Cold"
    assert "None: the model's segment counts." in [c.value for c in at.caption]
    # a reason is required: the store's message, nothing stored
    at.selectbox(key="override_segment").set_value("hot")
    button(at, "Set the override").click()
    at.run()
    assert "reason" in at.error[0].value and store.overrides.active() == {}
    at.selectbox(key="override_segment").set_value("hot")
    at.text_input(key="override_reason").input("VIP referral")
    at.date_input(key="override_until").set_value(datetime.now(UTC).date() + timedelta(days=7))
    button(at, "Set the override").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    pinned = store.overrides.active()["L4"]
    assert (pinned.segment, pinned.reason, pinned.author) == ("hot", "VIP referral", ADMIN)
    assert pinned.until is not None and pinned.until > datetime.now(UTC) + timedelta(days=7)
    assert "Lead L4 pinned hot." in at.success[0].value
    assert metrics(at)["Segment"] == "Hot" and metrics(at)["Call?"] == "yes"
    assert metrics(at)["Score"] == "10"  # the model's score stays
    assert "Pinned **hot** by maria" in at.info[0].value and "model says cold" in at.info[0].value
    assert [s.segment for s in store.scores.history("L4")] == ["cold"]
    button(at, "Clear the override").click()
    at.run()
    assert store.overrides.active() == {}
    assert store.overrides.history("L4")[0].cleared_by == ADMIN
    assert metrics(at)["Segment"] == "Cold"


def test_viewers_see_the_override_but_cannot_change_it(store: Store) -> None:
    store.overrides.set("L1", "exclude", "existing customer", "maria")
    at = signed_in(VIEWER, "L1")
    assert metrics(at)["Segment"] == "Exclude" and metrics(at)["Call?"] == "no"
    assert "Pinned **exclude** by maria" in at.info[0].value
    assert not [b for b in at.button if b.label in ("Set the override", "Clear the override")]
    assert "Admins set and clear overrides (you are a viewer)." in [c.value for c in at.caption]


def test_the_queue_marks_overridden_leads_and_leaves_excluded_ones_out(store: Store) -> None:
    store.overrides.set("L4", "hot", "VIP referral", "maria")
    store.overrides.set("L2", "exclude", "existing customer", "maria")
    at = signed_in(ADMIN)
    shown = metrics(at)
    assert (shown["Hot"], shown["Warm"], shown["Cold"]) == ("2", "1", "0")
    assert shown["Leads shown"] == "3"
    hot = at.dataframe[0].value
    assert hot["lead_id"].tolist() == ["L4", "L1"]  # the pinned lead first
    assert hot["pin"].tolist() == ["📌 hot · model: cold", ""]
    assert "L2" not in set(at.dataframe[1].value["lead_id"])


def test_the_work_queue_csv_has_the_override_columns(store: Store) -> None:
    store.overrides.set("L3", "cold", "=HYPERLINK(1) not a buyer", "maria")
    frame = override_frames.with_overrides(
        frames.queue_frame(store.scores.queue()), store.overrides.active()
    )
    table = pd.read_csv(io.BytesIO(frames.queue_csv(frame)))
    assert "pin" not in table.columns
    assert table["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]  # hot, warm (none), cold
    row = table.set_index("lead_id").loc["L3"]
    assert (row["segment"], row["model_segment"], bool(row["overridden"])) == ("cold", "warm", True)
    assert row["override_reason"] == "'=HYPERLINK(1) not a buyer"  # neutralised
    assert row["override_author"] == "maria" and pd.isna(row["override_until"])
    assert table.set_index("lead_id").loc["L1", "overridden"] == False  # noqa: E712
    # with none in force the columns are there, empty, and the order is the model's
    plain = override_frames.with_overrides(frames.queue_frame(store.scores.queue()), {})
    assert plain["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]
    assert not plain["overridden"].any() and set(override_frames.OVERRIDE_COLUMNS) <= set(plain)
