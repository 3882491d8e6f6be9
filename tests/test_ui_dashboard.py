"""Issue 22's dashboard items where a browser adds nothing: pages through Streamlit's
AppTest, and the plain modules behind them (who a lead is, the queue's table, the score
form, the insights' field choice and cross-check, upload messages, the demo's CRM).

tests/test_ui_dashboard_browser.py checks the same pages in a real browser on a store
like ``make demo``'s. Every test here fails on the code before issue 22.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import leadscore.ui
from leadscore.config import Settings
from leadscore.data.lead_table import prepare_table
from leadscore.data.roles import identity_columns, infer_id
from leadscore.data.table_files import binary_kind
from leadscore.demo import generate_events, generate_leads
from leadscore.errors import DataError, SchemaError
from leadscore.explain.wording import field_label
from leadscore.lifecycle.train import train
from leadscore.live.batch import store_events, store_scores
from leadscore.modeling.model import LeadModel
from leadscore.store import QueueEntry, Store
from leadscore.ui import batch_scoring, charts, frames, lead_form, model_insights, workspace
from leadscore.ui.identity import crm_link, identity_of
from leadscore.ui.queue_table import REASONS_WIDTH, WRAP_FROM, reasons_row_height

APP = Path(leadscore.ui.__file__).resolve().parent / "app.py"
ADMIN, PASSWORD = "admin", "admin-password"
#: who each lead is, as a CRM export has it (a company and an owner repeat across leads)
WHO = {
    "Full Name": ["Ana Lima", "Ben Carter", "Chloé Martin", "Dev Patel"],
    "Company": ["Acme", "Acme", "Initech", "Globex"],
    "E-mail": ["ana@acme.example", "ben@acme.example", "chloe@initech.example", None],
    "Lead Owner": ["Maria", "Maria", "Tom", "Tom"],
    "Phone": ["+34 600 000 001", None, "+44 20 7946 0000", "+1 555 0100"],
}


def with_identity(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the :data:`WHO` columns, repeated down its rows."""
    out = frame.copy()
    for column, values in WHO.items():
        out[column] = [values[i % len(values)] for i in range(len(out))]
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small served model trained on demo leads that also say who each lead is."""
    out = tmp_path_factory.mktemp("served") / "model"
    train(
        with_identity(generate_leads(600, seed=3).table),
        settings=Settings(tracking=False, cv_folds=3),
        models=["logreg_l2"],
        out=out,
        show_progress=False,
        target="converted",
        id="lead_id",
    )
    return out


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path) -> Iterator[Store]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", url)
    monkeypatch.setenv("LEADSCORE_SERVICE__MODEL", str(model_dir))
    monkeypatch.setenv("LEADSCORE_UI_DIR", str(tmp_path / "dashboard"))
    monkeypatch.setenv("LEADSCORE_TRACKING", "false")
    monkeypatch.setenv("LEADSCORE_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("LEADSCORE_CONFIG", raising=False)
    with Store(url) as opened:
        opened.users.add(ADMIN, PASSWORD, "admin")
        yield opened


@pytest.fixture
def scored(store: Store, model_dir: Path) -> Store:
    """The store with 60 fresh leads (who they are too) scored by the served model."""
    fresh = with_identity(generate_leads(60, seed=11, labelled=False).table)
    batch_scoring.score_into_store(
        LeadModel.load(model_dir), fresh, store, "1", Settings(tracking=False)
    )
    return store


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    at.switch_page(f"views/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ----------------------------------------------------------------------------- who


def test_identity_columns_are_never_model_inputs() -> None:
    table = prepare_table(with_identity(generate_leads(200, seed=1).table))
    assert not set(WHO) & set(table.features.columns)
    assert table.excluded["Company"] == (
        "identifier: who the lead is (company), shown to people, never a model input"
    )
    assert table.excluded["Lead Owner"].startswith("identifier: who the lead is (owner)")
    assert identity_columns(WHO) == {
        "Full Name": "name", "Company": "company", "E-mail": "email", "Lead Owner": "owner",
        "Phone": "phone",
    }  # fmt: skip
    # an id is inferred among columns unique per row, never an owner shared by leads
    leads = pd.DataFrame({"owner": ["a", "b", "c"], "visits": [1.5, 2.5, 3.5]})
    assert infer_id(leads) is None
    assert infer_id(leads.assign(email=["a@x", "b@x", "c@x"])) == "email"  # nothing else
    # features that merely mention a name stay features
    assert identity_columns(["company_size", "Do Not Email", "lead_source", "mobile"]) == {}


def test_the_demo_crm_says_who_each_lead_is() -> None:
    demo = generate_events(300, seed=2)
    crm = demo.crm
    assert {"name", "company", "email", "owner"} <= set(crm.columns)
    assert crm[["name", "company", "email", "owner"]].notna().all().all()
    # every row of a lead agrees (a change after the outcome keeps who the lead is)
    assert (crm.groupby("lead_id")[["name", "company", "email"]].nunique() == 1).all().all()
    first = crm.drop_duplicates("lead_id")
    assert first["email"].str.fullmatch(r"[a-z]+\.[a-z]+@[a-z]+-[a-z]+\.example").all()
    assert first["owner"].nunique() >= 4 and first["company"].nunique() > 20


def test_batch_scores_keep_who_the_lead_is_and_its_events(store: Store, model_dir: Path) -> None:
    model = LeadModel.load(model_dir)
    fresh = with_identity(generate_leads(4, seed=5, labelled=False).table)
    store_scores(store, model, fresh, model.score_leads(fresh), "1")
    who = identity_of(store.leads.get(str(fresh["lead_id"][0])).attributes)
    assert (who.name, who.company, who.owner) == ("Ana Lima", "Acme", "Maria")
    events = pd.DataFrame(
        {"lead_id": ["a", "a", "b"], "event": ["page_view", "signup", "x"],
         "timestamp": pd.to_datetime(["2026-03-02 09:00", "2026-03-02 09:05", "2026-03-03 08:00"])}
    )  # fmt: skip
    assert store_events(store, events, ["a"]) == 2
    assert store_events(store, events, ["a"]) == 0  # stored once
    assert [e.name for e in store.events.for_lead("a")] == ["page_view", "signup"]


def test_the_crm_link_template_is_checked_and_filled() -> None:
    settings = Settings(dashboard={"crm_url": "https://crm.example.com/leads/{lead_id}"})
    assert (
        crm_link(settings.dashboard.crm_url, "L 1/2") == "https://crm.example.com/leads/L%201%2F2"
    )
    for bad in ("crm.example.com/{lead_id}", "https://crm.example.com/{id}", "https://x/"):
        with pytest.raises(ValueError, match="crm_url"):
            Settings(dashboard={"crm_url": bad})


def test_the_queue_shows_who_and_reasons_rows_tall_enough_to_read(scored: Store) -> None:
    at = page("leads")
    table = next(d for d in at.dataframe if d.key == "top_hot")
    shown = table.value
    assert {"who_name", "who_company", "who_owner"} <= set(shown.columns)
    assert shown.columns[0] == "lead_id" and "top_reasons" in shown.columns
    # every reason readable: the rows are tall enough for the longest, wrapped (Streamlit
    # wraps only in rows taller than 4rem), in a column as wide as it was measured for
    longest = shown["top_reasons"].str.len().max()
    assert longest * 7 > REASONS_WIDTH - 16, "the reasons fit one line: nothing to check"
    assert table.proto.row_height >= reasons_row_height(shown["top_reasons"]) > WRAP_FROM
    config = json.loads(table.proto.columns)
    assert config["top_reasons"]["width"] == REASONS_WIDTH


def test_leads_without_a_creation_date_keep_the_date_the_store_saw_them() -> None:
    day = datetime(2026, 4, 3, 12, tzinfo=UTC)
    entries = [
        QueueEntry("A", 0.9, 90, "hot", True, [], day, "1", {"created_at": "2026-01-02"}, day),
        QueueEntry("API", 0.5, 50, "warm", True, [], day, "1", {"created_at": None}, day),
    ]
    frame = frames.queue_frame(entries)
    dates = frames.lead_dates(frame, "created_at")
    assert dates.dt.date.tolist() == [date(2026, 1, 2), date(2026, 4, 3)]
    april = frames.filter_queue(
        frame, date_column="created_at", start=date(2026, 4, 1), end=date(2026, 4, 30)
    )
    assert april["lead_id"].tolist() == ["API"]


def test_settings_without_a_served_model_leave_the_cutoffs_empty(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LEADSCORE_SERVICE__MODEL", str(tmp_path / "no-model-here"))
    at = page("settings")
    inputs = {n.label.split(" (")[0]: n for n in at.number_input}
    assert inputs["Hot from score"].value is None and inputs["Warm from score"].value is None
    assert any("No model is served" in w.value for w in at.warning)


# ----------------------------------------------------------------------------- uploads

#: file → what the Data page must say (and must not)
BAD_UPLOADS = {
    "garbage.csv": (b"lead_id,visits,converted\n", "file has a header but no rows: garbage.csv"),
    "random.csv": (
        np.random.default_rng(0).bytes(4000),
        "cannot read random.csv as a CSV table: it looks like binary data",
    ),
    "book.csv": (b"PK\x03\x04" + bytes(200), "it looks like a ZIP archive or an Excel workbook"),
    "ragged.csv": (
        b"lead_id,visits\nL1,3\nL2,4,yes\n",
        "cannot parse ragged.csv as CSV: line 3 has 3 fields where the header has 2",
    ),
    "contacts.csv": (
        b"lead_id,email\nL1,a@x.example\nL2,b@x.example\n",
        "contacts.csv: no outcome column: none is named like one",
    ),
}


@pytest.mark.parametrize("name", list(BAD_UPLOADS))
def test_bad_uploads_say_what_is_wrong_naming_the_file_once(store: Store, name: str) -> None:
    content, expected = BAD_UPLOADS[name]
    at = page("data")
    at.file_uploader(key="upload").set_value((name, content, "text/csv"))
    at.run()
    at.button(key="load_upload").click()
    at.run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert expected in error, error
    assert error.count(name) == 1, error
    assert not re.search(r"tokeniz|C error", error), error


def test_binary_files_are_told_from_text() -> None:
    assert binary_kind(b"%PDF-1.7\n") == "a PDF document"
    assert binary_kind(b"SQLite format 3\x00").startswith("an SQLite database")
    assert binary_kind("lead,pays\nL1,café\tsí\r\n".encode()) is None
    with pytest.raises(SchemaError, match=r"^no outcome column"):
        frame = pd.DataFrame({"lead_id": ["a", "b"], "email": ["x", "y"]})
        prepare_table(frame, require_target=False)  # as the dashboard checks an upload


# ----------------------------------------------------------------------------- the Data page


def test_make_demo_text_says_what_the_makefile_does() -> None:
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    rows = re.search(r"demo-data --events .*?--rows (\d+) --new-rows (\d+)", makefile)
    days = re.search(r"demo-live --days (\d+)", makefile)
    assert rows and days
    text = workspace.make_demo_text()
    assert f"{int(rows[1]):,} leads with an outcome and {int(rows[2]):,} new" in text
    assert f"{days[1]} days are simulated" in text
    assert "1,500" not in text


def test_data_page_counts_the_scored_leads_beside_the_open_ones(scored: Store) -> None:
    at = page("data")
    at.button(key="load_demo").click()
    at.run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Scored leads"] == "60" and shown["Open in this table"] == "300"


# ----------------------------------------------------------------------------- insights


def test_insights_keep_the_fields_that_matter_and_mark_weak_drivers() -> None:
    drivers = pd.DataFrame(
        {"field": ["hours_to_demo_request", "seniority", "visits", "country"],
         "importance": [4.5, 2.0, 1.0, 0.5], "mean_points": [0.0] * 4}
    )  # fmt: skip
    measured = pd.DataFrame(
        {"feature": ["hours_to_demo_request", "seniority", "visits"],
         "importance": [0.0001, 0.03, 0.01]}
    )  # fmt: skip
    checked = model_insights.with_auc_drop(drivers, measured)
    assert model_insights.weak_drivers(checked)["field"].tolist() == ["hours_to_demo_request"]
    spec = charts.drivers_crosscheck_chart(checked, model_insights.WEAK_AUC_DROP).to_dict()
    rows = next(iter(spec["datasets"].values()))
    checks = {r["label"]: r["check"] for r in rows}
    assert checks[field_label("hours_to_demo_request")] == "weak on held-out leads"
    assert checks[field_label("seniority")] == "holds up"
    assert checks[field_label("country")] == "not measured"
    assert [part["title"]["text"] for part in spec["hconcat"]] == [
        "What drives the score", "Does it hold up?",
    ]  # fmt: skip

    profiles = pd.DataFrame(
        {"segment": ["hot", "cold"] * 4,
         "field": [f for f in ("visits", "country", "seniority", "journey") for _ in (0, 1)],
         "match_share": [0.8, 0.2, 0.7, 0.4, 0.9, 0.1, 1.0, 0.97],
         "distance_from_ideal": [0.5] * 8}
    )  # fmt: skip
    matter = model_insights.fields_that_matter(checked, profiles)
    assert matter == ["seniority", "visits", "country"]  # by importance; all-match left out
    kept = model_insights.profiles_of(profiles, matter)
    assert kept["field"].drop_duplicates().tolist() == matter
    hot = kept.loc[kept["segment"] == "hot", "distance_from_ideal"].iloc[0]
    assert hot == pytest.approx(1 - np.mean([0.9, 0.8, 0.7]))


# ----------------------------------------------------------------------------- score a lead


def test_the_score_form_checks_values_as_the_api_does(model_dir: Path) -> None:
    model = LeadModel.load(model_dir)
    fields = lead_form.form_fields(model)
    assert {f.name for f in fields} == set(model.schema_.names)
    ranked = model.importance_.sort_values("importance", ascending=False)["feature"].tolist()
    assert fields[0].name == ranked[0]
    source = next(f for f in fields if f.name == "source")
    assert source.kind == "categorical" and "google" in source.levels
    values = lead_form.parse_values(fields, {"visits": " 3 ", "source": "google"})
    assert values["visits"] == 3.0 and values["device"] is None
    with pytest.raises(DataError) as problems:
        lead_form.parse_values(
            fields, {"visits": "inf", "time_on_site_s": "nan", "source": "goo\x00gle"}
        )
    message = str(problems.value)
    assert "Visits: 'inf' is not a number" in message
    assert "'nan' is not a number" in message and "holds a control character" in message


def test_score_a_lead_page_scores_and_names_bad_values(store: Store) -> None:
    at = page("score")
    fields = {t.label: t for t in at.text_input}
    visits = next(label for label in fields if label.startswith("Visits"))
    fields[visits].input("many")
    next(b for b in at.button if b.label == "Score this lead").click()
    at.run()
    assert [e.value for e in at.error] == [
        f"Cannot score this lead: {visits}: 'many' is not a number"
    ]
    fields = {t.label: t for t in at.text_input}
    fields[visits].input("12")
    next(b for b in at.button if b.label == "Score this lead").click()
    at.run()
    assert not at.error
    shown = {m.label: m.value for m in at.metric}
    assert shown["Segment"] in ("Hot", "Warm", "Cold") and 0 <= int(shown["Score"]) <= 100
    assert any("▲" in m.value or "▼" in m.value for m in at.markdown)


def test_score_a_lead_without_a_served_model_says_so(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LEADSCORE_SERVICE__MODEL", str(tmp_path / "none"))
    at = page("score")
    assert "No model is served yet" in at.info[0].value and not at.get("form")
