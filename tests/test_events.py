"""Tests for loading raw behaviour events (leadscore.data.events.load_events)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leadscore.data.event_arrow import to_event_table
from leadscore.data.event_files import read_event_file
from leadscore.data.event_schema import (
    EVENT_COLUMNS,
    TEXT_COLUMNS,
    as_text_category,
    map_columns,
    normalise,
    parse_timestamps,
)
from leadscore.data.events import EventLoad, duplicate_events, load_events
from leadscore.errors import DataError

# 2026-01-01 12:00:00 UTC in every notation a tracker might use
NOON = pd.Timestamp("2026-01-01 12:00:00")
NOON_S = 1767268800
NOON_MS = NOON_S * 1000


def mixpanel(event: str, lead: str | None, time: Any, **props: Any) -> dict[str, Any]:
    """A Mixpanel-export style record: the event name on top, the rest nested."""
    properties: dict[str, Any] = {"time": time, **props}
    if lead is not None:
        properties["distinct_id"] = lead
    return {"event": event, "properties": properties}


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def data_lines(path: Path) -> int:
    """Non-empty lines of a file (minus the header for CSV)."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return len(lines) - (1 if path.suffix == ".csv" else 0)


def accounted(loaded: EventLoad) -> int:
    return len(loaded.events) + len(loaded.quarantine) + loaded.duplicates


# ----------------------------------------------------------------------------- formats


def test_nested_mixpanel_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mp.jsonl",
        [
            mixpanel(
                "page_view",
                "lead-1",
                NOON_S,
                **{
                    "$browser": "Chrome",
                    "$current_url": "https://acme.com/pricing",
                    "mp_country_code": "DE",
                },
            ),
            mixpanel(
                "signup",
                "lead-2",
                NOON_S + 3600,
                **{
                    "$browser": "Firefox",
                    "$current_url": "https://acme.com/signup",
                    "mp_country_code": "FR",
                },
            ),
        ],
    )
    loaded = load_events(path)
    events = loaded.events
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert events["lead_id"].tolist() == ["lead-1", "lead-2"]
    assert events["event"].tolist() == ["page_view", "signup"]
    assert events["timestamp"].tolist() == [NOON, NOON + pd.Timedelta(hours=1)]
    assert events["url"].tolist() == ["https://acme.com/pricing", "https://acme.com/signup"]
    assert events["browser"].tolist() == ["Chrome", "Firefox"]
    assert events["country"].tolist() == ["DE", "FR"]
    assert events["referrer"].isna().all()  # Mixpanel did not send one: unknown, not ""
    assert loaded.files == [str(path)]
    assert len(loaded.quarantine) == 0
    assert loaded.duplicates == 0


def test_csv_comma_and_semicolon(tmp_path: Path) -> None:
    header = ["client_id", "event_name", "page_url", "timestamp"]
    rows = [
        ["a", "page_view", "https://acme.com/", "2026-01-01T12:00:00Z"],
        ["b", "signup", "https://acme.com/signup", "2026-01-01T13:00:00Z"],
    ]
    frames = []
    for name, delimiter in (("comma.csv", ","), ("semicolon.csv", ";")):
        text = "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"
        frames.append(load_events(write_text(tmp_path / name, text)).events)
    for events in frames:
        assert events["lead_id"].tolist() == ["a", "b"]
        assert events["event"].tolist() == ["page_view", "signup"]
        assert events["url"].tolist() == ["https://acme.com/", "https://acme.com/signup"]
        assert events["timestamp"].tolist() == [NOON, NOON + pd.Timedelta(hours=1)]
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "distinct_id": ["a", "b"],
            "event_name": ["page_view", "signup"],
            "time": pd.to_datetime(["2026-01-01 13:00", "2026-01-01 14:00"]).tz_localize(
                "Europe/Berlin"
            ),
            "page_url": ["https://acme.com/", "https://acme.com/signup"],
        }
    )
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    events = load_events(path).events
    assert events["lead_id"].tolist() == ["a", "b"]
    # 13:00 in Berlin (winter, UTC+1) is 12:00 UTC
    assert events["timestamp"].tolist() == [NOON, NOON + pd.Timedelta(hours=1)]
    assert events["url"].tolist() == ["https://acme.com/", "https://acme.com/signup"]


def test_gzip_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    records = [mixpanel("page_view", "a", NOON_MS), mixpanel("page_view", "b", NOON_MS + 1000)]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    events = load_events(path).events
    assert events["lead_id"].tolist() == ["a", "b"]
    assert events["timestamp"].tolist() == [NOON, NOON + pd.Timedelta(seconds=1)]


