"""Plain-language reasons and findings (leadscore.scoring.phrases, .labels, .field_facts),
the data dictionary that words them (leadscore.modeling.dictionary, the demo's
dictionary.csv) and the ideal-customer comparison (leadscore.explain.ideal).

The end-to-end tests train on the event demo as ``make demo`` does (with its dictionary) and
read the real-time reasons the API returns; the X Education test reads the findings of a
model on real data (skipped when ``../shared/datasets`` is absent).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from lead_rows import attributes
from leadscore.cli import app
from leadscore.config import Roles, Settings
from leadscore.data.lead_table import prepare_table
from leadscore.demo.dictionary import dictionary_rows
from leadscore.errors import DataError
from leadscore.explain.conversion import conversion_tables
from leadscore.explain.findings import findings, level_phrase
from leadscore.explain.ideal import ideal_comparison, segment_profiles
from leadscore.explain.insights import compute_insights
from leadscore.live import LiveScoring, ModelSlot
from leadscore.modeling.dictionary import (
    described_after_outcome,
    entries_for,
    read_data_dictionary,
    read_dictionary,
)
from leadscore.modeling.model import LeadModel
from leadscore.scoring.field_facts import default_actionable, infer_facts, phrasebook
from leadscore.scoring.phrases import (
    FieldFacts,
    Phrasebook,
    default_facts,
    number_words,
    range_words,
    statement,
    value_words,
)
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.scoring.reasons import reason_records, select_reasons
from leadscore.service.schemas import ReasonOut
from leadscore.service.views import score_out
from leadscore.store import Store

XEDUCATION = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "xeducation"
POST_CONTACT = [
    "Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity",
    "Asymmetrique Activity Index", "Asymmetrique Profile Index",
    "Asymmetrique Activity Score", "Asymmetrique Profile Score", "Lead Number",
]  # fmt: skip
#: what reasons read like before (besides a flag's "1 (high)"): an "h" unit on a
#: business-hours flag, a calendar date or a time to the minute
DEBUG_OUTPUT = re.compile(
    r"\b0 h\b|\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|"
    r"[A-Z][a-z]{2} \d{2} [A-Z][a-z]{2}, \d{2}:\d{2}|\d{2}:[1-5]\d\b"
)
#: a flag's value read as a number compared with quartiles: "Returned same day: 1 (high)"
FLAG_AS_NUMBER = re.compile(r": [01](\.0)? \((low|typical|high)\)|: [01](\.0)? →")
#: a float range as findings wrote it: "0.773 – 16.04", or 3+ decimals anywhere
RAW_RANGE = re.compile(r"\d – \d|\d\.\d{3}")

runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _numbers(values: list[float]) -> pd.Series:
    return pd.Series(values, dtype=float)


# ============================================================================= phrase rules


def test_yes_no_fields_read_as_statements_by_their_meaning() -> None:
    returned = infer_facts("returned_same_day", "numeric", _numbers([0, 1, 1, 0]))
    assert returned.kind == "flag" and returned.unit == ""
    assert statement(returned, 1.0) == "Returned the same day"
    assert statement(returned, 0.0) == "Did not return the same day"
    assert value_words(returned, 1.0) == "yes"  # never "1 (high)"
    # a yes/no category, and the data dictionary's own words
    said = infer_facts("returned_same_day", "categorical", categories=["no", "yes"],
                       entry={"levels": {"1": "Came back the same day",
                                         "0": "Did not come back the same day"}})  # fmt: skip
    assert statement(said, "yes") == "Came back the same day"
    assert statement(said, "no") == "Did not come back the same day"
    assert statement(infer_facts("is_customer", "numeric", _numbers([0, 1])), 0) == (
        "Is not customer"
    )


def test_flags_are_named_by_their_meaning_and_carry_no_unit() -> None:
    hours = infer_facts("first_visit_business_hours", "numeric", _numbers([0, 1, 0]))
    assert hours.kind == "flag" and hours.unit == ""
    assert statement(hours, 0.0) == "First visit in business hours: no"
    weekend = infer_facts("first_visit_weekend", "numeric", _numbers([0, 1]))
    assert statement(weekend, 1.0) == "First visit on a weekend: yes"
    # a count that happens to be 0 or 1 in the training leads is no flag
    assert infer_facts("demo_request_count", "numeric", _numbers([0, 1, 1])).kind == "numeric"


def test_units_only_where_they_are_units() -> None:
    assert default_facts("hours_to_return").unit == "h"
    assert default_facts("hours_to_return").label == "Time to return"
    assert default_facts("first_visit_business_hours").unit == ""
    assert default_facts("returned_same_day").unit == ""
    assert default_facts("visits_per_hours").unit == ""
    on_site = infer_facts("time_on_site_s", "numeric", _numbers(range(100, 2000, 100)))
    assert value_words(on_site, 1532.0) == "26 min (high)"
    assert value_words(on_site, 45.0) == "45 s (low)"
    assert value_words(default_facts("hours_to_return"), 73.0) == "3 days"
    assert value_words(default_facts("hours_to_return"), 2.73) == "2.7 hours"
    assert value_words(default_facts("conversion_pct"), 12.5) == "13 %"
    # a quartile range of one value says nothing: no "(high)" for the odd lead
    count = infer_facts("demo_request_count", "numeric", _numbers([0.0] * 20 + [1.0]))
    assert value_words(count, 1.0) == "1"


def test_ranges_are_rounded_to_meaningful_figures() -> None:
    assert range_words(0.773, 16.04, "h") == "1–16 hours"
    assert range_words(0.0, 16.04, "h") == "up to 16 hours"
    assert range_words(637, 4018, "s") == "11–67 min"
    assert range_words(0.12, 0.34) == "0.12–0.34"
    assert range_words(-0.52, -0.1) == "-0.52 to -0.1"
    assert range_words(3, 5) == "3–5"
    hours = default_facts("hours_to_demo_request")
    assert level_phrase(hours, "numeric", "0.773 – 16.04") == "Time to demo request: 1–16 hours"


def test_dates_read_as_weekday_and_hour_never_as_a_timestamp() -> None:
    created = infer_facts("created_at", "datetime", creation=True)
    stamp = pd.Timestamp("2026-06-09 12:52:31")  # a Tuesday
    assert statement(created, stamp) == "Created on a Tuesday at 12:00"
    assert not created.actionable  # when a lead came in is not for sales to change
    hour = infer_facts("first_visit_hour", "numeric", _numbers([0, 9, 13, 23]))
    assert hour.kind == "hour" and statement(hour, 20.0) == "First visit hour: 20:00"
    weekday = infer_facts("first_visit_weekday", "numeric", _numbers([0, 1, 4, 6]))
    assert weekday.kind == "weekday" and statement(weekday, 4.0) == "First visit weekday: Friday"
    assert level_phrase(created, "weekday", "Friday") == "Created on a Friday"


def test_missing_values_say_what_they_mean_where_known() -> None:
    assert statement(default_facts("hours_to_return"), None) == "No return yet"
    assert statement(default_facts("hours_to_demo_request"), np.nan) == "No demo request yet"
    said = infer_facts("hours_to_return", "numeric", entry={"missing": "No return visit yet"})
    assert statement(said, None) == "No return visit yet"
    assert statement(default_facts("industry"), None) == "Industry: not given"


def test_levels_are_named_not_numbered_and_acronyms_cased() -> None:
    plan = infer_facts("plan", "categorical", categories=["1", "6"], entry={"levels": {"6": "Pro"}})
    assert statement(plan, "6") == "Plan: Pro"
    assert statement(plan, "1") == "Plan: level 1"
    assert statement(plan, 2.0) == "Plan: level 2"
    assert statement(infer_facts("os", "categorical", categories=["iOS"]), "Mac OS X") == (
        "OS: Mac OS X"
    )
    assert default_facts("landing_url").label == "Landing URL"
    assert default_facts("views: pricing").label == "Pricing views"
    assert default_facts("TotalVisits").label == "Total Visits"


def test_sales_can_act_on_behaviour_not_on_who_the_lead_is() -> None:
    for name in ("demo_request_count", "time_on_site_min", "returned_same_day", "sessions",
                 "views: pricing", "Page Views Per Visit"):  # fmt: skip
        assert default_actionable(name, "numeric"), name
    for name in ("country", "device_type", "os", "industry", "company_size", "job_title",
                 "first_touch_source", "Lead Source", "Do Not Email"):  # fmt: skip
        assert not default_actionable(name, "categorical"), name
    assert not default_actionable("first_visit_hour", "hour")
    said = infer_facts("country", "categorical", entry={"actionable": True})
    assert said.actionable  # the dictionary wins


def test_a_phrasebook_survives_pickling_as_plain_data() -> None:
    book = Phrasebook({"visits": infer_facts("visits", "numeric", _numbers(range(20)))})
    again = pickle.loads(pickle.dumps(book))
    assert again.facts("visits") == book.facts("visits") and dict(again) == dict(book)
    assert again.facts("os").label == "OS"  # an unknown field: its name says


def test_reasons_carry_whether_sales_can_act_into_the_api() -> None:
    book = Phrasebook({
        "returned": infer_facts("returned", "numeric", _numbers([0, 1])),
        "country": infer_facts("country", "categorical", categories=["DE"]),
    })  # fmt: skip
    up, down = select_reasons(np.array([9.0, -4.0]), [1.0, "DE"], ["returned", "country"], book, 3)
    assert [r.text for r in up] == ["Returned → +9"]
    assert [r.text for r in down] == ["Country: DE → −4"]
    records = reason_records(up, down)
    assert [r["actionable"] for r in records] == [True, False]
    assert [ReasonOut.model_validate(r).actionable for r in records] == [True, False]
    stored_before = {k: v for k, v in records[0].items() if k != "actionable"}
    assert ReasonOut.model_validate(stored_before).actionable is None


# ============================================================================= dictionary


def test_the_data_dictionary_reads_its_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "dictionary.csv"
    path.write_text(
        "Column,Meaning,Label,Unit,Actionable,Levels,Missing\n"
        "returned_same_day,Came back on the first day,,,yes,"
        "1=Came back the same day; 0=Did not come back the same day,\n"
        "hours_to_return,Hours until the next visit,Time to come back,hours,YES,,"
        "No return visit yet\n"
        "Lead Source,Where the lead came from,Source,,no,,\n"
        "plain,,,,,,\n",
        encoding="utf-8",
    )
    entries = read_data_dictionary(path)
    assert entries["hours_to_return"].unit == "hours" and entries["hours_to_return"].actionable
    assert entries["returned_same_day"].levels == {
        "1": "Came back the same day", "0": "Did not come back the same day",
    }  # fmt: skip
    assert entries["Lead Source"].actionable is False
    assert entries["plain"].description == "Where the lead came from"  # a merged cell
    assert read_dictionary(path)["hours_to_return"] == "Hours until the next visit"
    kept = entries_for(entries, ["lead_source", "hours_to_return", "visits"])
    assert kept["lead_source"] == {
        "description": "Where the lead came from", "label": "Source", "actionable": False,
    }  # fmt: skip
    assert "visits" not in kept
    facts = infer_facts("hours_to_return", "numeric", entry=kept["hours_to_return"])
    assert facts.unit == "h" and statement(facts, 2.0) == "Time to come back: 2 hours"


def test_the_data_dictionary_names_a_bad_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Variable,Description,Actionable\nvisits,Visits,maybe\n")
    with pytest.raises(DataError, match=r"line 2 \(visits\).*yes or no.*'maybe'"):
        read_data_dictionary(bad)
    bad.write_text("Variable,Description,Levels\nplan,Plan,6 Enterprise\n")
    with pytest.raises(DataError, match=r"plan.*'6 Enterprise' is not a level.*code=words"):
        read_data_dictionary(bad)


@pytest.mark.skipif(not XEDUCATION.is_dir(), reason="../shared/datasets absent")
def test_x_educations_dictionary_still_reads_for_the_leakage_audit() -> None:
    described = read_dictionary(XEDUCATION / "Leads_Data_Dictionary.csv")
    assert described_after_outcome(described["Tags"]) is not None
    assert described["Magazine"] == described["Search"]  # the merged cell continues


def test_the_demo_dictionary_describes_nothing_as_filled_in_after_the_outcome() -> None:
    rows = dictionary_rows()
    flagged = {row[0] for row in rows if described_after_outcome(row[1])}
    assert flagged == {"status"}  # the CRM's deal stage: closed won or lost after the outcome
    assert {row[0] for row in rows} >= {"returned_same_day", "hours_to_return", "first_seen"}


# ============================================================================= ideal customer


def test_the_ideal_comparison_keeps_the_fields_that_separate_actionable_first() -> None:
    rng = np.random.default_rng(3)
    n = 600
    segments = pd.Series(np.repeat(["hot", "warm", "cold"], n // 3))
    hot = (segments == "hot").to_numpy()
    frame = pd.DataFrame({
        "returned_same_day": np.where(hot, rng.random(n) < 0.8, rng.random(n) < 0.1).astype(float),
        "country": np.where(hot, "DE", rng.choice(["DE", "FR", "US"], n)),
        "noise": rng.random(n),
        "journey: a > b": np.zeros(n),  # every segment alike: never shown
    })  # fmt: skip
    ideal = {"returned_same_day": 1.0, "country": "DE", "noise": 0.5, "journey: a > b": 0.0}
    kinds = {"returned_same_day": "numeric", "country": "categorical", "noise": "numeric",
             "journey: a > b": "numeric"}  # fmt: skip
    profiles = segment_profiles(frame, segments, ideal, kinds)
    book = Phrasebook({c: infer_facts(c, kinds[c], frame[c]) for c in frame.columns})
    compared = ideal_comparison(profiles, book)
    fields = list(dict.fromkeys(compared["field"]))
    assert fields == ["returned_same_day", "country"]
    first = compared.iloc[0]
    assert first["segment"] == "hot" and first["actionable"] and first["ideal_text"] == "yes"
    assert first["separation"] > 0.5
    assert not compared.loc[compared["field"] == "country", "actionable"].any()


# ============================================================================= end to end


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The event demo trained as ``make demo`` trains it, with the demo's dictionary."""
    folder = tmp_path_factory.mktemp("phrases")
    _ok(runner.invoke(app, ["demo-data", "--events", "--rows", "1500", "--new-rows", "100",
                            "--out", str(folder)]))  # fmt: skip
    assert (folder / "dictionary.csv").is_file()
    table = folder / "leads.parquet"
    _ok(runner.invoke(app, ["features", str(folder / "events.jsonl"), "--labels",
                            str(folder / "outcomes.csv"), "--leads", str(folder / "crm.csv"),
                            "--out", str(table)]))  # fmt: skip
    trained = _ok(runner.invoke(app, [
        "train", str(table), "--time", "first_seen", "--out", str(folder / "model"),
        "--models", "lightgbm", "--cv", "2", "--budget", "0", "--quiet",
        "--dictionary", str(folder / "dictionary.csv"),
    ]))  # fmt: skip
    described = r"Data dictionary dictionary.csv: describes \d+ of the model's \d+ inputs"
    assert re.search(described, trained.output), trained.output
    return folder / "model", table


