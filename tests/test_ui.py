"""The dashboard (leadscore.ui): every page through Streamlit's AppTest, and the plain
modules behind them (data shaping, charts, data sets, models, sign-in, the commands).

Every test gets its own SQLite store, dashboard folder and MLflow location under tmp_path
(and runs there), so nothing is written into the repository and files can run in
parallel. The served model is a small logistic regression trained once per module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

import leadscore.ui
from leadscore.config import Business, Roles, Settings
from leadscore.data.lead_table import prepare_table
from leadscore.demo import generate_leads
from leadscore.errors import DataError, LeadscoreError, SchemaError
from leadscore.lifecycle.train import train
from leadscore.live import add_score, add_scores
from leadscore.store import NewScore, OutcomeRecord, Store
from leadscore.ui import (
    batch_scoring,
    charts,
    frames,
    jobs,
    model_catalogue,
    model_insights,
    workspace,
)
from leadscore.ui.auth import SESSION_KEY, SessionUser, current_user, sign_in
from leadscore.ui.config import BUSINESS_KEY, DATASET_KEY, SERVING_KEY, UIConfig

APP = Path(leadscore.ui.__file__).resolve().parent / "app.py"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN, ADMIN_PASSWORD = "admin", "admin-password"
VIEWER, VIEWER_PASSWORD = "viewer", "viewer-password"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small served model: logistic regression on 800 demo leads (the demo's columns)."""
    out = tmp_path_factory.mktemp("served") / "model"
    train(
        generate_leads(800, seed=3).table,
        settings=Settings(tracking=False, cv_folds=3),
        models=["logreg_l2"],
        out=out,
        show_progress=False,
        target="converted",
        id="lead_id",
    )
    return out


