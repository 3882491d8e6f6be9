"""Tests for SQL sources (leadscore.data.sql and the database-URL dispatch).

SQLite runs from a temporary file; PostgreSQL is the real server at 127.0.0.1:5432 (see
the ``postgres_url`` fixture in conftest.py). Every PostgreSQL test works on tables and a
schema with a unique name, dropped afterwards.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from leadscore.data.ingest import ingest
from leadscore.data.sources import read_table, resolve_files, source_kind
from leadscore.data.sql import mask, normalise_url, read_sql, split_sql_source, write_sql
from leadscore.errors import DataError

LEADS = pd.DataFrame(
    {
        "lead_id": ["L1", "L2", "L3"],
        "visits": [3, 0, 7],
        "time_on_site": [12.5, None, 3.0],
        "source": ["google", "email", None],
    }
)


def _check_leads(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(LEADS.columns)
    assert frame["lead_id"].tolist() == ["L1", "L2", "L3"]
    assert frame["visits"].tolist() == [3, 0, 7]
    assert frame["time_on_site"].iloc[0] == 12.5 and pd.isna(frame["time_on_site"].iloc[1])
    assert pd.isna(frame["source"].iloc[2])


# --- URLs --------------------------------------------------------------------------------------


def test_split_sql_source_keeps_driver_parameters() -> None:
    query = urllib.parse.quote("SELECT * FROM leads WHERE visits > 2")
    url, table, sql = split_sql_source(f"postgresql://me@db/crm?sslmode=require&query={query}")
    assert url == "postgresql://me@db/crm?sslmode=require"
    assert table is None and sql == "SELECT * FROM leads WHERE visits > 2"
    assert split_sql_source("sqlite:///a.db?table=s.leads") == ("sqlite:///a.db", "s.leads", None)


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://me@db/crm", "postgresql+psycopg"),
        ("postgres://me@db/crm", "postgresql+psycopg"),
        ("postgresql+psycopg://me@db/crm", "postgresql+psycopg"),
        ("sqlite:///crm.db", "sqlite"),
    ],
)
def test_postgresql_uses_psycopg(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


def test_mask_hides_the_password() -> None:
    assert mask("postgresql://me:hunter2@db:5432/crm") == "postgresql://me:***@db:5432/crm"


@pytest.mark.parametrize(
    "source",
    ["sqlite:///x.db?table=t", "postgresql://h/db?table=t", "postgresql+psycopg://h/db?table=t"],
)
def test_database_urls_dispatch_to_sql(source: str) -> None:
    assert source_kind(source) == "sql"
    with pytest.raises(DataError, match="database table"):
        resolve_files(source)


# --- SQLite ------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    assert write_sql(LEADS, url, "leads") == 3
    return url


def test_sqlite_read_by_table_schema_table_and_query(sqlite_url: str) -> None:
    _check_leads(read_sql(sqlite_url, table="leads"))
    _check_leads(read_sql(sqlite_url, table="main.leads"))
    frame = read_sql(sqlite_url, query="SELECT lead_id FROM leads WHERE visits > 2")
    assert frame["lead_id"].tolist() == ["L1", "L3"]


def test_sqlite_read_table_dispatch(sqlite_url: str) -> None:
    _check_leads(read_table(f"{sqlite_url}?table=leads"))
    query = urllib.parse.quote("SELECT * FROM leads ORDER BY visits DESC")
    assert read_table(f"{sqlite_url}?query={query}")["lead_id"].tolist() == ["L3", "L1", "L2"]


def test_sqlite_missing_table_lists_tables(sqlite_url: str) -> None:
    write_sql(LEADS, sqlite_url, "contacts")
    with pytest.raises(DataError, match="not found") as caught:
        read_sql(sqlite_url, table="lead")
    message = str(caught.value)
    assert "'lead'" in message and "tables: contacts, leads" in message
    assert sqlite_url in message


def test_sqlite_table_or_query_required(sqlite_url: str) -> None:
    with pytest.raises(DataError, match=r"\?table=leads"):
        read_table(sqlite_url)
    with pytest.raises(DataError, match="either a table or a query"):
        read_sql(sqlite_url, table="leads", query="SELECT 1")


def test_sqlite_query_error_has_the_database_message(sqlite_url: str) -> None:
    with pytest.raises(DataError, match="no such column: nope"):
        read_sql(sqlite_url, query="SELECT nope FROM leads")


def test_sqlite_empty_result_is_an_error(sqlite_url: str) -> None:
    query = urllib.parse.quote("SELECT * FROM leads WHERE visits > 100")
    with pytest.raises(DataError, match="no rows"):
        read_table(f"{sqlite_url}?query={query}")


def test_sqlite_write_modes(sqlite_url: str) -> None:
    with pytest.raises(DataError, match="already exists") as caught:
        write_sql(LEADS, sqlite_url, "leads")
    assert "replace" in str(caught.value)
    write_sql(LEADS, sqlite_url, "leads", if_exists="append")
    assert len(read_sql(sqlite_url, table="leads")) == 6
    write_sql(LEADS.head(1), f"{sqlite_url}?table=leads", if_exists="replace")
    assert read_sql(sqlite_url, table="leads")["lead_id"].tolist() == ["L1"]


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope.db"
    with pytest.raises(DataError, match="database file not found") as caught:
        read_table(f"sqlite:///{path}?table=leads")
    assert str(path) in str(caught.value)
    assert not path.exists()


def test_unknown_dialect() -> None:
    with pytest.raises(DataError, match="unsupported database"):
        read_sql("nosuchdb://host/db", table="leads")


def test_ingest_sql_to_csv(sqlite_url: str, tmp_path: Path) -> None:
    out = ingest(f"{sqlite_url}?table=leads", tmp_path / "out" / "leads.csv")
    _check_leads(pd.read_csv(out))


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def pg(postgres_url: str) -> Iterator[tuple[str, str, str]]:
    """``(url, table, schema)``: LEADS written to a unique table, and a unique empty schema."""
    suffix = uuid.uuid4().hex[:10]
    table, schema = f"leads_{suffix}", f"crm_{suffix}"
    engine = sa.create_engine(normalise_url(postgres_url))
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    write_sql(LEADS, postgres_url, table)
    try:
        yield postgres_url, table, schema
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_postgres_read_by_table(pg: tuple[str, str, str]) -> None:
    url, table, _ = pg
    _check_leads(read_sql(url, table=table))
    _check_leads(read_sql(url.replace("postgresql://", "postgresql+psycopg://"), table=table))


def test_postgres_read_schema_table(pg: tuple[str, str, str]) -> None:
    url, _, schema = pg
    write_sql(LEADS, url, f"{schema}.leads")
    _check_leads(read_sql(url, table=f"{schema}.leads"))
    _check_leads(read_table(f"{url}?table={schema}.leads"))


def test_postgres_read_by_query(pg: tuple[str, str, str]) -> None:
    url, table, _ = pg
    sql = f"SELECT lead_id, visits * 2 AS doubled FROM {table} WHERE visits > 0 ORDER BY lead_id"
    frame = read_table(f"{url}?query={urllib.parse.quote(sql)}")
    assert frame.to_dict("list") == {"lead_id": ["L1", "L3"], "doubled": [6, 14]}


def test_postgres_read_table_dispatch(pg: tuple[str, str, str]) -> None:
    url, table, _ = pg
    _check_leads(read_table(f"{url}?table={table}"))


def test_postgres_missing_table_lists_tables(pg: tuple[str, str, str]) -> None:
    url, table, schema = pg
    with pytest.raises(DataError, match="not found") as caught:
        read_sql(url, table=table + "_typo")
    assert table in str(caught.value).split("tables:")[1]
    write_sql(LEADS, url, f"{schema}.accounts")
    with pytest.raises(DataError, match="not found") as caught:
        read_sql(url, table=f"{schema}.leads")
    assert f"tables: {schema}.accounts" in str(caught.value)


def test_postgres_query_error(pg: tuple[str, str, str]) -> None:
    url, table, _ = pg
    with pytest.raises(DataError, match="query failed") as caught:
        read_sql(url, query=f"SELECT no_such_column FROM {table}")
    assert "no_such_column" in str(caught.value)


def test_postgres_write_round_trip(pg: tuple[str, str, str]) -> None:
    url, table, _ = pg
    more = LEADS.assign(lead_id=["L4", "L5", "L6"])
    write_sql(more, f"{url}?table={table}", if_exists="append")
    assert read_sql(url, table=table)["lead_id"].tolist() == ["L1", "L2", "L3", "L4", "L5", "L6"]
    with pytest.raises(DataError, match="already exists"):
        write_sql(LEADS, url, table)


def test_postgres_unreachable_host_masks_the_password() -> None:
    url = "postgresql://leadscore:Sup3rSecret@127.0.0.1:9/test?table=leads"
    with pytest.raises(DataError, match="cannot connect") as caught:
        read_table(url)
    message = str(caught.value)
    assert "127.0.0.1:9" in message
    assert "Sup3rSecret" not in message and "***" in message