def test_a_demo_models_real_time_reasons_read_as_plain_language(
    demo_model: tuple[Path, Path],
) -> None:
    model_dir, table = demo_model
    model = LeadModel.load(model_dir)
    assert model.metadata_["dictionary"]["fields"]["returned_same_day"]["levels"]["1"] == (
        "Came back the same day"
    )
    book = phrasebook(model)
    assert book.facts("first_visit_business_hours").kind == "flag"
    leads = pd.read_parquet(table)[model.schema_.names].head(150)
    scorer = FastScorer(model)
    said: dict[str, set[str]] = {}
    for row in leads.to_dict(orient="records"):
        result = scorer.score(row, reasons=4)
        for reason in (*result.reasons_up, *result.reasons_down):
            said.setdefault(reason.field, set()).add(reason.text)
            assert not DEBUG_OUTPUT.search(reason.text), reason.text
            if book.facts(reason.field).kind == "flag":
                assert not FLAG_AS_NUMBER.search(reason.text), reason.text
            assert reason.actionable == book.facts(reason.field).actionable
    texts = {t for group in said.values() for t in group}
    assert {re.sub(r" → .*", "", t) for t in said.get("returned_same_day", set())} <= {
        "Came back the same day", "Did not come back the same day",
    }  # fmt: skip
    assert said.get("returned_same_day"), sorted(said)
    for field in ("first_seen", "first_visit_hour", "device_type", "country"):
        assert not book.facts(field).actionable, field
    for text in said.get("first_seen", ()):  # the creation time: weekday and hour only
        assert re.fullmatch(r"First visit on a [A-Z][a-z]+day at \d{2}:00 → [+−]\d+", text)
    assert not any(" h " in t or t.endswith(" h") for t in texts)


