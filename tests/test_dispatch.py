"""Tests for the source dispatch of leadscore.data.sources (local folders, patterns, gzip,
JSON) and for leadscore.data.ingest. S3, Mixpanel and SQL have their own test files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from leadscore.data.ingest import ingest
from leadscore.data.sources import default_cache_dir, read_table, resolve_files, source_kind
from leadscore.data.table_files import file_format
from leadscore.errors import DataError

HEADER = "lead_id,visits\n"


def _csv(path: Path, rows: str, *, compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (HEADER + rows).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _jsonl(path: Path, records: list[object], *, compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of lead files in several formats, plus things that are not data."""
    root = tmp_path / "leads"
    _csv(root / "2025-01.csv", "L1,1\nL2,2\n")
    _csv(root / "2025-02.csv.gz", "L3,3\n", compress=True)
    (root / "archive").mkdir()
    pd.DataFrame({"lead_id": ["L4"], "visits": [4]}).to_parquet(root / "archive" / "old.parquet")
    (root / "README.md").write_text("not data")
    (root / ".hidden.csv").write_text(HEADER + "H1,9\n")
    _csv(root / ".cache" / "x.csv", "H2,9\n")
    return root


# --- classification ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("leads.csv", "local"),
        ("data/*.csv", "local"),
        (Path("s3://not-a-url-when-a-path"), "local"),
        ("file:///tmp/leads.csv", "local"),
        ("C:\\data\\leads.csv", "local"),
        ("s3://bucket/key.csv", "s3"),
        ("mixpanel://?from=2025-01-01&to=2025-01-02", "mixpanel"),
        ("sqlite:///crm.db?table=leads", "sql"),
        ("postgresql+psycopg://u@h/db?table=t", "sql"),
    ],
)
def test_source_kind(source: str | Path, kind: str) -> None:
    assert source_kind(source) == kind


@pytest.mark.parametrize("source", ["https://example.com/leads.csv", "gs://bucket/leads.csv"])
def test_unsupported_schemes(source: str) -> None:
    with pytest.raises(DataError, match="unsupported source") as caught:
        read_table(source)
    assert source in str(caught.value)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("a.TSV.gz", "csv"), ("a.pq", "parquet"), ("a.jsonl.gz", "json")],
)
def test_file_format(name: str, fmt: str) -> None:
    assert file_format(Path(name)) == fmt


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEADSCORE_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LEADSCORE_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "leadscore"


# --- folders and patterns ----------------------------------------------------------------------


def test_resolve_directory_recursively(folder: Path) -> None:
    assert resolve_files(folder) == [
        folder / "2025-01.csv",
        folder / "2025-02.csv.gz",
        folder / "archive" / "old.parquet",
    ]


def test_read_directory_concatenates_formats(folder: Path) -> None:
    frame = read_table(folder)
    assert frame["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]
    assert frame["visits"].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("*.csv", ["L1", "L2"]), ("2025-*", ["L1", "L2", "L3"]), ("**/*.parquet", ["L4"])],
)
def test_read_glob(folder: Path, pattern: str, expected: list[str]) -> None:
    assert read_table(f"{folder}/{pattern}")["lead_id"].tolist() == expected


def test_file_url(folder: Path) -> None:
    frame = read_table((folder / "2025-01.csv").as_uri())
    assert frame["lead_id"].tolist() == ["L1", "L2"]


def test_empty_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="directory") as caught:
        read_table(empty)
    assert str(empty) in str(caught.value)


def test_glob_without_matches(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no files match") as caught:
        read_table(tmp_path / "*.csv")
    assert str(tmp_path / "*.csv") in str(caught.value)


def test_files_with_other_columns_are_refused(tmp_path: Path) -> None:
    _csv(tmp_path / "a.csv", "L1,1\n")
    (tmp_path / "b.csv").write_text("lead_id,clicks\nL2,5\n")
    with pytest.raises(DataError, match="columns") as caught:
        read_table(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "b.csv") in message and "clicks" in message


def test_same_columns_in_another_order_are_aligned(tmp_path: Path) -> None:
    _csv(tmp_path / "a.csv", "L1,1\n")
    (tmp_path / "b.csv").write_text("visits,lead_id\n2,L2\n")
    frame = read_table(tmp_path)
    assert frame.to_dict("list") == {"lead_id": ["L1", "L2"], "visits": [1, 2]}


def test_zero_byte_csv_among_many_is_reported(tmp_path: Path) -> None:
    _csv(tmp_path / "a.csv", "L1,1\n")
    (tmp_path / "b.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty") as caught:
        read_table(tmp_path)
    assert str(tmp_path / "b.csv") in str(caught.value)


def test_header_only_files_among_many_are_fine(tmp_path: Path) -> None:
    _csv(tmp_path / "a.csv", "L1,1\n")
    _csv(tmp_path / "b.csv", "")
    assert read_table(tmp_path)["lead_id"].tolist() == ["L1"]
    (tmp_path / "a.csv").unlink()
    _csv(tmp_path / "c.csv", "")
    with pytest.raises(DataError, match="no rows in any of the 2 files"):
        read_table(tmp_path)


# --- gzip and JSON -----------------------------------------------------------------------------


def test_read_gzip_csv_with_semicolons_and_latin1(tmp_path: Path) -> None:
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress("city;visits\nKöln;3\nSão Paulo;5\n".encode("latin-1")))
    frame = read_table(path)
    assert frame["city"].tolist() == ["Köln", "São Paulo"]


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 definitely not deflate data")
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("name", ["leads.jsonl", "leads.ndjson", "leads.jsonl.gz"])
def test_read_jsonl(tmp_path: Path, name: str) -> None:
    records = [{"lead_id": "L1", "visits": 3}, {"lead_id": "L2", "visits": None, "extra": "x"}]
    path = _jsonl(tmp_path / name, records, compress=name.endswith(".gz"))
    frame = read_table(path)
    assert frame["lead_id"].tolist() == ["L1", "L2"]
    assert frame["visits"].iloc[0] == 3 and pd.isna(frame["visits"].iloc[1])
    assert pd.isna(frame["extra"].iloc[0]) and frame["extra"].iloc[1] == "x"


