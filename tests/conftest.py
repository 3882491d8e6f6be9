"""Shared fixtures: a small seeded demo lead table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadscore.demo import DemoLeads, generate_leads

# Hyperparameter search costs `train` up to a minute by default; the suite trains a model
# in dozens of tests that are about other things. tests/test_tuning.py searches on purpose.
os.environ.setdefault("LEADSCORE_TUNING_BUDGET", "0")
# A store without a key of its own would make its webhook-secret key file in the runner's
# home (PostgreSQL stores); one key file for the whole run, in a temporary folder.
if "LEADSCORE_SECRET_KEY" not in os.environ and "LEADSCORE_SECRET_KEY_FILE" not in os.environ:
    import tempfile

    os.environ["LEADSCORE_SECRET_KEY_FILE"] = str(
        Path(tempfile.mkdtemp(prefix="leadscore-keys-")) / "secret.key"
    )
# the same for the key that signs model folders (leadscore.modeling.signing)
if "LEADSCORE_SIGNING_KEY" not in os.environ and "LEADSCORE_SIGNING_KEY_FILE" not in os.environ:
    import tempfile

    os.environ["LEADSCORE_SIGNING_KEY_FILE"] = str(
        Path(tempfile.mkdtemp(prefix="leadscore-signing-")) / "signing.key"
    )


@pytest.fixture(scope="session")
def demo_leads() -> DemoLeads:
    """1,500 labelled demo leads (about 180 converted: not "small data"). Do not modify it:
    tests that change the table work on ``demo_leads.table.copy()``."""
    return generate_leads(1500, seed=1)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the test PostgreSQL at 127.0.0.1:5432 (trust auth, database
    ``test``; user ``postgres`` or ``root``). Skips when it is unreachable — except when
    ``CI=true``, where a missing database is a failure rather than a silent skip."""
    import os

    import psycopg

    problems = []
    for user in ("postgres", "root"):
        try:
            with psycopg.connect(
                host="127.0.0.1", port=5432, dbname="test", user=user, connect_timeout=3
            ):
                return f"postgresql://{user}@127.0.0.1:5432/test"
        except psycopg.Error as exc:
            problems.append(f"{user}: {str(exc).strip()}")
    message = (
        "PostgreSQL not reachable at 127.0.0.1:5432 (database test, trust auth, user "
        f"postgres or root): {'; '.join(problems)}"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for the score store: a SQLite file, or a new PostgreSQL
    schema (``search_path`` in the URL, so Alembic's version table lives there too),
    dropped afterwards. Tests using it run on both."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    import uuid

    import psycopg

    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pytest_configure(config: pytest.Config) -> None:
    """Tests do not write MLflow runs into the working copy: tracking is off unless a test
    turns it on with its own store (see tests/test_registry.py)."""
    import os

    os.environ.setdefault("LEADSCORE_TRACKING", "false")


@pytest.fixture(scope="module")
def model_dir(demo_leads: DemoLeads, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logistic-regression lead model trained on :func:`demo_leads`, saved once per test
    module for the service to serve (a module wanting another model defines its own)."""
    from leadscore import LeadModel
    from leadscore.lifecycle.artifacts import save_model

    table = demo_leads.table
    inputs = table.drop(columns=["lead_id", "converted", "sales_status"])
    model = LeadModel("logreg_l2", cv=3).fit(inputs, table["converted"], id_column="lead_id")
    return save_model(model, tmp_path_factory.mktemp("served") / "model")


@pytest.fixture(scope="session")
def streaming_demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The events demo of 160 leads as JSON lines, and as Parquet in two files with small
    row groups (the streamed features' tests)."""
    import pyarrow.parquet as pq

    from leadscore.demo import write_demo_events

    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_events(folder, leads=160, new_leads=30, seed=11)
    # the same demo as Parquet, in two files with small row groups: read in batches of
    # 500 rows, most leads' events straddle batches, and the last lead of the first file
    # continues in the second
    clean = write_demo_events(folder / "parquet", leads=160, new_leads=30, seed=11,
                              fmt="parquet")  # fmt: skip
    events = pq.read_table(clean["events"])
    half = events.num_rows // 2
    for name, part in (("a", events.slice(0, half)), ("b", events.slice(half))):
        pq.write_table(part, folder / f"split_{name}.parquet", row_group_size=400)
    paths["split"] = folder / "split_*.parquet"
    paths["split_outcomes"] = clean["outcomes"]
    ids = events["lead_id"].to_pylist()
    paths["straddler"] = ids[half - 1]
    assert paths["straddler"] in set(ids[half:])
    return paths