def test_the_api_answers_reasons_with_actionable(
    demo_model: tuple[Path, Path], tmp_path: Path
) -> None:
    model_dir, table = demo_model
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    settings = Settings(database_url=url, tracking=False)
    live = LiveScoring(ModelSlot.load(str(model_dir), settings), Store(url), reasons=3)
    row = pd.read_parquet(table).iloc[3]
    model = LeadModel.load(model_dir)
    lead = attributes(row[model.schema_.names])
    answered = score_out(live.score_lead("web-1", lead)).model_dump()
    assert answered["reasons"]
    for reason in answered["reasons"]:
        assert isinstance(reason["actionable"], bool)
        assert not DEBUG_OUTPUT.search(reason["text"]), reason["text"]


def test_the_demo_insights_findings_use_the_phrase_builder(demo_model: tuple[Path, Path]) -> None:
    model_dir, table = demo_model
    from leadscore.explain.insights import load_for_insights

    model, lead_table = load_for_insights(model_dir, table)
    numbers = compute_insights(model, lead_table)
    for sentence in numbers["findings"]:
        assert not RAW_RANGE.search(sentence), sentence
        assert sentence.startswith("“"), sentence
    compared = numbers["ideal_comparison"]
    assert 0 < compared["field"].nunique() <= 8 < len(model.schema_.names)
    shown = list(dict.fromkeys(zip(compared["field"], compared["actionable"], strict=True)))
    flags = [acts for _, acts in shown]
    assert flags == sorted(flags, reverse=True)  # what sales can act on first


