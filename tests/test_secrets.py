"""Passwords and secrets in sources never reach MLflow, the model folder or the output.

The end-to-end test trains and compares from a PostgreSQL table through a URL with a
password (``postgresql://USER:SECRET@127.0.0.1:5432/test?table=…``; trust authentication
ignores the password) with tracking on, then reads the bytes of ``mlflow.db``, of every
artefact MLflow kept and of every file in the model folder, and the output of each
command, including failing ones. It needs the PostgreSQL server of the ``postgres_url``
fixture (skipped without it, a failure under ``CI=true``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from leadscore.cli import app
from leadscore.data.masking import mask_source, mask_text
from leadscore.data.sources import parse_mixpanel_url, read_table, source_kind
from leadscore.data.sql import mask
from leadscore.errors import DataError

SECRET = "SECRET"
TRAIN = ["--target", "converted", "--id", "lead_id", "--models", "logreg_l2", "--cv", "3"]


# ----------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("postgresql://u:SECRET@db:5432/crm?table=leads", "postgresql://u:***@db:5432/crm?table=leads"),
        ("postgres://u:SECRET@db/crm", "postgres://u:***@db/crm"),
        ("postgresql://u@db/crm?password=SECRET&sslmode=require",
         "postgresql://u@db/crm?password=***&sslmode=require"),
        ("postgresql://u@db/crm?sslpassword=SECRET", "postgresql://u@db/crm?sslpassword=***"),
        ("postgresql://u@db/crm?options=-c%20password%3DSECRET",
         "postgresql://u@db/crm?options=-c%20password%3D***"),
        ("s3://bucket/x.csv?aws_secret_access_key=SECRET&region=eu",
         "s3://bucket/x.csv?aws_secret_access_key=***&region=eu"),
        ("s3://AKIA:SECRET@bucket/x.csv", "s3://AKIA:***@bucket/x.csv"),
        ("s3://bucket/x.csv?X-Amz-Signature=SECRET", "s3://bucket/x.csv?X-Amz-Signature=***"),
        ("mixpanel://SECRET@123?from=2025-01-01&to=2025-01-02",
         "mixpanel://***@123?from=2025-01-01&to=2025-01-02"),
        ("mixpanel://?from=2025-01-01&to=2025-01-02&api_secret=SECRET",
         "mixpanel://?from=2025-01-01&to=2025-01-02&api_secret=***"),
        ("https://me:SECRET@example.com/leads.csv?token=SECRET",
         "https://me:***@example.com/leads.csv?token=***"),
        ("postgresql://u:p@SECRET@db/crm", "postgresql://u:***@db/crm"),  # an unencoded "@"
        ("postgresql:/u:SECRET@db/crm?table=t", "postgresql:/u:***@db/crm?table=t"),  # via Path
        ("data/leads.csv", "data/leads.csv"),
        ("postgresql://me@db/crm?table=leads", "postgresql://me@db/crm?table=leads"),
    ],
)  # fmt: skip
def test_mask_source_hides_every_kind_of_secret(source: str, shown: str) -> None:
    assert mask_source(source) == shown
    assert SECRET not in mask_source(Path(source))  # a URL given as a Path keeps one "/"


def test_mask_text_keeps_the_message_readable() -> None:
    message = (
        "query failed on postgresql+psycopg://u:SECRET@db/crm (token=SECRET): relation "
        "'password' does not exist; contact me@example.com"
    )
    assert mask_text(message) == (
        "query failed on postgresql+psycopg://u:***@db/crm (token=***): relation "
        "'password' does not exist; contact me@example.com"
    )
    assert mask_source(object()) == "object"


def test_sql_mask_hides_query_parameters_too() -> None:
    assert mask("postgresql://u:SECRET@db/crm?password=SECRET") == (
        "postgresql://u:***@db/crm?password=***"
    )


@pytest.mark.parametrize(
    "source",
    [
        "mixpanel://u:SECRET@123?from=2025-01-01&to=2025-01-02",
        "mixpanel://?from=2025-01-01&to=2025-01-02&api_secret=SECRET",
        "mixpanel://SECRET@?from=2025-01-01",
    ],
)
def test_mixpanel_messages_hide_the_secret(source: str) -> None:
    with pytest.raises(DataError) as caught:
        parse_mixpanel_url(source)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        "https://u:SECRET@example.com/leads.csv",
        "s3://u:SECRET@bad_bucket!/x.csv",
        "postgresql://u:SECRET@db:notaport/crm?table=t",
    ],
)
def test_read_errors_hide_the_secret(source: str) -> None:
    with pytest.raises(DataError) as caught:
        if source_kind(source) == "s3":
            from leadscore.data.s3 import parse_s3_url

            parse_s3_url(source)
        else:
            read_table(source)
    assert SECRET not in str(caught.value)


# ----------------------------------------------------------------------------- end to end


@pytest.fixture
def secret_source(postgres_url: str) -> Iterator[str]:
    """A table of demo leads in PostgreSQL, as a source URL with the password SECRET."""
    import psycopg

    from leadscore.data.sql import write_sql
    from leadscore.demo import generate_leads

    table = f"leads_{uuid.uuid4().hex[:12]}"
    write_sql(generate_leads(500, seed=4).table, postgres_url, table)
    user, _, rest = postgres_url.removeprefix("postgresql://").partition("@")
    try:
        yield f"postgresql://{user}:{SECRET}@{rest}?table={table}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{table}"')


def _files_with_secret(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and SECRET.encode() in path.read_bytes():
                found.append(str(path))
    return found


def test_training_from_a_password_url_leaves_no_secret_anywhere(
    secret_source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(
        env={
            "COLUMNS": "200",
            "LEADSCORE_DEBUG": None,
            "LEADSCORE_CONFIG": None,
            "LEADSCORE_TRACKING": "true",
            "LEADSCORE_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "LEADSCORE_TUNING_BUDGET": "0",
        }
    )

    def run(*args: object) -> Result:
        return runner.invoke(app, [str(a) for a in args])

    results = {
        "compare": run("compare", secret_source, *TRAIN, "--quiet"),
        "train": run("train", secret_source, "--out", tmp_path / "model", *TRAIN, "--quiet"),
        "audit": run(
            "audit", secret_source, "--target", "converted", "--json", tmp_path / "audit.json",
            "--html", tmp_path / "audit.html",
        ),
    }  # fmt: skip
    for name, result in results.items():
        assert result.exit_code == 0, (name, result.output)
    assert "MLflow run" in results["compare"].output
    assert "registered as version 1" in results["train"].output
    missing_table = secret_source.rpartition("?")[0] + "?table=no_such_table"
    unreachable = secret_source.replace(":5432/", ":9/")
    failures = {
        "train, missing table": run("train", missing_table, "--out", tmp_path / "m2", *TRAIN),
        "compare, unreachable": run("compare", unreachable, *TRAIN),
        "ingest, missing table": run("ingest", missing_table, "--out", tmp_path / "x.csv"),
        "audit, bad query": run(
            "audit", secret_source.rpartition("?")[0] + "?query=SELECT%20nope%20FROM%20x"
        ),
    }
    for name, result in failures.items():
        assert result.exit_code == 2, (name, result.output)
        assert "***" in result.output, (name, result.output)
    for name, result in {**results, **failures}.items():
        assert SECRET not in result.output, (name, result.output)
    database = tmp_path / "mlflow.db"
    assert database.is_file() and b"leadscore.source" in database.read_bytes()
    assert b"postgresql://" in database.read_bytes()  # the source is tagged, masked
    assert not _files_with_secret(database, tmp_path / "mlartifacts", tmp_path / "model")
    assert not _files_with_secret(tmp_path / "audit.json", tmp_path / "audit.html")