def test_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("user_id;event;time\na;page_view;2026-01-01T12:00:00Z\n")
    events = load_events(path).events
    assert events["lead_id"].tolist() == ["a"]
    assert events["timestamp"].tolist() == [NOON]


def test_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffclient_id,event,time\r\na,page_view,2026-01-01T12:00:00Z\r\n".encode())
    events = load_events(path).events
    assert events["lead_id"].tolist() == ["a"]
    assert events["event"].tolist() == ["page_view"]
    assert events["timestamp"].tolist() == [NOON]


def test_latin1_csv_is_read_or_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "client_id,event,time,page_title\na,page_view,2026-01-01T12:00:00Z,Café\n".encode("latin-1")
    )
    try:
        events = load_events(path).events
    except DataError as exc:  # refusing is fine, as long as the file is named
        assert "latin1.csv" in str(exc)
    else:  # reading it (as the lead-table reader does) is better
        assert events["lead_id"].tolist() == ["a"]
        assert events["page_title"].tolist() == ["Café"]


# ----------------------------------------------------------------------------- column names


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("client_id", "lead_id"),
        ("clientId", "lead_id"),
        ("distinct_id", "lead_id"),
        ("properties.distinct_id", "lead_id"),
        ("anonymousId", "lead_id"),
        ("event_name", "event"),
        ("page_url", "url"),
        ("$current_url", "url"),
        ("mp_country_code", "country"),
        ("$browser", "browser"),
        ("$device", "device_type"),
        ("Time", "timestamp"),
    ],
)
def test_column_aliases(name: str, target: str) -> None:
    assert map_columns([name]) == {name: target}


def test_first_alias_wins_and_unknown_columns_are_ignored() -> None:
    mapping = map_columns(["client_id", "user_id", "event_data", "event_name", "time"])
    assert mapping == {"client_id": "lead_id", "event_name": "event", "time": "timestamp"}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("seconds.csv", f"clientId,event_name,time\na,page_view,{NOON_S}\n"),
        ("millis.csv", f"clientId,event_name,time\na,page_view,{NOON_MS}\n"),
        ("iso_z.csv", "clientId,event_name,time\na,page_view,2026-01-01T12:00:00Z\n"),
        ("iso_offset.csv", "clientId,event_name,time\na,page_view,2026-01-01T14:00:00+02:00\n"),
        ("iso_millis.csv", "clientId,event_name,time\na,page_view,2026-01-01T12:00:00.000Z\n"),
    ],
)
def test_time_notations_give_the_same_utc_instant(tmp_path: Path, name: str, text: str) -> None:
    events = load_events(write_text(tmp_path / name, text)).events
    assert events["timestamp"].tolist() == [NOON]
    assert events["timestamp"].dtype == "datetime64[ns]"


def test_epoch_seconds_and_milliseconds_in_jsonl(tmp_path: Path) -> None:
    seconds = load_events(write_jsonl(tmp_path / "s.jsonl", [mixpanel("x", "a", NOON_S)]))
    millis = load_events(write_jsonl(tmp_path / "ms.jsonl", [mixpanel("x", "a", NOON_MS)]))
    assert seconds.events["timestamp"].tolist() == millis.events["timestamp"].tolist() == [NOON]


def test_parse_timestamps_mixed_offsets_in_one_column() -> None:
    values = pd.Series(
        ["2026-01-01T12:00:00Z", "2026-01-01T14:00:00+02:00", "2026-01-01T07:00-05:00"]
    )
    assert parse_timestamps(values, "test").tolist() == [NOON] * 3


