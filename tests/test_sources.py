"""Tests for reading and writing lead tables (leadscore.data.sources, table_files)."""

from __future__ import annotations

from collections.abc import Iterator
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


# --- SQL sources are read-only; boxes read their own kind only (issue 19, item 4) -------------

REFUSED_QUERIES = [
    ("DROP TABLE crm_leads", "not a SELECT"),
    ("DELETE FROM crm_leads", "not a SELECT"),
    ("SELECT 1; DROP TABLE crm_leads", "more than one statement"),
    ("select 1 ;drop table crm_leads;", "more than one statement"),
    ("WITH gone AS (DELETE FROM crm_leads RETURNING *) SELECT * FROM gone", "DELETE"),
    ("SELECT * INTO crm_copy FROM crm_leads", "INTO"),
    ("SELECT 'x'; DROP TABLE crm_leads; --'", "more than one statement"),
    ("SELECT E'\\''; DROP TABLE crm_leads; --'", "more than one statement"),
    ("SELECT 1 /* unclosed", "not closed"),
    (" ;", "empty"),
]


def _sql_leads() -> pd.DataFrame:
    return pd.DataFrame({"lead_id": ["L1", "L2"], "visits": [3, 0]})


@pytest.fixture(params=["sqlite", "postgresql"])
def crm_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database holding the table ``crm_leads``: a SQLite file or a fresh PostgreSQL
    schema (dropped afterwards)."""
    from leadscore.data.sql import write_sql

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
        write_sql(_sql_leads(), url, "crm_leads")
        yield url
        return
    import uuid

    import psycopg

    base = request.getfixturevalue("postgres_url")
    schema = f"ro_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE SEQUENCE "{schema}".crm_ids')
    url = f"{base}?options=-csearch_path%3D{schema}"
    try:
        write_sql(_sql_leads(), url, "crm_leads")
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _still_there(url: str) -> None:
    from leadscore.data.sql import read_sql

    frame = read_sql(url, table="crm_leads")
    assert frame["lead_id"].tolist() == ["L1", "L2"]


@pytest.mark.parametrize(("query", "reason"), REFUSED_QUERIES)
def test_a_sql_source_refuses_anything_but_one_select(
    crm_url: str, query: str, reason: str
) -> None:
    import urllib.parse

    from leadscore.data.sql import read_sql

    with pytest.raises(DataError) as caught:
        read_sql(crm_url, query=query)
    assert "refused the query" in str(caught.value) and reason in str(caught.value)
    assert "read-only" in str(caught.value)
    with pytest.raises(DataError, match="refused the query"):
        joiner = "&" if "?" in crm_url else "?"
        read_table(f"{crm_url}{joiner}query={urllib.parse.quote(query)}")
    _still_there(crm_url)


def test_a_sql_source_still_reads_selects_and_tables(crm_url: str) -> None:
    from leadscore.data.sql import read_sql

    query = "WITH t AS (SELECT * FROM crm_leads) SELECT lead_id, visits FROM t ORDER BY lead_id;"
    assert read_sql(crm_url, query=query)["visits"].tolist() == [3, 0]
    assert read_sql(crm_url, query="SELECT 'a;b' AS \"update\"")["update"].tolist() == ["a;b"]
    _still_there(crm_url)


def test_the_connection_itself_is_read_only(crm_url: str) -> None:
    """Past the parse check, the database refuses writes: SQLite opened read-only with
    ``query_only``, PostgreSQL in a ``READ ONLY`` transaction."""
    from sqlalchemy.exc import DBAPIError

    from leadscore.data.sql import _engine, _read_only, normalise_url, read_sql

    engine, _ = _engine(crm_url, read_only=True)
    try:
        for statement in ("DROP TABLE crm_leads", "DELETE FROM crm_leads"):
            with engine.connect() as connection:
                _read_only(connection)
                with pytest.raises(DBAPIError, match=r"read-only|readonly|read only"):
                    connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    if normalise_url(crm_url).get_backend_name() == "postgresql":
        # a SELECT that writes (advances a sequence) is refused by the transaction
        with pytest.raises(DataError, match="read-only transaction"):
            read_sql(crm_url, query="SELECT nextval('crm_ids')")
    _still_there(crm_url)


def test_each_box_reads_its_own_kind_only(tmp_path: Path) -> None:
    from leadscore.config import Settings
    from leadscore.data.sources import require_source

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'leadscore.db'}")
    assert require_source(" s3://crm/leads.csv ", "s3", settings=settings) == "s3://crm/leads.csv"
    assert require_source("sqlite:///crm.db?table=leads", "sql", settings=settings)
    mixpanel = "mixpanel://?from=2025-01-01&to=2025-01-31"
    assert require_source(mixpanel, "mixpanel", settings=settings) == mixpanel
    refused = [
        ("/etc/os-release", "s3", "local file"),
        ("file:///etc/os-release", "s3", "local file"),
        ("../leadscore.db", "sql", "local file"),
        ("sqlite:///x.db?table=webhooks", "s3", "database URL"),
        ("s3://crm/leads.csv", "sql", "S3 URL"),
        ("mixpanel://?from=2025-01-01&to=2025-01-02", "s3", "Mixpanel"),
        ("s3://crm/x.csv", "mixpanel", "S3 URL"),
        ("   ", "s3", "give an S3 URL"),
        ("s3://Not A Bucket/x", "s3", "malformed S3 URL"),
        ("sqlite:///crm.db?query=DROP%20TABLE%20leads", "sql", "not a SELECT"),
    ]
    for source, kind, needle in refused:
        with pytest.raises(DataError, match=needle):
            require_source(source, kind, settings=settings)  # type: ignore[arg-type]


def test_the_stores_own_database_is_refused_however_it_is_spelt(tmp_path: Path) -> None:
    from leadscore.config import Settings
    from leadscore.data.sources import require_source

    store = tmp_path / "leadscore.db"
    store.write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(store)
    settings = Settings(database_url=f"sqlite:///{store}")
    for spelling in (
        f"sqlite:///{store}?table=webhooks",
        f"sqlite:///{tmp_path}/sub/../leadscore.db?table=api_keys",
        f"sqlite:///{tmp_path}/./leadscore.db?query=SELECT%20*%20FROM%20users",
        f"sqlite:///{tmp_path / 'link.db'}?table=webhooks",
        f"sqlite:///file:{store}?mode=ro&uri=true&table=webhooks",
    ):
        with pytest.raises(DataError, match="leadscore's own database"):
            require_source(spelling, "sql", settings=settings)
    other = tmp_path / "mlflow.db"
    with pytest.raises(DataError, match="own database"):
        require_source(f"sqlite:///{other}?table=tags", "sql", settings=settings,
                       protected=[f"sqlite:///{other}"])  # fmt: skip
    pg = Settings(database_url="postgresql://leadscore:pw@db.internal:5432/leadscore")
    for spelling in (
        "postgresql://someone:else@db.internal/leadscore?table=webhooks",
        "postgresql+psycopg://leadscore@DB.internal:5432/leadscore?table=users",
        "postgres://db.internal:5432/leadscore?user=x&table=webhooks",
    ):
        with pytest.raises(DataError, match="own database"):
            require_source(spelling, "sql", settings=pg)
    assert require_source("postgresql://db.internal/crm?table=leads", "sql", settings=pg)
    local = Settings(database_url="postgresql://postgres@localhost/test")
    with pytest.raises(DataError, match="own database"):
        require_source("postgresql://postgres@127.0.0.1:5432/test?table=x", "sql", settings=local)
