"""Tests for reading and writing lead tables (leadscore.data.sources, table_files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.data.sources import read_table
from leadscore.data.table_files import sniff_delimiter, write_table
from leadscore.errors import DataError

ROWS = [["L1", "Ann", "3", "12.5"], ["L2", "Bob", "4", ""], ["L3", "Cléo", "0", "7"]]
HEADER = ["lead_id", "name", "visits", "time_on_site"]


def _write_delimited(path: Path, delimiter: str, newline: str = "\n") -> Path:
    lines = [delimiter.join(HEADER), *(delimiter.join(row) for row in ROWS)]
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def _assert_expected_table(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == HEADER
    assert frame.shape == (3, 4)
    assert frame["lead_id"].tolist() == ["L1", "L2", "L3"]
    assert frame["name"].tolist() == ["Ann", "Bob", "Cléo"]
    assert frame["visits"].tolist() == [3, 4, 0]
    assert pd.api.types.is_integer_dtype(frame["visits"].dtype)
    time = frame["time_on_site"]
    assert pd.api.types.is_float_dtype(time.dtype)
    assert time.iloc[0] == 12.5 and np.isnan(time.iloc[1]) and time.iloc[2] == 7.0


# --- delimiters, encodings, line endings ------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "suffix"),
    [(",", ".csv"), (";", ".csv"), ("\t", ".tsv"), ("\t", ".csv"), ("|", ".txt"), ("|", ".csv")],
    ids=["comma", "semicolon", "tab-tsv", "tab-csv", "pipe-txt", "pipe-csv"],
)
def test_read_csv_detects_delimiter(tmp_path: Path, delimiter: str, suffix: str) -> None:
    path = _write_delimited(tmp_path / f"leads{suffix}", delimiter)
    _assert_expected_table(read_table(path))


def test_values_containing_other_delimiters_are_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("name;city;visits\nSmith, John;Paris, FR;3\nDoe | Jane;Köln;4\n")
    frame = read_table(path)
    assert list(frame.columns) == ["name", "city", "visits"]
    assert frame["name"].tolist() == ["Smith, John", "Doe | Jane"]
    assert frame["city"].tolist() == ["Paris, FR", "Köln"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("a|b|c", "|"), ("single", ",")],
)
def test_sniff_delimiter(header: str, expected: str) -> None:
    assert sniff_delimiter(header + "\n") == expected


def test_read_latin1_file(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    text = "city;Société;visits\nKöln;Crème brûlée SA;3\nSão Paulo;Ñandú;5\n"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file really is not UTF-8
    frame = read_table(path)
    assert list(frame.columns) == ["city", "Société", "visits"]
    assert frame["city"].tolist() == ["Köln", "São Paulo"]
    assert frame["Société"].tolist() == ["Crème brûlée SA", "Ñandú"]
    assert frame["visits"].tolist() == [3, 5]


def test_read_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,visits\na,1\nb,2\n".encode())
    frame = read_table(path)
    assert list(frame.columns) == ["id", "visits"]  # no BOM glued to the first name


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_read_crlf_line_endings(tmp_path: Path, delimiter: str) -> None:
    path = _write_delimited(tmp_path / "windows.csv", delimiter, newline="\r\n")
    assert b"\r\n" in path.read_bytes()
    frame = read_table(path)
    _assert_expected_table(frame)
    for column in ("lead_id", "name"):  # no stray carriage returns in names or values
        assert not frame[column].str.contains("\r").any()
    assert not any("\r" in c for c in frame.columns)


# --- parquet and write_table ------------------------------------------------------------------


def _sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": ["a", "b", "c"],
            "visits": [1, 2, 3],
            "time_on_site": [1.5, np.nan, 3.25],
            "source": ["google", None, "email"],
            "created": pd.to_datetime(["2026-01-01 10:00", "2026-02-01 00:00", None]),
        }
    )


def test_parquet_round_trip(tmp_path: Path) -> None:
    frame = _sample_frame()
    out = write_table(frame, tmp_path / "nested" / "dir" / "leads.parquet")
    assert out == tmp_path / "nested" / "dir" / "leads.parquet"
    assert out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["leads.parquet"]  # no .partial left
    back = read_table(out)
    pd.testing.assert_frame_equal(back, frame)


def test_csv_round_trip(tmp_path: Path) -> None:
    frame = _sample_frame().drop(columns="created")
    out = write_table(frame, tmp_path / "leads.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["leads.csv"]
    back = read_table(out)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert back["visits"].tolist() == [1, 2, 3]


def test_tsv_is_written_with_tabs(tmp_path: Path) -> None:
    out = write_table(_sample_frame().drop(columns="created"), tmp_path / "leads.tsv")
    first = out.read_text().splitlines()[0]
    assert first == "lead_id\tvisits\ttime_on_site\tsource"
    assert read_table(out)["source"].iloc[2] == "email"


def test_write_table_overwrites_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("old,content\n1,2\n")
    write_table(pd.DataFrame({"x": [7]}), path)
    assert read_table(path)["x"].tolist() == [7]
    assert [p.name for p in tmp_path.iterdir()] == ["leads.csv"]


@pytest.mark.parametrize("name", ["leads.xlsx", "leads.json", "leads"])
def test_write_table_refuses_unknown_extension(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match=r"\.csv or \.parquet") as caught:
        write_table(_sample_frame(), tmp_path / name)
    assert name in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # neither the output nor a .partial file


# --- errors ------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="not found") as caught:
        read_table(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty") as caught:
        read_table(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("content", [b"a,b,c\n", b"a,b,c", b"a;b;c\r\n"])
def test_header_only_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "header.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="no rows") as caught:
        read_table(path)
    assert str(path) in str(caught.value)


def test_blank_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\n\n\n")
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert str(path) in str(caught.value)


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "leads.csv"
    folder.mkdir()
    with pytest.raises(DataError, match="directory") as caught:
        read_table(folder)
    assert str(folder) in str(caught.value)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really a parquet file at all")
    with pytest.raises(DataError, match="Parquet") as caught:
        read_table(path)
    assert str(path) in str(caught.value)


def test_truncated_parquet(tmp_path: Path) -> None:
    good = write_table(_sample_frame(), tmp_path / "good.parquet")
    path = tmp_path / "cut.parquet"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert str(path) in str(caught.value)


def test_ragged_csv_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert str(path) in str(caught.value)


def test_dataframe_passes_through_and_empty_frame_is_refused() -> None:
    frame = pd.DataFrame({"a": [1]})
    assert read_table(frame) is frame
    with pytest.raises(DataError, match="empty"):
        read_table(pd.DataFrame({"a": []}))