def test_read_json_array(tmp_path: Path) -> None:
    path = tmp_path / "leads.json"
    path.write_text(json.dumps([{"lead_id": "L1"}, {"lead_id": "L2"}]))
    assert read_table(path)["lead_id"].tolist() == ["L1", "L2"]


def test_mixpanel_style_jsonl_is_flattened(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "events.jsonl",
        [{"event": "Signed Up", "properties": {"distinct_id": "u1", "time": 1735700000}}],
    )
    frame = read_table(path)
    assert frame.to_dict("list") == {
        "event": ["Signed Up"],
        "distinct_id": ["u1"],
        "time": [1735700000],
    }


def test_jsonl_folder_unions_fields_and_skips_empty_days(tmp_path: Path) -> None:
    _jsonl(tmp_path / "d1.jsonl", [{"event": "a", "x": 1}])
    (tmp_path / "d2.jsonl").write_bytes(b"")  # a day without events
    _jsonl(tmp_path / "d3.jsonl.gz", [{"event": "b", "y": 2}], compress=True)
    frame = read_table(tmp_path)
    assert frame["event"].tolist() == ["a", "b"]
    assert set(frame.columns) == {"event", "x", "y"}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"a": 1}\n{"a": \n', "line 2 of .* is not valid JSON"),
        ('{"a": 1}\n\n[1, 2]\n', "line 3 of .* is not a JSON object"),
        ("[1, 2]", "item 1 of .* is not a JSON object"),
    ],
)
def test_bad_json(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=match) as caught:
        read_table(path)
    assert str(path) in str(caught.value)


def test_empty_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    path.write_text("\n\n")
    with pytest.raises(DataError, match="no records") as caught:
        read_table(path)
    assert str(path) in str(caught.value)


# --- ingest ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.csv", "out.parquet", "out.tsv"])
def test_ingest_folder_to_table(folder: Path, tmp_path: Path, name: str) -> None:
    out = ingest(folder, tmp_path / "snap" / name)
    assert out == tmp_path / "snap" / name
    assert read_table(out)["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]
    assert [p.name for p in out.parent.iterdir()] == [name]


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_ingest_events_to_jsonl_streams_flat_records(tmp_path: Path, name: str) -> None:
    raw = tmp_path / "raw"
    _jsonl(
        raw / "d1.jsonl.gz", [{"event": "a", "properties": {"distinct_id": "u1"}}], compress=True
    )
    (raw / "d2.jsonl").write_text('{"event": "b", "properties": {"distinct_id": "u2"}}\n{oops\n')
    out = ingest(raw, tmp_path / name)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(out, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert [json.loads(line) for line in lines[:2]] == [
        {"event": "a", "distinct_id": "u1"},
        {"event": "b", "distinct_id": "u2"},
    ]
    assert lines[2] == "{oops"  # kept for the events loader to quarantine, not dropped


def test_ingest_table_to_jsonl(folder: Path, tmp_path: Path) -> None:
    out = ingest(folder / "2025-01.csv", tmp_path / "leads.jsonl")
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"lead_id": "L1", "visits": 1},
        {"lead_id": "L2", "visits": 2},
    ]


def test_ingest_dataframe(tmp_path: Path) -> None:
    out = ingest(pd.DataFrame({"a": [1, 2]}), tmp_path / "a.parquet")
    assert pd.read_parquet(out)["a"].tolist() == [1, 2]


def test_ingest_unknown_output_format(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="output format") as caught:
        ingest(folder, tmp_path / "out.xlsx")
    assert "out.xlsx" in str(caught.value)
    assert not (tmp_path / "out.xlsx").exists()


def test_ingest_missing_source_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        ingest(tmp_path / "nope.jsonl", tmp_path / "out.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