@pytest.mark.skipif(not (XEDUCATION / "Leads.csv").is_file(), reason="../shared/datasets absent")
def test_x_education_findings_have_no_raw_float_ranges() -> None:
    frame = pd.read_csv(XEDUCATION / "Leads.csv")
    roles = Roles(target="Converted", id="Prospect ID", exclude=POST_CONTACT)
    table = prepare_table(frame, roles, Settings(tracking=False))
    model = LeadModel("logreg_l2", cv=2).fit(table.features, table.y, kinds=table.kinds)
    numbers = compute_insights(model, table)
    assert numbers["findings"]
    for sentence in numbers["findings"]:
        assert not RAW_RANGE.search(sentence), sentence
    # the tables alone (no model) word their levels the same way
    y = np.asarray(table.y)
    alone = findings(conversion_tables(table.features, y, table.kinds), float(y.mean()))
    assert not any(RAW_RANGE.search(s) for s in alone), alone
    assert any("Total Time Spent on Website: " in s for s in [*numbers["findings"], *alone])


def test_facts_of_an_unknown_field_come_from_its_name() -> None:
    facts = FieldFacts("x", "X")
    assert statement(facts, "yes") == "X: yes"
    assert statement(facts, pd.Timestamp("2026-01-05 09:30")) == "X on a Monday at 09:00"


@pytest.mark.parametrize("number", [2.2250738585072014e-308, -5e-9, 1e-300, 1.7e308, -1.7e308, 0.0])
@pytest.mark.parametrize("unit", ["", "s", "h", "%"])
def test_extreme_numbers_are_worded_not_a_server_error(number: float, unit: str) -> None:
    """The API accepts any finite number; its reasons used to raise OverflowError (a 500)
    for the smallest normal float (10**309 places)."""
    text = number_words(number, unit)
    assert text and "nan" not in text.lower()