@dataclass
class Env:
    root: Path
    url: str
    store: Store
    model_dir: Path

    @property
    def datasets(self) -> Path:
        return self.root / "dashboard" / "datasets"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path) -> Iterator[Env]:
    monkeypatch.chdir(tmp_path)  # no leadscore.toml, and nothing lands in the repository
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", url)
    monkeypatch.setenv("LEADSCORE_SERVICE__MODEL", str(model_dir))
    monkeypatch.setenv("LEADSCORE_UI_DIR", str(tmp_path / "dashboard"))
    monkeypatch.setenv("LEADSCORE_TRACKING", "false")
    monkeypatch.setenv("LEADSCORE_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("LEADSCORE_CV_FOLDS", "3")
    monkeypatch.delenv("LEADSCORE_CONFIG", raising=False)
    monkeypatch.delenv("LEADSCORE_UI_MAX_UPLOAD_MB", raising=False)
    store = Store(url)
    store.users.add(ADMIN, ADMIN_PASSWORD, "admin")
    store.users.add(VIEWER, VIEWER_PASSWORD, "viewer")
    yield Env(tmp_path, url, store, model_dir)
    store.close()


@pytest.fixture
def scored(env: Env) -> Env:
    """The store with 200 fresh demo leads scored by the served model."""
    from leadscore.modeling.model import LeadModel

    fresh = generate_leads(200, seed=11, labelled=False).table
    batch_scoring.score_into_store(
        LeadModel.load(env.model_dir), fresh, env.store, "test", Settings(tracking=False)
    )
    return env


def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at


def sign_in_as(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    button(at, "Sign in").click()
    at.run()
    return at


def signed_in(
    name: str = ADMIN, password: str = ADMIN_PASSWORD, page: str | None = None
) -> AppTest:
    at = sign_in_as(app(), name, password)
    if page:
        at.switch_page(f"views/{page}.py")
        at.run()
    return at


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def chart_titles(at: AppTest) -> list[str]:
    """Titles of the Altair charts on the page (of their parts too, for concatenations)."""
    titles = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        for part in [spec, *spec.get("hconcat", [])]:
            title = part.get("title")
            if isinstance(title, dict):
                titles.append(title["text"])
    return titles


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def text_input(at: AppTest, label: str) -> Any:
    return next(t for t in at.text_input if t.label == label)


def load_demo(at: AppTest) -> AppTest:
    at.switch_page("views/data.py")
    at.run()
    at.button(key="load_demo").click()
    at.run()
    no_exceptions(at)
    return at


# ----------------------------------------------------------------------------- sign-in


def test_sign_in_failures_say_the_same_and_are_slowed_down(env: Env) -> None:
    at = app()
    no_exceptions(at)
    assert at.title[0].value == "leadscore"
    sign_in_as(at, ADMIN, "not the password")
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    sign_in_as(at, "nobody", "not the password")
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert "Leads" not in [t.value for t in at.title]
    sign_in_as(at, ADMIN, "still not it")
    sign_in_as(at, ADMIN, "nor this")  # the third failure for this name
    assert at.error[0].value == (
        "Wrong user name or password. Too many failed sign-ins for this name or from this "
        "address: try again in 1 s."
    )
    # failures recorded a minute ahead block now: even the right password has to wait
    ahead = datetime.now(UTC) + timedelta(minutes=1)
    for _ in range(3):
        env.store.users.login(ADMIN, "wrong", now=ahead)
    sign_in_as(at, ADMIN, ADMIN_PASSWORD)
    assert at.error[0].value.startswith("Too many failed sign-ins")
    assert SESSION_KEY not in at.session_state


def test_no_users_yet_says_how_to_create_the_first_admin(env: Env) -> None:
    with env.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM users")
    at = app()
    assert "leadscore users add NAME --role admin" in at.info[0].value


def test_sign_in_opens_the_leads_page_and_sign_out_closes_it(scored: Env) -> None:
    at = signed_in()
    no_exceptions(at)
    assert at.title[0].value == "Leads"
    assert at.session_state[SESSION_KEY] == SessionUser(ADMIN, "admin")
    at.button(key="sign_out").click()
    at.run()
    assert at.title[0].value == "leadscore"


# ----------------------------------------------------------------------------- leads


def test_leads_page_counts_donut_top_tables_and_download(scored: Env) -> None:
    at = signed_in()
    no_exceptions(at)
    counts = scored.store.scores.segment_counts()
    shown = metrics(at)
    assert [shown["Hot"], shown["Warm"], shown["Cold"]] == [
        f"{counts[s]:,}" for s in ("hot", "warm", "cold")
    ]
    assert "Leads by segment" in chart_titles(at)
    # the fixture scores with the default exploration (5 % of the leads below the cut-off)
    explored = {e.lead_id for e in scored.store.scores.queue() if e.explored}
    assert explored
    headers = [s.value for s in at.subheader]
    assert headers == ["Top hot leads", "Top warm leads", "Contact by exploration"]
    table = at.dataframe[headers.index("Contact by exploration")].value
    assert set(table["lead_id"]) == explored and set(table["segment"]) <= {"warm", "cold"}
    hot = at.dataframe[0].value
    assert list(hot.columns[:3]) == ["lead_id", "score_100", "segment"]
    assert "top_reasons" in hot.columns and set(hot["segment"]) == {"hot"}
    assert hot["score_100"].is_monotonic_decreasing
    best = scored.store.scores.ranked("hot", limit=1)[0]
    assert hot["lead_id"].iloc[0] == best.lead_id
    assert at.get("download_button")[0].proto.label.startswith("Download the work queue (200")


def test_leads_filters_search_and_opening_a_lead(scored: Env) -> None:
    at = signed_in()
    at.multiselect(key="f_segment").set_value(["warm"])
    at.run()
    shown = metrics(at)
    assert shown["Hot"] == "0" and shown["Cold"] == "0" and shown["Warm"] != "0"
    lead_id = scored.store.scores.ranked("warm", limit=1)[0].lead_id
    at.text_input(key="f_search").input(lead_id.lower())
    at.run()
    assert metrics(at)["Leads shown"] == "1"
    at.button(key="open_search").click()
    at.run()
    no_exceptions(at)
    assert at.title[0].value == "Lead detail"
    assert metrics(at)["Segment"] == "Warm"


def test_leads_page_without_scores_says_what_to_do(env: Env) -> None:
    at = signed_in()
    no_exceptions(at)
    assert "No scored leads yet" in at.info[0].value


def test_leads_and_monitoring_pages_work_on_ten_thousand_leads(env: Env) -> None:
    # how long they take: bench/dashboard_pages.py (speed goals are not asserted here)
    rng = np.random.default_rng(0)
    n = 10_000
    scores = rng.beta(1, 6, n)
    ids = [f"L{i:06d}" for i in range(n)]
    env.store.leads.upsert_many(
        {
            lead: {"source": ["google", "email", "direct"][i % 3], "country": "France",
                   "created_at": f"2026-04-{1 + i % 28:02d}T10:00:00"}
            for i, lead in enumerate(ids)
        }
    )  # fmt: skip
    reasons = [{"direction": "up", "text": "Source: email → +5", "field": "source"}]
    add_scores(env.store,
        [
            NewScore(lead, "1", float(p), round(p * 100), "hot" if p > 0.3 else "cold",
                     p > 0.1, reasons=reasons)
            for lead, p in zip(ids, scores, strict=True)
        ]
    )  # fmt: skip
    at = app()
    sign_in_as(at, ADMIN, ADMIN_PASSWORD)  # the first visit fills the caches
    no_exceptions(at)
    assert metrics(at)["Leads shown"] == "10,000"
    at.multiselect(key="f_source").set_value(["email"])
    at.run()
    assert metrics(at)["Leads shown"] == f"{len(ids[1::3]):,}"
    at.switch_page("views/monitoring.py")
    at.run()
    no_exceptions(at)
    assert "10,000 scores of 10,000 leads" in at.caption[0].value


# ----------------------------------------------------------------------------- lead detail


def test_lead_detail_shows_score_history_reasons_ideal_and_attributes(scored: Env) -> None:
    best = scored.store.scores.ranked("hot", limit=1)[0]
    add_score(scored.store, best.lead_id, "old", 0.05, 5, "cold", False, scored_at=T0)
    scored.store.events.add(best.lead_id, [{"time": T0, "event": "page_view", "url": "/pricing"}])
    at = signed_in()
    load_demo(at)  # labelled leads: the ideal customer is described from them
    at.query_params["lead"] = best.lead_id
    at.switch_page("views/lead.py")
    at.run()
    no_exceptions(at)
    shown = metrics(at)
    assert shown["Score"] == str(best.score_100) and shown["Segment"] == "Hot"
    assert {"Score history", "Why this score"} <= set(chart_titles(at))
    reasons = at.markdown[0].value
    assert "▲" in reasons and r"→ \+" in reasons  # markdown-escaped: "→ +12"
    assert "Distance from the ideal customer" in chart_titles(at) or at.success
    frames = {tuple(f.value.columns) for f in at.dataframe}
    assert ("field", "value") in frames  # raw attributes
    assert ("time", "event", "properties") in frames  # events


def test_lead_page_says_how_leads_like_it_converted_in_earlier_weeks(env: Env) -> None:
    now = datetime.now(UTC)
    earlier = now - timedelta(days=21)
    items = [NewScore(f"W{i}", "1", 0.84, 84, "hot", True, scored_at=earlier) for i in range(8)]
    items.append(NewScore("NEW", "1", 0.81, 81, "hot", True, scored_at=now))
    add_scores(env.store, items)
    env.store.leads.backdate({f"W{i}": earlier for i in range(8)})
    for i in range(8):  # 3 of the 8 leads that scored 80–89 three weeks ago converted
        env.store.outcomes.add(f"W{i}", i < 3, occurred_at=earlier + timedelta(days=5))
    at = signed_in()
    at.query_params["lead"] = "NEW"
    at.switch_page("views/lead.py")
    at.run()
    no_exceptions(at)
    captions = [c.value for c in at.caption]
    assert any(
        c.startswith("Leads scoring 80–89 in earlier weeks converted at 38 % (3 of 8)")
        for c in captions
    ), captions


def test_lead_detail_for_an_unknown_lead(scored: Env) -> None:
    at = signed_in()
    at.query_params["lead"] = "nobody"
    at.switch_page("views/lead.py")
    at.run()
    assert "No lead with id 'nobody'" in at.warning[0].value


# ----------------------------------------------------------------------------- data


def bad_numbers_csv() -> bytes:
    rows = ["lead_id,visits,source,converted"]
    rows += [f"L{i},{i % 7},google,{'yes' if i % 4 == 0 else 'no'}" for i in range(60)]
    rows[20] = "L19,abc,google,no"
    return ("\n".join(rows) + "\n").encode()


def test_a_bad_upload_shows_the_cli_error_and_stores_nothing(env: Env) -> None:
    at = signed_in(page="data")
    no_exceptions(at)
    content = bad_numbers_csv()
    (env.root / "bad.csv").write_bytes(content)
    with pytest.raises(SchemaError) as cli_error:  # what `leadscore audit bad.csv` prints
        prepare_table(env.root / "bad.csv", Roles(), Settings())
    at.file_uploader(key="upload").set_value(("bad.csv", content, "text/csv"))
    at.run()
    at.button(key="load_upload").click()
    at.run()
    no_exceptions(at)
    assert [e.value for e in at.error] == [f"bad.csv: {cli_error.value}"]
    assert "column 'visits' holds numbers" in at.error[0].value
    assert env.store.settings.get(DATASET_KEY) is None
    assert not env.datasets.exists() or not any(env.datasets.iterdir())

    at.file_uploader(key="upload").set_value(("empty.csv", b"", "text/csv"))
    at.run()
    at.button(key="load_upload").click()
    at.run()
    assert [e.value for e in at.error] == ["file is empty: empty.csv"]  # named once
    assert env.store.settings.get(DATASET_KEY) is None


def test_uploads_over_the_size_limit_are_refused(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_UI_MAX_UPLOAD_MB", "1")
    at = signed_in(page="data")
    big = b"a,b\n" + b"1,2\n" * 300_000  # 1.2 MB
    at.file_uploader(key="upload").set_value(("big.csv", big, "text/csv"))
    at.run()
    at.button(key="load_upload").click()
    at.run()
    assert "files up to 1 MB can be uploaded" in at.error[0].value
    assert env.store.settings.get(DATASET_KEY) is None


def test_a_good_upload_becomes_the_data_set_with_preview_and_audit(env: Env) -> None:
    at = signed_in(page="data")
    content = workspace.demo_csv(rows=400, new_rows=80)
    at.file_uploader(key="upload").set_value(("leads.csv", content, "text/csv"))
    at.run()
    at.button(key="load_upload").click()
    at.run()
    no_exceptions(at)
    assert at.success[0].value == "Loaded leads.csv: 480 leads."
    shown = metrics(at)
    assert shown["Leads"] == "480" and shown["Open in this table"] == "80"
    assert env.store.settings.get(DATASET_KEY) is not None
    assert len(at.dataframe[0].value) == 200  # the preview
    leaks = [e.value for e in at.error if "Leakage suspect" in e.value]
    assert len(leaks) == 1 and r"sales\_status" in leaks[0]  # markdown-escaped

    at.selectbox(key="role_time").set_value("created_at")
    at.button(key="FormSubmitter:roles-Save the roles").click()
    at.run()
    no_exceptions(at)
    info = workspace.Workspace(env.root / "dashboard").dataset(
        env.store.settings.get(DATASET_KEY)["id"]
    )
    assert info is not None and info.roles["time"] == "created_at"


def test_viewers_see_the_data_but_cannot_load_any(env: Env) -> None:
    load_demo(signed_in())
    at = signed_in(VIEWER, VIEWER_PASSWORD, page="data")
    no_exceptions(at)
    assert not [b for b in at.button if b.key == "load_demo"]
    assert at.subheader[0].value == "Current data set: demo leads"


def test_a_sql_table_loads_and_its_open_leads_are_scored(env: Env) -> None:
    import sqlite3

    frame = workspace.demo_frame(rows=300, new_rows=40)
    with sqlite3.connect(env.root / "crm.db") as conn:
        frame.to_sql("leads", conn, index=False)
    at = signed_in(page="data")
    at.text_input(key="sql_url").input(f"sqlite:///{env.root / 'crm.db'}")
    at.text_input(key="sql_table").input("leads")
    at.run()
    at.button(key="load_sql").click()
    at.run()
    no_exceptions(at)
    assert at.success[0].value == "Loaded leads: 340 leads."
    at.button(key="score_open").click()  # with the served model
    at.run()
    no_exceptions(at)
    assert at.success[0].value == "Scored 40 leads into the work queue."
    assert sum(env.store.scores.segment_counts().values()) == 40


# ----------------------------------------------------------------------------- models


def test_train_from_the_dashboard_serves_the_model_and_fills_the_queue(env: Env) -> None:
    at = load_demo(signed_in())
    at.switch_page("views/models.py")
    at.run()
    no_exceptions(at)
    at.radio(key="train_which").set_value("Choose")
    at.multiselect(key="train_models").set_value(["logreg_l2", "naive_bayes"])
    button(at, "Compare and train").click()
    at.run(timeout=180)
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    done = [s.value for s in at.success]
    assert any(s.startswith("Trained **") for s in done)
    assert any("300 leads were scored into the work queue" in s for s in done)
    assert any("LEFT OUT: sales_status" in w.value for w in at.warning)
    assert "Leaderboard" in chart_titles(at)
    served = env.store.settings.get(SERVING_KEY)["reference"]
    assert Path(served).parent == env.root / "dashboard" / "models"
    assert sum(env.store.scores.segment_counts().values()) == 300

    # serve the earlier model again
    place = workspace.Workspace(env.root / "dashboard")
    earlier = next(
        e
        for e in model_catalogue.catalogue(Settings(), place)
        if e.reference == str(env.model_dir.resolve())
    )
    next(b for b in at.selectbox if b.label == "Model").set_value(earlier)
    at.run()
    at.button(key="serve").click()
    at.run()
    no_exceptions(at)
    assert env.store.settings.get(SERVING_KEY)["reference"] == str(env.model_dir.resolve())


def test_business_values_move_the_threshold_and_profit(env: Env) -> None:
    at = signed_in(page="models")
    no_exceptions(at)
    assert {"ROC curve", "Precision and recall", "Calibration", "Profit by contact threshold"} <= (
        set(chart_titles(at))
    )
    before = metrics(at)
    at.number_input(key="wi_cost").set_value(60.0)
    at.run()
    after = metrics(at)
    assert float(after["Contact threshold (score)"]) > float(before["Contact threshold (score)"])
    assert after["Expected profit"] != before["Expected profit"]
    at.button(key="save_business").click()
    at.run()
    assert env.store.settings.get(BUSINESS_KEY)["cost_per_contact"] == 60.0


def test_stored_leads_are_scored_again_with_the_served_model(scored: Env) -> None:
    before = len(scored.store.scores.points())
    at = signed_in(page="models")
    at.button(key="rescore").click()
    at.run()
    no_exceptions(at)
    assert at.success[0].value == "Scored 200 stored leads again."
    assert len(scored.store.scores.points()) == before + 200


# ----------------------------------------------------------------------------- insights


def test_insights_page(env: Env) -> None:
    at = load_demo(signed_in())
    at.switch_page("views/insights.py")
    at.run()
    no_exceptions(at)
    titles = chart_titles(at)
    assert "What drives the score" in titles
    assert {"Conversion by source", "Conversion by country", "Conversion by device"} <= set(titles)
    assert "How each segment matches the ideal customer" in titles
    assert "converts" in at.markdown[0].value  # the findings
    ideal = at.dataframe[0].value
    assert "Source" in set(ideal["field"])
    assert any(label.startswith("Hot leads differ") for label in metrics(at))


def test_insights_without_labelled_leads(scored: Env) -> None:
    at = signed_in(page="insights")
    no_exceptions(at)
    assert "known outcome" in at.info[0].value


# ----------------------------------------------------------------------------- monitoring


def test_monitoring_distribution_movers_and_realised_conversion(env: Env) -> None:
    # within the report's period (the last 30 days)
    day1 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=5)
    day2 = day1 + timedelta(days=1)
    items = []
    for i in range(40):
        lead = f"M{i:03d}"
        before = 10 + i
        now = before + (40 if i % 5 == 0 else 2)
        items.append(NewScore(lead, "1", before / 100, before, "cold", False, scored_at=day1))
        items.append(NewScore(lead, "1", now / 100, now, "warm", True, scored_at=day2))
    # and a few leads scored once: worked, one of them explored
    recent = day1 + timedelta(hours=2)
    for i in range(6):
        explored = i == 5
        items.append(
            NewScore(f"R{i}", "1", 0.6 - 0.1 * i, 60 - 10 * i, "warm", True, scored_at=recent,
                     explored=explored, propensity=0.05 if explored else 1.0)
        )  # fmt: skip
    add_scores(env.store, items)
    for i in range(40):
        env.store.outcomes.add(f"M{i:03d}", i % 3 == 0, occurred_at=day2 + timedelta(days=3))
    for i in range(6):
        env.store.outcomes.add(f"R{i}", i in (0, 5), occurred_at=recent + timedelta(hours=20))
    at = signed_in(page="monitoring")
    no_exceptions(at)
    titles = chart_titles(at)
    assert {"Score distribution over time", "Segments by day"} <= set(titles)
    assert "Realised conversion by score band" in titles
    moved = next(d.value for d in at.dataframe if "change" in d.value.columns)
    assert set(moved["lead_id"]) == {f"M{i:03d}" for i in range(0, 40, 5)}
    assert (moved["change"] == 40).all()
    assert {"causes", "reasons"} <= set(moved.columns)
    headers = [h.value for h in at.subheader]
    assert {"Outcomes against predictions", "Cohorts by week created"} <= set(headers)
    bands = next(d.value for d in at.dataframe if "band" in d.value.columns)
    assert int(bands["leads"].sum()) == 46  # each lead at its score before its outcome
    assert "Every lead, not only the contacted ones" in headers
    judged = next(d.value for d in at.dataframe if "estimate" in d.value.columns)
    assert judged["estimate"].str.startswith(("naive", "corrected")).all()


# ----------------------------------------------------------------------------- settings


def test_settings_are_refused_to_viewers(scored: Env) -> None:
    at = signed_in(VIEWER, VIEWER_PASSWORD)
    no_exceptions(at)
    at.switch_page("views/settings.py")
    at.run()
    no_exceptions(at)
    assert "The Settings page is for admins only" in at.error[0].value
    assert not at.tabs and not at.get("form")


def test_admins_manage_business_values_keys_webhooks_and_users(env: Env) -> None:
    at = signed_in(page="settings")
    no_exceptions(at)
    next(n for n in at.number_input if n.label == "Cost of a contact").set_value(30.0)
    button(at, "Save the business values").click()
    at.run()
    assert env.store.settings.get(BUSINESS_KEY)["cost_per_contact"] == 30.0

    text_input(at, "Who or what uses the key").input("crm-sync")
    button(at, "Create a key").click()
    at.run()
    key = at.code[0].value
    assert key.startswith("ls_") and env.store.keys.authenticate(key).name == "crm-sync"

    text_input(at, "URL").input("https://crm.example.com/hooks")
    button(at, "Add the webhook").click()
    at.run()
    assert [h.url for h in env.store.webhooks.all()] == ["https://crm.example.com/hooks"]

    text_input(at, "User name").input("Carol")
    button(at, "Add the user").click()
    at.run()
    no_exceptions(at)
    password = at.code[-1].value
    assert env.store.users.get("carol").role == "viewer"
    assert env.store.users.login("carol", password).ok

    text_input(at, "User name").input("carol")
    button(at, "Add the user").click()
    at.run()
    assert "there is already a user 'carol'" in at.error[0].value


# ----------------------------------------------------------------------------- plain modules


def queue_entries() -> list[Any]:
    from leadscore.store import QueueEntry

    rows = [("A", 0.9, "hot", "google", "2026-04-01"), ("B", 0.5, "warm", "email", "2026-04-03"),
            ("C", 0.1, "cold", None, "2026-04-05")]  # fmt: skip
    return [
        QueueEntry(lead, p, round(p * 100), seg, p > 0.3,
                   [{"direction": "up", "text": f"{lead} up"}, {"direction": "down", "text": "x"}],
                   T0, "1", {"source": src, "created_at": day, "score": 1}, T0)
        for lead, p, seg, src, day in rows
    ]  # fmt: skip


def test_queue_frame_filters_and_csv() -> None:
    frame = frames.queue_frame(queue_entries())
    assert list(frame.columns[: len(frames.QUEUE_COLUMNS)]) == list(frames.QUEUE_COLUMNS)
    assert "score (lead)" in frame.columns  # an attribute named like a queue column
    assert frame["top_reasons"].tolist() == ["A up", "B up", "C up"]
    keys = frames.key_columns(frame)
    assert keys["source"] == "source" and keys["created"] == "created_at"
    assert frames.segment_counts(frame) == {"hot": 1, "warm": 1, "cold": 1}
    pick = frames.filter_queue(frame, levels={"source": ["(missing)", "email"]})
    assert pick["lead_id"].tolist() == ["B", "C"]
    dated = frames.filter_queue(
        frame, date_column="created_at", start=datetime(2026, 4, 2).date(),
        end=datetime(2026, 4, 4).date(),
    )  # fmt: skip
    assert dated["lead_id"].tolist() == ["B"]
    assert frames.filter_queue(frame, segments=["hot"], search="a")["lead_id"].tolist() == ["A"]
    csv = pd.read_csv(pd.io.common.BytesIO(frames.queue_csv(frame)))
    assert csv["rank"].tolist() == [1, 2, 3] and "score" not in csv.columns
    from leadscore.ui.queue_table import queue_view

    assert queue_view(frame, keys, None)[1][:3] == ["lead_id", "score_100", "segment"]


def test_movers_bands_and_daily_distribution() -> None:
    from leadscore.store import ScorePoint

    points = frames.points_frame(
        [ScorePoint("A", 10, "cold", T0, "1"), ScorePoint("B", 50, "warm", T0, "1"),
         ScorePoint("A", 60, "hot", T0 + timedelta(days=1), "1"),
         ScorePoint("B", 52, "warm", T0 + timedelta(days=1), "1")]
    )  # fmt: skip
    moved = frames.movers(points, min_jump=10)
    assert moved[["lead_id", "before", "now", "change"]].values.tolist() == [["A", 10, 60, 50]]
    daily = frames.daily_distribution(points)
    assert daily["leads"].tolist() == [2, 2] and daily["hot"].tolist() == [0.0, 0.5]
    outcomes = [
        OutcomeRecord(1, "A", True, T0 + timedelta(days=2), T0),
        OutcomeRecord(2, "B", False, T0 + timedelta(hours=1), T0),  # before B's 2nd score
    ]
    bands = frames.band_conversion(points, outcomes)
    assert bands[["band", "leads", "converted"]].values.tolist() == [
        ["50–59", 1, 0], ["60–69", 1, 1]
    ]  # fmt: skip
    assert frames.band_conversion(points, []).empty and frames.movers(points.iloc[0:0]).empty


def test_every_chart_has_a_title_and_labelled_axes(model_dir: Path) -> None:
    from leadscore.reporting.charts import (
        calibration_chart,
        precision_recall_chart,
        profit_chart,
        roc_chart,
    )
    from leadscore.reporting.evaluation import load_report_data

    report = load_report_data(model_dir)
    frame = frames.queue_frame(queue_entries())
    reasons = frames.reasons_frame([{"field": "f", "value": 1, "points": 3.0, "direction": "up",
                                   "text": "F: 1 → +3"}])  # fmt: skip
    built = [
        charts.donut(frames.segment_shares(frames.segment_counts(frame))),
        charts.score_histogram(frame),
        charts.score_history(pd.DataFrame({"scored_at": [T0], "score_100": [5], "segment": ["cold"],
                                           "model_version": ["1"]})),
        charts.reasons_chart(reasons),
        roc_chart(report.y, report.score, 0.1),
        precision_recall_chart(report.y, report.score),
        calibration_chart(report.y, report.score),
        profit_chart(model_insights.what_if(report.y, report.score, Business(), Business()).curve,
                            0.1, Business()),
    ]  # fmt: skip
    for chart in built:
        spec = charts.spec(chart)
        assert spec["title"]["text"]
        encodings = [layer.get("encoding", {}) for layer in spec.get("layer", [spec])]
        for axis in ("x", "y"):
            used = [enc[axis] for enc in encodings if "field" in enc.get(axis, {})]
            # shared by the layers of a chart: one of them names it
            assert not used or any(e.get("title") for e in used), (spec["title"]["text"], axis)


def test_read_upload_and_source_helpers(tmp_path: Path) -> None:
    assert workspace.read_upload("x.csv", b"a;b\n1;2\n", 100).columns.tolist() == ["a", "b"]
    with pytest.raises(DataError, match="upload a CSV or Parquet"):
        workspace.read_upload("leads.xlsx", b"PK", 100)
    with pytest.raises(DataError, match=r"has a header but no rows: h\.csv"):
        workspace.read_upload("h.csv", b"a,b\n", 100)
    with pytest.raises(DataError, match="files up to"):
        workspace.read_upload("big.csv", b"a\n" * 100, 10)
    parquet = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(parquet)
    assert len(workspace.read_upload("t.parquet", parquet.read_bytes(), 10_000)) == 2
    assert workspace.sql_source("sqlite:///crm.db", query="SELECT 1") == (
        "sqlite:///crm.db?query=SELECT%201"
    )
    with pytest.raises(DataError, match="either a table name or a SELECT"):
        workspace.sql_source("sqlite:///crm.db")
    with pytest.raises(DataError, match="conversion event"):
        workspace.leads_from_events("events.jsonl")


def test_data_sets_are_kept_with_their_roles_and_counts(tmp_path: Path) -> None:
    frame = workspace.demo_frame(rows=300, new_rows=50)
    settings = Settings(tracking=False)
    check = workspace.check_table(frame, settings.roles, settings)
    assert (check.target, check.labelled, check.open, check.trainable) == (
        "converted",
        300,
        50,
        True,
    )
    place = workspace.Workspace(tmp_path / "dash")
    info = place.save_dataset(frame, name="demo", source="demo", check=check, loaded_by="me")
    assert place.dataset(info.id) == info and place.dataset("../etc") is None
    assert place.frame(info).shape == frame.shape
    assert len(workspace.open_rows(frame, "converted", settings)) == 50
    assert len(workspace.labelled_rows(frame, "converted", settings)) == 300
    no_target = workspace.check_table(frame.drop(columns=["converted"]), Roles(), settings)
    assert (no_target.labelled, no_target.trainable) == (0, False)


def test_what_if_progress_sink_and_catalogue(model_dir: Path, tmp_path: Path) -> None:
    y, p = np.array([1, 0, 1, 0, 1, 0]), np.array([0.9, 0.6, 0.4, 0.3, 0.2, 0.1])
    cheap = model_insights.what_if(y, p, Business(cost_per_contact=1), Business())
    dear = model_insights.what_if(
        y, p, Business(cost_per_contact=100, missed_conversion_cost=0), Business()
    )
    assert dear.choice.threshold > cheap.choice.threshold
    assert cheap.trained == dear.trained

    job = jobs.Job(kind="train", user="me")
    sink = jobs.ProgressSink(job)
    sink.write("\x1b[2Kcomparing models ━━━━ 7/9 lightgbm 0:00:06\r")
    sink.write("LEFT OUT: sales_status — predicts the outcome\n")
    assert (job.phase, job.done, job.total) == ("comparing models", 7, 9)
    assert job.log == ["LEFT OUT: sales_status — predicts the outcome"]

    registry = tmp_path / "mlflow.db"
    settings = Settings(
        tracking=False, mlflow_uri=f"sqlite:///{registry}", service={"model": str(model_dir)}
    )
    entries = model_catalogue.catalogue(settings, workspace.Workspace(tmp_path))
    assert [e.reference for e in entries] == [str(model_dir.resolve())]
    key = model_catalogue.serving_key(str(model_dir), settings)
    assert key == model_catalogue.folder_key(model_dir) and model_catalogue.reference_of(
        key
    ) == str(model_dir.resolve())
    with pytest.raises(LeadscoreError, match="served model folder is gone"):
        model_catalogue.serving_key(str(tmp_path / "gone" / "model"), settings)
    with pytest.raises(LeadscoreError, match="no model trained yet"):
        model_catalogue.serving_key("champion", settings)
    assert not registry.exists()  # looking did not create an empty registry


def test_jobs_run_one_at_a_time_and_keep_errors(tmp_path: Path) -> None:
    place = workspace.Workspace(tmp_path)

    def slow(job: jobs.Job) -> dict[str, Any]:
        time.sleep(0.3)
        raise LeadscoreError("no luck")

    job = jobs.start_job(place, "train", "me", slow)
    with pytest.raises(LeadscoreError, match="still running"):
        jobs.start_job(place, "compare", "you", lambda job: {})
    assert job.thread is not None
    job.thread.join(5)
    assert not job.running and job.error == "no luck" and jobs.current_job(place) is job
    jobs.forget_job(place, job)
    assert jobs.current_job(place) is None


def test_score_into_store_keeps_the_raw_attributes_and_respects_capacity(env: Env) -> None:
    from leadscore.modeling.model import LeadModel

    fresh = generate_leads(30, seed=5, labelled=False).table.assign(company="ACME")
    settings = Settings(tracking=False, business=Business(capacity=5))
    n = batch_scoring.score_into_store(
        LeadModel.load(env.model_dir), fresh, env.store, "v", settings
    )
    assert n == 30
    queue = env.store.scores.queue()
    assert sum(e.contact and not e.explored for e in queue) == 5  # exploration on top
    assert queue[0].attributes["company"] == "ACME" and queue[0].reasons


def test_signed_in_user_follows_role_changes_and_removal(env: Env) -> None:
    state: dict[str, Any] = {}
    assert sign_in(env.store, state, VIEWER, VIEWER_PASSWORD).ok
    assert current_user(state, env.store) == SessionUser(VIEWER, "viewer")
    env.store.users.set_role(VIEWER, "admin")
    assert current_user(state, env.store).is_admin
    env.store.users.set_role(VIEWER, "viewer")
    env.store.users.remove(VIEWER)
    assert current_user(state, env.store) is None and SESSION_KEY not in state


def test_ui_config_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from leadscore.errors import ConfigError

    monkeypatch.setenv("LEADSCORE_UI_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("LEADSCORE_UI_MAX_UPLOAD_MB", "3")
    config = UIConfig.from_env()
    assert config.directory == tmp_path / "d" and config.max_upload_bytes == 3 * 1024 * 1024
    monkeypatch.setenv("LEADSCORE_UI_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ConfigError, match="whole number of MB"):
        UIConfig.from_env()


# ----------------------------------------------------------------------------- commands


def test_users_commands(env: Env) -> None:
    from leadscore.cli import app as cli

    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "Dora", "--role", "admin"])
    assert added.exit_code == 0, added.output
    password = added.output.strip().splitlines()[-1]
    assert env.store.users.login("dora", password).ok
    listed = runner.invoke(cli, ["users", "list"])
    assert "dora" in listed.output and "admin" in listed.output
    assert runner.invoke(cli, ["users", "set-role", "dora", "viewer"]).exit_code == 0
    assert env.store.users.get("dora").role == "viewer"
    chosen = runner.invoke(cli, ["users", "set-password", "dora", "--password", "brand-new-1"])
    assert chosen.exit_code == 0 and env.store.users.login("dora", "brand-new-1").ok
    assert runner.invoke(cli, ["users", "remove", "dora"]).exit_code == 0
    assert env.store.users.get("dora") is None
    refused = runner.invoke(cli, ["users", "remove", ADMIN])
    assert refused.exit_code == 2 and "last admin" in refused.output
    short = runner.invoke(cli, ["users", "add", "eve", "--password", "short"])
    assert short.exit_code == 2 and "at least 8 characters" in short.output


def test_ui_command_runs_streamlit_with_the_store_and_folder(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from leadscore.cli import app as cli

    seen: dict[str, Any] = {}

    def fake_exec(path: str, command: list[str], env: dict[str, str]) -> Any:
        seen.update(path=path, command=command, env=env)
        raise SystemExit(0)  # where the real one would become Streamlit

    monkeypatch.setattr(os, "execve", fake_exec)
    (env.root / "leads.csv").write_bytes(workspace.demo_csv(rows=200, new_rows=20))
    arguments = ["ui", "--port", "8765", "--dir", "dash", "--max-upload-mb", "5"]
    result = CliRunner().invoke(cli, [*arguments, "--data", "leads.csv"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8765" in result.output
    command = seen["command"]
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(APP)
    assert seen["path"] == command[0]  # this process becomes Streamlit: signals reach it
    assert command[command.index("--server.port") + 1] == "8765"
    assert command[command.index("--server.headless") + 1] == "true"
    assert command[command.index("--server.maxUploadSize") + 1] == "5"
    assert seen["env"]["LEADSCORE_DATABASE_URL"] == env.url
    assert seen["env"]["LEADSCORE_UI_DIR"] == str(env.root / "dash")
    assert "current data set: leads.csv (220 leads, 200 with an outcome)" in result.output
    info = workspace.Workspace(env.root / "dash").dataset(env.store.settings.get(DATASET_KEY)["id"])
    assert info is not None and info.loaded_by == "leadscore ui"


def test_queue_csv_neutralises_formulas_and_keeps_numbers() -> None:
    import csv
    import io

    from leadscore.store import QueueEntry

    attributes = {
        "source": '=HYPERLINK("http://evil.example","click")',
        "plus": "+cmd|' /C calc'!A0",
        "minus": "-2+3",
        "at": "@SUM(1+1)*cmd|' /C calc'!A0",
        "tab": "\t=1+2",
        "cr": "\r=1+2",
        "fine": "google",
        "negative": -5,
        "negative_float": -2.5,
        "negative_text": "-12.5",
        "=1+1": "a column named like a formula",
    }
    entries = [
        QueueEntry("=1+2", 0.9, 90, "hot", True, [{"direction": "up", "text": "=2+2 up"}],
                   T0, "1", attributes, T0),
        QueueEntry("L2", 0.1, 10, "cold", False, [], T0, "1", {"negative": 3}, T0),
    ]  # fmt: skip
    text = frames.queue_csv(frames.queue_frame(entries)).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    first, second = (dict(zip(header, row, strict=True)) for row in rows[1:])
    assert "'=1+1" in header and "=1+1" not in header
    assert first["lead_id"] == "'=1+2" and first["top_reasons"] == "'=2+2 up"
    assert first["source"] == "'" + attributes["source"]
    assert first["plus"] == "'+cmd|' /C calc'!A0" and first["minus"] == "'-2+3"
    assert first["at"].startswith("'@") and first["tab"] == "'\t=1+2"
    assert first["cr"] == "'\r=1+2" and first["fine"] == "google"
    # numbers are not formulas, negative ones included, nor is text that is just a number
    assert first["negative"] in ("-5", "-5.0") and first["negative_float"] == "-2.5"
    assert first["negative_text"] == "-12.5" and second["negative"] in ("3", "3.0")
    assert first["rank"] == "1" and first["score_100"] == "90"
    # no cell of the file starts like a formula any more
    starts = ("=", "+", "@", "\t", "\r")
    assert not [cell for row in rows for cell in row if cell.startswith(starts)]