def test_a_folder_of_files_with_different_columns(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    write_text(
        folder / "day1.csv",
        "client_id,page_url,referrer,timestamp,event_name\n"
        "a,https://acme.com/,,2026-01-01T10:00:00Z,page_viewed\n"
        "b,https://acme.com/,https://google.com/,2026-01-01T11:00:00Z,page_viewed\n",
    )
    write_text(
        folder / "day2.csv",
        "clientId,page_url,referrer,timestamp,event_name\n"
        "a,https://acme.com/p,,2026-01-02T10:00:00Z,page_viewed\n",
    )
    write_text(  # no referrer column at all
        folder / "day3.csv",
        "clientId,page_url,timestamp,event_name\nc,https://acme.com/q,2026-01-03T10:00:00Z,page_viewed\n",
    )
    (folder / "README.txt").write_text("not events")
    (folder / ".hidden.csv").write_text("junk")
    loaded = load_events(folder)
    events = loaded.events
    assert [Path(f).name for f in loaded.files] == ["day1.csv", "day2.csv", "day3.csv"]
    assert events["lead_id"].tolist() == ["a", "b", "a", "c"]
    assert events["url"].tolist() == [
        "https://acme.com/", "https://acme.com/", "https://acme.com/p", "https://acme.com/q",
    ]  # fmt: skip
    # recorded but empty → "" (a direct visit); not recorded at all → missing (unknown)
    referrer = events["referrer"]
    assert referrer.iloc[:3].tolist() == ["", "https://google.com/", ""]
    assert pd.isna(referrer.iloc[3])
    assert loaded.counts["leads"] == 3
    for column in TEXT_COLUMNS:
        assert isinstance(events[column].dtype, pd.CategoricalDtype), column


def test_text_columns_are_categoricals(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "e.jsonl",
        [mixpanel("page_view", "a", NOON_S), mixpanel("page_view", "b", NOON_S)],
    )
    events = load_events(path).events
    for column in TEXT_COLUMNS:
        assert isinstance(events[column].dtype, pd.CategoricalDtype), column
    assert events["tz_offset_minutes"].dtype == "float64"
    assert events["event"].cat.categories.tolist() == ["page_view"]


def test_numeric_ids_become_the_same_text_in_every_file(tmp_path: Path) -> None:
    write_text(tmp_path / "a.csv", "client_id,event,time\n1001,x,2026-01-01T12:00:00Z\n")
    write_jsonl(tmp_path / "b.jsonl", [{"distinct_id": 1001.0, "event": "y", "time": NOON_S + 1}])
    events = load_events(tmp_path).events
    assert events["lead_id"].tolist() == ["1001", "1001"]
    assert events["lead_id"].nunique() == 1


def test_as_text_category_strips_and_blanks() -> None:
    values = pd.Series([" a ", "", "a", None, "b"])
    result = as_text_category(values)
    assert isinstance(result.dtype, pd.CategoricalDtype)
    assert result.iloc[0] == result.iloc[2] == "a"
    assert pd.isna(result.iloc[1]) and pd.isna(result.iloc[3])
    assert result.iloc[4] == "b"
    assert sorted(result.cat.categories) == ["a", "b"]


# ----------------------------------------------------------------------------- quarantine


def test_quarantine_of_bad_jsonl_lines(tmp_path: Path) -> None:
    good_1 = json.dumps(mixpanel("page_view", "a", NOON_S))
    cut = json.dumps(mixpanel("page_view", "b", NOON_S))[:30]  # a JSON line cut in half
    array = "[1, 2, 3]"
    no_id = json.dumps(mixpanel("page_view", None, NOON_S))
    bad_time = json.dumps(mixpanel("page_view", "c", "not a time"))
    good_2 = json.dumps(mixpanel("signup", "d", NOON_S + 60))
    path = write_text(
        tmp_path / "events.jsonl", "\n".join([good_1, cut, array, no_id, bad_time, good_2]) + "\n"
    )
    loaded = load_events(path)
    assert loaded.events["lead_id"].tolist() == ["a", "d"]
    q = loaded.quarantine.sort_values("line").reset_index(drop=True)
    assert list(q.columns) == ["file", "line", "reason", "raw"]
    assert q["file"].tolist() == [str(path)] * 4
    assert q["line"].tolist() == [2, 3, 4, 5]
    reasons = q["reason"].tolist()
    assert "json" in reasons[0].lower()
    assert "object" in reasons[1].lower()
    assert reasons[2] == "no lead id"
    assert "time" in reasons[3].lower()
    assert q["raw"].iloc[1] == array
    assert accounted(loaded) == data_lines(path) == 6
    summary = loaded.summary()
    assert "2 events of 2 leads from 1 file(s)" in summary
    assert "4 set aside" in summary
    assert "1 no lead id" in summary
    assert loaded.counts["quarantined"] == 4
    assert loaded.counts["quarantined: no lead id"] == 1


def test_quarantine_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    good = json.dumps({"distinct_id": "a", "event": "x", "time": NOON_S})
    no_id = json.dumps({"event": "x", "time": NOON_S})
    path = write_text(tmp_path / "blank.jsonl", f"{good}\n\n{no_id}\n")
    q = load_events(path).quarantine
    assert q["reason"].tolist() == ["no lead id"]
    assert q["line"].tolist() == [3]  # the file's third line (the second is blank)


def test_quarantine_of_bad_csv_rows(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "events.csv",
        "client_id,event,time\n"
        "a,page_view,2026-01-01T12:00:00Z\n"  # line 2: fine
        ",page_view,2026-01-01T12:00:00Z\n"  # line 3: no lead id
        "c,page_view,yesterday\n"  # line 4: time not readable
        "d,,2026-01-01T12:00:00Z\n"  # line 5: no event name
        "e,page_view,1999-01-01T00:00:00Z\n"  # line 6: before 2000
        "f,page_view,2026-01-01T12:01:00Z\n",  # line 7: fine
    )
    loaded = load_events(path)
    assert loaded.events["lead_id"].tolist() == ["a", "f"]
    q = loaded.quarantine.sort_values("line")
    assert q["line"].tolist() == [3, 4, 5, 6]
    assert q["reason"].tolist() == [
        "no lead id", "time not readable", "no event name", "time outside 2000–2100",
    ]  # fmt: skip
    assert accounted(loaded) == data_lines(path)


def test_quarantine_of_a_csv_row_with_too_many_fields(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "ragged.csv",
        "client_id,event,time\n"
        "a,page_view,2026-01-01T12:00:00Z\n"  # line 2
        "b,page_view,2026-01-01T12:00:00Z,extra,fields\n"  # line 3: 5 fields
        ",page_view,2026-01-01T12:00:00Z\n",  # line 4: no lead id
    )
    loaded = load_events(path)
    assert loaded.events["lead_id"].tolist() == ["a"]
    q = loaded.quarantine.set_index("line")["reason"].to_dict()
    assert accounted(loaded) == 3
    assert set(q) == {3, 4}, f"line numbers should be 3 and 4, got {q}"
    assert "5 fields" in q[3]
    assert q[4] == "no lead id"


def test_write_quarantine_csv(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "events.csv",
        "client_id,event,time\na,page_view,2026-01-01T12:00:00Z\n,page_view,2026-01-01T12:00:00Z\n",
    )
    loaded = load_events(path)
    out = loaded.write_quarantine(tmp_path / "out" / "quarantine.csv")
    assert out == tmp_path / "out" / "quarantine.csv"
    written = pd.read_csv(out)
    assert list(written.columns) == ["file", "line", "reason", "raw"]
    assert written["line"].tolist() == [3]
    assert written["reason"].tolist() == ["no lead id"]
    assert written["file"].tolist() == [str(path)]


# ----------------------------------------------------------------------------- duplicates


def test_duplicates_by_event_id_and_exact_rows(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "dups.csv",
        "client_id,event,time,event_id\n"
        "a,page_view,2026-01-01T12:00:00Z,e1\n"
        "a,page_view,2026-01-01T12:05:00Z,e1\n"  # same event id, resent later
        "b,page_view,2026-01-01T12:00:00Z,\n"
        "b,page_view,2026-01-01T12:00:00Z,\n"  # the same row twice
        "b,page_view,2026-01-01T12:01:00Z,\n",
    )
    loaded = load_events(path)
    assert loaded.duplicates == 2
    events = loaded.events
    assert list(zip(events["lead_id"], events["timestamp"], strict=True)) == [
        ("a", NOON), ("b", NOON), ("b", NOON + pd.Timedelta(minutes=1)),
    ]  # fmt: skip
    assert loaded.counts["duplicates_removed"] == 2
    assert "2 duplicates removed" in loaded.summary()
    assert accounted(loaded) == data_lines(path)


def test_duplicates_across_files(tmp_path: Path) -> None:
    row = "a,page_view,2026-01-01T12:00:00Z\n"
    write_text(tmp_path / "one.csv", "client_id,event,time\n" + row)
    write_text(tmp_path / "two.csv", "clientId,event_name,timestamp\n" + row)
    loaded = load_events(tmp_path)
    assert len(loaded.events) == 1
    assert loaded.duplicates == 1


def test_a_frame_and_its_arrow_table_mark_the_same_duplicates(tmp_path: Path) -> None:
    """The buckets of the streamed features are de-duplicated as Arrow tables: the rows
    marked are those the frame's rule marks, whatever the mix of ids and repeats."""
    path = write_text(
        tmp_path / "mix.csv",
        "client_id,event,time,event_id,url\n"
        "a,page_view,2026-01-01T12:00:00Z,e1,/x\n"
        "b,page_view,2026-01-01T12:00:00Z,e1,/x\n"  # the same id under another lead: kept
        "a,signup,2026-01-01T12:09:00Z,e1,/y\n"  # a's id again, other fields: a retry
        "c,page_view,2026-01-01T12:00:00Z,,/x\n"
        "c,page_view,2026-01-01T12:00:00Z,,/z\n"  # same lead and time, another page: kept
        "c,page_view,2026-01-01T12:00:00Z,,/x\n"  # the same row again
        "c,page_view,2026-01-01T12:00:00Z,e2,/x\n"  # same row but for an id: kept
        "d,page_view,2026-01-01T12:00:00Z,,\n"
        "d,page_view,2026-01-01T12:00:00Z,,\n",  # no page either time: the same row
    )
    frame, _, lines = read_event_file(path)
    events, _ = normalise(frame, str(path), lines)
    marked = duplicate_events(events)
    assert marked.tolist() == [False, False, True, False, False, True, False, False, True]
    assert duplicate_events(to_event_table(events)).tolist() == marked.tolist()
    no_ids = events.assign(event_id=pd.Series([None] * len(events), dtype=object))
    assert duplicate_events(to_event_table(no_ids)).tolist() == duplicate_events(no_ids).tolist()
    assert duplicate_events(to_event_table(events.head(0))).tolist() == []


def test_events_come_back_sorted_by_time(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "e.csv",
        "client_id,event,time\nb,x,2026-01-01T13:00:00Z\na,x,2026-01-01T12:00:00Z\n",
    )
    events = load_events(path).events
    assert events["lead_id"].tolist() == ["a", "b"]
    assert events.index.tolist() == [0, 1]


# ----------------------------------------------------------------------------- errors


def test_empty_file(tmp_path: Path) -> None:
    path = write_text(tmp_path / "empty.jsonl", "")
    with pytest.raises(DataError, match=r"empty.*empty\.jsonl"):
        load_events(path)


def test_empty_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        load_events(write_text(tmp_path / "empty.csv", ""))


def test_header_only_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no events"):
        load_events(write_text(tmp_path / "header.csv", "client_id,event,time\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not found.*nope\.csv"):
        load_events(tmp_path / "nope.csv")


def test_unknown_column_layout(tmp_path: Path) -> None:
    path = write_text(tmp_path / "odd.csv", "visitor,what,when_it_happened\n1,x,y\n")
    with pytest.raises(DataError) as info:
        load_events(path)
    message = str(info.value)
    assert "odd.csv" in message
    assert "lead_id" in message and "timestamp" in message and "event" in message
    assert "'visitor'" in message and "'when_it_happened'" in message


def test_unknown_layout_names_only_what_is_missing(tmp_path: Path) -> None:
    path = write_text(tmp_path / "noid.csv", "event,time,colour\nx,2026-01-01T12:00:00Z,red\n")
    with pytest.raises(DataError) as info:
        load_events(path)
    message = str(info.value)
    assert "no column for lead_id" in message
    assert "'colour'" in message


def test_numeric_time_that_is_no_epoch_unit(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "minutes.csv", "client_id,event,time\na,x,28000000\nb,x,28000100\n"
    )
    with pytest.raises(DataError) as info:
        load_events(path)
    message = str(info.value)
    assert "minutes.csv" in message
    assert "seconds" in message and "milliseconds" in message


def test_folder_without_event_files(tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "notes.txt").write_text("no events here")
    with pytest.raises(DataError, match="no data files"):
        load_events(folder)


def test_glob_matching_nothing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no files match"):
        load_events(str(tmp_path / "*.jsonl"))


def test_unknown_file_format(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"format.*events\.txt"):
        load_events(write_text(tmp_path / "events.txt", "a b c\n"))


def test_every_line_bad(tmp_path: Path) -> None:
    path = write_text(tmp_path / "bad.jsonl", '{"event": "x", "dist\n[1, 2]\nnot json\n')
    with pytest.raises(DataError, match=r"every event was set aside"):
        load_events(path)


def test_every_row_without_lead_id(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "noids.csv", "client_id,event,time\n,x,2026-01-01T12:00:00Z\n,y,2026-01-01\n"
    )
    with pytest.raises(DataError, match="every event was set aside"):
        load_events(path)


def test_a_bad_file_in_a_folder_is_set_aside_with_the_good_ones_kept(tmp_path: Path) -> None:
    write_text(tmp_path / "a.jsonl", '{"broken\n')
    write_jsonl(tmp_path / "b.jsonl", [mixpanel("page_view", "x", NOON_S)])
    loaded = load_events(tmp_path)
    assert loaded.events["lead_id"].tolist() == ["x"]
    assert loaded.quarantine["file"].tolist() == [str(tmp_path / "a.jsonl")]
    assert loaded.quarantine["line"].tolist() == [1]
