"""Tests for outcomes of leads from events or CRM files, the lead table built from them
(leadscore.features.labels / table), its saved description, and ``leadscore features``."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from leadscore.cli import app
from leadscore.data.events import load_events
from leadscore.data.lead_table import prepare_table
from leadscore.errors import ArtifactError, DataError, LeadscoreError, SchemaError
from leadscore.features.labels import cutoffs_for, outcomes_from_events, read_outcomes
from leadscore.features.table import build_lead_table, load_builder, save_lead_table
from leadscore.modeling.audit import audit
from leadscore.modeling.leakage import column_aucs, detect_leakage

S = "https://acme.com"
HEADER = "client_id,timestamp,event_name,page_url,referrer"
# a: lead 10:06, converts 10:20 (and again the next day); b: lead, never converts;
# c: completed a checkout *before* filling the pop-up → not converted; d: converts 09:40;
# e: never a lead; f: lead only; g: lead and checkout at the same instant → converted.
EVENT_ROWS = [
    f"a,2026-03-02T10:00:00Z,page_view,{S}/,https://www.google.com/",
    f"a,2026-03-02T10:05:00Z,page_view,{S}/pricing,{S}/",
    f"a,2026-03-02T10:06:00Z,email_filled,{S}/pricing,{S}/pricing",
    f"a,2026-03-02T10:20:00Z,checkout_completed,{S}/checkout,{S}/pricing",
    f"a,2026-03-02T10:25:00Z,page_view,{S}/thanks,{S}/checkout",
    f"a,2026-03-03T10:25:00Z,checkout_completed,{S}/checkout,",
    f"b,2026-03-02T11:00:00Z,page_view,{S}/blog/x,https://l.facebook.com/",
    f"b,2026-03-02T11:02:00Z,email_filled,{S}/blog/x,{S}/blog/x",
    f"b,2026-03-02T11:10:00Z,page_view,{S}/pricing,{S}/blog/x",
    f"c,2026-03-02T12:00:00Z,checkout_completed,{S}/checkout,",
    f"c,2026-03-02T12:01:00Z,email_filled,{S}/checkout,{S}/checkout",
    f"c,2026-03-02T12:03:00Z,page_view,{S}/,{S}/checkout",
    f"d,2026-03-03T09:00:00Z,page_view,{S}/,",
    f"d,2026-03-03T09:01:00Z,email_filled,{S}/,{S}/",
    f"d,2026-03-03T09:30:00Z,page_view,{S}/pricing,{S}/",
    f"d,2026-03-03T09:40:00Z,checkout_completed,{S}/checkout,{S}/pricing",
    f"e,2026-03-03T13:00:00Z,page_view,{S}/,",
    f"f,2026-03-04T08:00:00Z,page_view,{S}/,",
    f"f,2026-03-04T08:01:00Z,email_filled,{S}/,{S}/",
    f"g,2026-03-04T09:00:00Z,page_view,{S}/pricing,",
    f"g,2026-03-04T09:05:00Z,email_filled,{S}/pricing,{S}/pricing",
    f"g,2026-03-04T09:05:00Z,checkout_completed,{S}/checkout,{S}/pricing",
]
LAST_EVENT = pd.Timestamp("2026-03-04 09:05")
BAD_ROWS = [
    f",2026-03-04T10:00:00Z,page_view,{S}/,",  # no lead id
    f"h,yesterday,page_view,{S}/,",  # time not readable
]
EVENT_ARGS = ["--lead-event", "email_filled", "--conversion-event", "checkout_completed"]

runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def write_events(path: Path, rows: list[str] = EVENT_ROWS) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def events_csv(tmp_path: Path) -> Path:
    return write_events(tmp_path / "events.csv")


@pytest.fixture
def events(events_csv: Path) -> pd.DataFrame:
    return load_events(events_csv).events


def run(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def fails(result: Result, *needles: str) -> str:
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert "error" in result.stderr
    for needle in needles:
        assert needle in output, f"{needle!r} not in {output!r}"
    return output


# ----------------------------------------------------------------------------- outcomes from events


def test_outcomes_from_events(events: pd.DataFrame) -> None:
    out = outcomes_from_events(events, "email_filled", "checkout_completed")
    out = out.set_index("lead_id")
    assert out.index.tolist() == ["a", "b", "c", "d", "f", "g"]  # e never became a lead
    assert out["converted"].to_dict() == {"a": 1, "b": 0, "c": 0, "d": 1, "f": 0, "g": 1}
    assert out["lead_at"].to_dict() == {
        "a": pd.Timestamp("2026-03-02 10:06"), "b": pd.Timestamp("2026-03-02 11:02"),
        "c": pd.Timestamp("2026-03-02 12:01"), "d": pd.Timestamp("2026-03-03 09:01"),
        "f": pd.Timestamp("2026-03-04 08:01"), "g": pd.Timestamp("2026-03-04 09:05"),
    }  # fmt: skip
    # converters: their first conversion after becoming a lead (a converted twice)
    assert out.loc["a", "outcome_at"] == pd.Timestamp("2026-03-02 10:20")
    assert out.loc["d", "outcome_at"] == pd.Timestamp("2026-03-03 09:40")
    assert out.loc["g", "outcome_at"] == pd.Timestamp("2026-03-04 09:05")
    # the others: just after the last event in the data
    for lead in ["b", "c", "f"]:
        at = out.loc[lead, "outcome_at"]
        assert LAST_EVENT < at <= LAST_EVENT + pd.Timedelta(milliseconds=1)


def test_outcomes_from_events_with_a_cutoff(events: pd.DataFrame) -> None:
    cutoff = pd.Timestamp("2026-03-10")
    out = outcomes_from_events(events, "email_filled", "checkout_completed", cutoff)
    out = out.set_index("lead_id")
    assert out.loc[["b", "c", "f"], "outcome_at"].tolist() == [cutoff] * 3
    assert out.loc["a", "outcome_at"] == pd.Timestamp("2026-03-02 10:20")


def test_outcomes_without_a_lead_event(events: pd.DataFrame) -> None:
    out = outcomes_from_events(events, None, "checkout_completed").set_index("lead_id")
    assert out.index.tolist() == ["a", "b", "c", "d", "e", "f", "g"]
    # every visitor is a lead from the first event: c's early checkout now counts
    assert out["converted"].to_dict() == {
        "a": 1, "b": 0, "c": 1, "d": 1, "e": 0, "f": 0, "g": 1,
    }  # fmt: skip
    assert out.loc["c", "outcome_at"] == pd.Timestamp("2026-03-02 12:00")
    assert out.loc["a", "outcome_at"] == pd.Timestamp("2026-03-02 10:20")


@pytest.mark.parametrize(
    ("lead_event", "conversion", "named"),
    [
        ("email_filed", "checkout_completed", "email_filed"),
        ("email_filled", "purchase", "purchase"),
    ],
)
def test_unknown_event_names(
    events: pd.DataFrame, lead_event: str, conversion: str, named: str
) -> None:
    with pytest.raises(DataError, match=named) as info:
        outcomes_from_events(events, lead_event, conversion)
    assert "email_filled" in str(info.value)  # the events seen are listed


def test_cutoffs_for() -> None:
    outcomes = pd.DataFrame(
        {
            "lead_id": ["a", "b", "c"],
            "converted": [1, 0, 0],
            "outcome_at": pd.to_datetime(["2026-03-01", "2026-03-09", None]),
        }
    )
    plain = cutoffs_for(outcomes)
    assert plain.index.tolist() == ["a", "b", "c"]
    assert plain["a"] == pd.Timestamp("2026-03-01") and pd.isna(plain["c"])
    capped = cutoffs_for(outcomes, pd.Timestamp("2026-03-05"))
    assert capped.tolist() == list(pd.to_datetime(["2026-03-01", "2026-03-05", "2026-03-05"]))


# ----------------------------------------------------------------------------- outcomes files


def test_read_outcomes_by_name(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(
        "lead_id,converted,outcome_at\n"
        "a,yes,2026-03-02T10:20:00Z\nb,no,2026-03-05 00:00\nc,Yes,\nd,NO,2026-03-04\n"
    )
    out = read_outcomes(path)
    assert list(out.columns) == ["lead_id", "converted", "outcome_at"]
    assert out["lead_id"].tolist() == ["a", "b", "c", "d"]
    assert out["converted"].tolist() == [1, 0, 1, 0]
    assert out["outcome_at"].iloc[0] == pd.Timestamp("2026-03-02 10:20")
    assert pd.isna(out["outcome_at"].iloc[2])


def test_read_outcomes_other_names(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text("distinct_id,won,closed_at\nx,1,2026-03-02T12:20:00+02:00\ny,0,2026-03-03\n")
    out = read_outcomes(path)
    assert out["lead_id"].tolist() == ["x", "y"]
    assert out["converted"].tolist() == [1, 0]
    assert out["outcome_at"].tolist() == [
        pd.Timestamp("2026-03-02 10:20"),
        pd.Timestamp("2026-03-03"),
    ]


def test_read_outcomes_without_times() -> None:
    out = read_outcomes(pd.DataFrame({"client_id": [101, 102], "converted": [True, False]}))
    assert out["lead_id"].tolist() == ["101", "102"]
    assert out["converted"].tolist() == [1, 0]
    assert out["outcome_at"].isna().all()


def test_read_outcomes_named_columns() -> None:
    frame = pd.DataFrame({"who": ["a", "b"], "bought": ["1", "0"], "when": ["2026-03-01", None]})
    out = read_outcomes(frame, id_column="who", target="bought", time_column="when")
    assert out["lead_id"].tolist() == ["a", "b"]
    assert out["converted"].tolist() == [1, 0]
    assert out["outcome_at"].iloc[0] == pd.Timestamp("2026-03-01")


def test_read_outcomes_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    path.write_text("lead_id,converted\na,1\nb,0\na,0\n")
    with pytest.raises(SchemaError, match=r"more than once.*'a'"):
        read_outcomes(path)


@pytest.mark.parametrize(
    ("text", "named"),
    [("lead_id,amount\na,1\n", "outcome"), ("person,converted\na,1\n", "lead id")],
)
def test_read_outcomes_missing_column(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(text)
    with pytest.raises(SchemaError, match=named) as info:
        read_outcomes(path)
    assert "Columns" in str(info.value)


def test_read_outcomes_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("lead_id,converted\na,maybe\n")
    with pytest.raises(SchemaError, match="maybe"):
        read_outcomes(path)


# ----------------------------------------------------------------------------- lead table


def test_lead_table_from_events(events_csv: Path) -> None:
    result = build_lead_table(
        events_csv, lead_event="email_filled", conversion_event="checkout_completed"
    )
    table = result.table
    assert table.columns[0] == "lead_id" and table.columns[-1] == "converted"
    assert table["lead_id"].tolist() == ["a", "b", "c", "d", "f", "g"]
    assert table["converted"].tolist() == ["yes", "no", "no", "yes", "no", "yes"]
    # events strictly before each lead's outcome (g's pop-up is at its conversion instant)
    events = table.set_index("lead_id")["events"]
    assert events[["a", "b", "d", "f", "g"]].tolist() == [3, 3, 3, 2, 1]
    for column in ("events_last_7d", "days_since_last_event", "events_per_day"):
        assert column not in table.columns
    assert any("recency" in note for note in result.notes)
    assert result.load.counts["events"] == len(EVENT_ROWS)


def test_converters_never_see_their_conversion(events_csv: Path) -> None:
    table = build_lead_table(
        events_csv, lead_event="email_filled", conversion_event="checkout_completed"
    ).table.set_index("lead_id")
    converted = table.index[table["converted"] == "yes"]
    if "checkout_completed_count" in table.columns:
        assert (table.loc[converted, "checkout_completed_count"] == 0).all()
    assert table.loc["a", "last_touch_source"] == "google"
    assert "thanks" not in " ".join(c for c in table.columns if c.startswith("journey"))


def test_the_conversion_event_never_contributes(events_csv: Path) -> None:
    # c completed a checkout before filling in the pop-up; that event is the conversion
    # event all the same and must not turn into a feature
    table = build_lead_table(
        events_csv, lead_event="email_filled", conversion_event="checkout_completed"
    ).table.set_index("lead_id")
    if "checkout_completed_count" in table.columns:
        assert (table["checkout_completed_count"].fillna(0) == 0).all(), table[
            "checkout_completed_count"
        ].to_dict()
    assert not any("checkout_completed" in c for c in table.columns if c.startswith("journey"))


def test_lead_table_from_an_outcomes_file(events_csv: Path, tmp_path: Path) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text(
        "lead_id,converted,outcome_at\n"
        "a,yes,2026-03-02T10:20:00Z\nb,no,2026-03-02T11:05:00Z\nd,yes,2026-03-03T09:40:00Z\n"
        "zz,no,2026-03-05\n"
    )
    result = build_lead_table(events_csv, outcomes=crm)
    table = result.table.set_index("lead_id")
    assert table.index.tolist() == ["a", "b", "d", "zz"]
    assert table["converted"].tolist() == ["yes", "no", "yes", "no"]
    # b: 11:00 and 11:02 are before its outcome at 11:05, 11:10 is not
    assert table.loc[["a", "b", "d"], "events"].tolist() == [3, 2, 3]
    assert np.isnan(table.loc["zz", "events"])  # an outcome without events: an empty row
    assert any("1 leads in the outcomes have no events" in note for note in result.notes)


def test_outcomes_without_times_are_noted(events_csv: Path, tmp_path: Path) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text("lead_id,converted\na,1\nb,0\n")
    result = build_lead_table(events_csv, outcomes=crm)
    assert any("no times" in note for note in result.notes)
    assert result.table.set_index("lead_id")["events"].tolist() == [6, 3]


def test_outcome_ids_matching_no_events(events_csv: Path, tmp_path: Path) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text("lead_id,converted\nL-1,1\nL-2,0\n")
    with pytest.raises(DataError) as info:
        build_lead_table(events_csv, outcomes=crm)
    message = str(info.value)
    assert "none of the leads" in message
    assert "L-1" in message and "'a'" in message  # both kinds of id are shown


def test_outcomes_and_a_conversion_event_together(events_csv: Path, tmp_path: Path) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text("lead_id,converted\na,1\nb,0\n")
    with pytest.raises(LeadscoreError, match="not both"):
        build_lead_table(events_csv, outcomes=crm, conversion_event="checkout_completed")


def test_a_lead_event_alone(events_csv: Path) -> None:
    with pytest.raises(LeadscoreError, match="conversion event"):
        build_lead_table(events_csv, lead_event="email_filled")


def test_scoring_table_without_outcomes(events_csv: Path) -> None:
    result = build_lead_table(events_csv, as_of="2026-03-05")
    table = result.table.set_index("lead_id")
    assert "converted" not in table.columns
    assert table.index.tolist() == ["a", "b", "c", "d", "e", "f", "g"]
    assert table["events"].tolist() == [6, 3, 3, 4, 1, 2, 3]
    assert table.loc["g", "days_since_last_event"] == pytest.approx((24 * 60 - 9 * 60 - 5) / 1440)
    assert any("--builder" in note for note in result.notes)


def test_scoring_with_a_cutoff(events_csv: Path) -> None:
    table = build_lead_table(events_csv, cutoff="2026-03-03").table
    assert table["lead_id"].tolist() == ["a", "b", "c"]


# ----------------------------------------------------------------------------- saving


def test_save_lead_table(events_csv: Path, tmp_path: Path) -> None:
    result = build_lead_table(
        events_csv, lead_event="email_filled", conversion_event="checkout_completed"
    )
    written = save_lead_table(result, tmp_path / "out" / "leads.csv")
    assert written["table"] == tmp_path / "out" / "leads.csv"
    assert written["builder"] == tmp_path / "out" / "leads.builder.joblib"
    assert written["description"] == tmp_path / "out" / "leads.features.json"
    for path in written.values():
        assert path.is_file()
    saved = pd.read_csv(written["table"])
    assert saved["lead_id"].tolist() == ["a", "b", "c", "d", "f", "g"]
    assert list(saved.columns) == list(result.table.columns)
    described = json.loads(written["description"].read_text())
    assert described["id"] == "lead_id"
    assert described["target"] == "converted"
    assert described["time"] == "first_seen"
    assert described["builder"] == "leads.builder.joblib"
    assert described["point_in_time"] == [
        c for c in result.table.columns if c not in ("lead_id", "converted")
    ]
    assert described["events"]["events"] == len(EVENT_ROWS)
    builder = load_builder(written["builder"])
    pd.testing.assert_frame_equal(
        builder.transform(result.load.events, as_of="2026-03-05"),
        result.builder.transform(result.load.events, as_of="2026-03-05"),
    )


def test_save_builder_elsewhere(events_csv: Path, tmp_path: Path) -> None:
    result = build_lead_table(events_csv, as_of="2026-03-05")
    written = save_lead_table(result, tmp_path / "score.parquet", tmp_path / "b" / "fb.joblib")
    assert written["builder"] == tmp_path / "b" / "fb.joblib"
    assert written["builder"].is_file()
    described = json.loads(written["description"].read_text())
    assert "target" not in described
    assert pd.read_parquet(written["table"])["lead_id"].tolist()[:2] == ["a", "b"]


def test_load_builder_errors(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        load_builder(tmp_path / "missing.joblib")
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ArtifactError, match="cannot load"):
        load_builder(junk)
    other = tmp_path / "other.joblib"
    joblib.dump({"a": 1}, other)
    with pytest.raises(ArtifactError, match="does not hold"):
        load_builder(other)


def test_reuse_a_saved_builder(events_csv: Path, tmp_path: Path) -> None:
    trained = build_lead_table(
        events_csv, lead_event="email_filled", conversion_event="checkout_completed"
    )
    written = save_lead_table(trained, tmp_path / "train.csv")
    scored = build_lead_table(events_csv, builder=written["builder"], as_of="2026-03-05")
    assert list(scored.table.columns) == [c for c in trained.table.columns if c != "converted"]
    assert not any("--builder" in note for note in scored.notes)


# ----------------------------------------------------------------------------- prepare and audit


def signal_events(path: Path, n_leads: int = 40, n_converted: int = 12) -> Path:
    """Leads who all fill the pop-up; the converters request a demo before buying, the others
    never do: the demo columns separate the outcomes perfectly, legitimately."""
    rows = []
    start = pd.Timestamp("2026-03-01 08:00")
    for i in range(n_leads):
        t0 = start + pd.Timedelta(hours=7 * i)
        steps = [(0, "page_view", "/"), (1, "email_filled", "/")]
        if i < n_converted:
            steps += [(5, "demo_request", "/demo"), (10, "checkout_completed", "/checkout")]
        else:
            steps += [(5, "page_view", "/blog/post")]
        for minutes, event, page in steps:
            when = (t0 + pd.Timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append(f"L{i:03d},{when},{event},{S}{page},")
    return write_events(path, rows)


def saved_signal_table(tmp_path: Path) -> Path:
    result = build_lead_table(
        signal_events(tmp_path / "signal.csv"),
        lead_event="email_filled",
        conversion_event="checkout_completed",
    )
    return save_lead_table(result, tmp_path / "leads.csv")["table"]


def test_prepare_table_reads_roles_from_the_description(tmp_path: Path) -> None:
    path = saved_signal_table(tmp_path)
    table = prepare_table(path)
    assert table.roles.id == "lead_id"
    assert table.roles.target == "converted"
    assert "hours_to_demo_request" in table.roles.point_in_time
    assert table.excluded["lead_id"] == "lead id"
    assert table.excluded["converted"] == "target"
    assert int(table.y.sum()) == 12 and len(table.y) == 40
    assert table.ids.tolist()[:2] == ["L000", "L001"]


def test_point_in_time_columns_are_no_leakage_suspects(tmp_path: Path) -> None:
    path = saved_signal_table(tmp_path)
    # without the description, the demo columns look like leakage …
    bare = prepare_table(pd.read_csv(path), require_target=True)
    flagged = {s.column for s in detect_leakage(bare, column_aucs(bare))}
    assert "hours_to_demo_request" in flagged
    # … with it they are known to be built from events before each outcome
    table = prepare_table(path)
    assert detect_leakage(table, column_aucs(table)) == []


def test_audit_of_a_saved_lead_table_trusts_point_in_time_columns(tmp_path: Path) -> None:
    path = saved_signal_table(tmp_path)
    report = audit(path)
    assert report.target == "converted"
    assert report.id == "lead_id"
    flagged = [s.column for s in report.leakage_suspects]
    assert flagged == [], f"point-in-time columns flagged as leakage by audit(): {flagged}"


# ----------------------------------------------------------------------------- command line


def test_cli_training_from_events(tmp_path: Path) -> None:
    source = write_events(tmp_path / "events.csv", EVENT_ROWS + BAD_ROWS)
    out = tmp_path / "out" / "train.csv"
    out.parent.mkdir()
    result = ok(run("features", source, "--out", out, *EVENT_ARGS))
    text = result.stdout
    assert f"{len(EVENT_ROWS)} events of 7 leads from 1 file(s)" in text
    assert "2 set aside" in text and "1 no lead id" in text and "1 time not readable" in text
    assert "6 leads" in text and "50.0% converted" in text
    table = pd.read_csv(out)
    assert table["lead_id"].tolist() == ["a", "b", "c", "d", "f", "g"]
    assert table["converted"].tolist() == ["yes", "no", "no", "yes", "no", "yes"]
    assert (tmp_path / "out" / "train.builder.joblib").is_file()
    assert (tmp_path / "out" / "train.features.json").is_file()
    quarantine = pd.read_csv(tmp_path / "out" / "train.quarantine.csv")
    assert sorted(quarantine["line"].tolist()) == [len(EVENT_ROWS) + 2, len(EVENT_ROWS) + 3]
    assert set(quarantine["reason"]) == {"no lead id", "time not readable"}


def test_cli_no_quarantine_file_without_bad_lines(events_csv: Path, tmp_path: Path) -> None:
    ok(run("features", events_csv, "--out", tmp_path / "t.csv", *EVENT_ARGS))
    assert not (tmp_path / "t.quarantine.csv").exists()


def test_cli_quarantine_path_and_builder_path(tmp_path: Path) -> None:
    source = write_events(tmp_path / "events.csv", EVENT_ROWS + BAD_ROWS)
    q = tmp_path / "q" / "set-aside.csv"
    b = tmp_path / "model-features.joblib"
    args = ["--quarantine", q, "--builder", b, "--session-gap", "10"]
    ok(run("features", source, "--out", tmp_path / "t.parquet", *EVENT_ARGS, *args))
    assert len(pd.read_csv(q)) == 2
    assert load_builder(b).settings.session_gap_minutes == 10
    assert json.loads((tmp_path / "t.features.json").read_text())["builder"] == b.name


def test_cli_builder_in_a_new_folder(events_csv: Path, tmp_path: Path) -> None:
    builder = tmp_path / "models" / "features.joblib"
    ok(run("features", events_csv, "--out", tmp_path / "t.csv", *EVENT_ARGS, "--builder", builder))
    assert builder.is_file()


def test_cli_training_then_scoring(events_csv: Path, tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    ok(run("features", events_csv, "--out", train, *EVENT_ARGS))
    builder = tmp_path / "train.builder.joblib"
    score = tmp_path / "score.csv"
    result = ok(run("features", events_csv, "--out", score, "--builder", builder))
    assert "7 leads" in result.stdout
    trained = pd.read_csv(train)
    scored = pd.read_csv(score)
    assert list(scored.columns) == [c for c in trained.columns if c != "converted"]
    assert scored["lead_id"].tolist() == ["a", "b", "c", "d", "e", "f", "g"]
    assert "fitted on these events" not in result.output


def test_cli_outcomes_file(events_csv: Path, tmp_path: Path) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text("lead_id,converted,outcome_at\na,yes,2026-03-02T10:20:00Z\nb,no,2026-03-03\n")
    out = tmp_path / "t.csv"
    result = ok(run("features", events_csv, "--out", out, "--labels", crm))
    assert "2 leads" in result.stdout
    assert pd.read_csv(out)["converted"].tolist() == ["yes", "no"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["missing.csv"], ["file not found", "missing.csv"]),
        (["{events}", "--lead-event", "email_filled"], ["conversion event"]),
        (["{events}", "--conversion-event", "checkout_completed", "--labels", "{crm}"],
         ["not both"]),
        (["{events}", "--lead-event", "popup", "--conversion-event", "checkout_completed"],
         ["'popup'", "does not occur"]),
        (["{empty}"], ["empty"]),
        (["{events}", "--builder", "{junk}", "--as-of", "2026-03-05"], []),
    ],
)  # fmt: skip
def test_cli_bad_input(
    events_csv: Path, tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text("lead_id,converted\na,1\nb,0\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a pickle")
    names = {"events": events_csv, "crm": crm, "empty": empty, "junk": junk}
    filled = [a.format(**names) if a.startswith("{") else a for a in args]
    if filled[0] == "missing.csv":
        filled[0] = str(tmp_path / "missing.csv")
    output = fails(run("features", *filled, "--out", tmp_path / "t.csv"), *needles)
    assert "internal error" not in output
    assert not (tmp_path / "t.csv").exists()
