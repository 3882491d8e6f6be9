"""The Data page's source boxes (issue 19, item 4), through Streamlit's AppTest.

Each box reads its own kind of source only (the S3 box ``s3://`` URLs, the SQL box
database URLs), never a local file and never leadscore's own databases (the score store,
the MLflow database), SQL runs one read-only SELECT, and only admins load anything. Every
test has its own store, dashboard folder and MLflow location under tmp_path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import leadscore.ui
from leadscore.store import Store

APP = Path(leadscore.ui.__file__).resolve().parent / "app.py"
ADMIN, ADMIN_PASSWORD = "admin", "admin-password"
VIEWER, VIEWER_PASSWORD = "viewer", "viewer-password"
LEADS = pd.DataFrame(
    {
        "lead_id": [f"L{i}" for i in range(60)],
        "visits": [i % 7 for i in range(60)],
        "converted": ["yes" if i % 4 == 0 else "no" for i in range(60)],
    }
)


@dataclass
class Env:
    root: Path
    store: Store

    @property
    def crm(self) -> Path:
        return self.root / "crm.db"

    def datasets(self) -> list[Path]:
        folder = self.root / "dashboard" / "datasets"
        return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", url)
    monkeypatch.setenv("LEADSCORE_UI_DIR", str(tmp_path / "dashboard"))
    monkeypatch.setenv("LEADSCORE_TRACKING", "false")
    monkeypatch.setenv("LEADSCORE_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("LEADSCORE_CONFIG", raising=False)
    store = Store(url)
    store.users.add(ADMIN, ADMIN_PASSWORD, "admin")
    store.users.add(VIEWER, VIEWER_PASSWORD, "viewer")
    with sqlite3.connect(tmp_path / "crm.db") as conn:
        LEADS.to_sql("leads", conn, index=False)
    yield Env(tmp_path, store)
    store.close()


def data_page(name: str = ADMIN, password: str = ADMIN_PASSWORD) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def load_s3(at: AppTest, url: str) -> AppTest:
    at.text_input(key="s3_url").input(url)
    at.run()
    at.button(key="load_s3").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def load_sql(at: AppTest, url: str, table: str = "", query: str = "") -> AppTest:
    at.text_input(key="sql_url").input(url)
    at.text_input(key="sql_table").input(table)
    at.text_area(key="sql_query").input(query)
    at.run()
    at.button(key="load_sql").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> str:
    return " | ".join(str(e.value) for e in at.error)


def test_the_s3_box_reads_s3_urls_only(env: Env) -> None:
    at = data_page()
    for source, needle in [
        ("/etc/os-release", "is a local file or folder: this box reads an S3 URL"),
        ("file:///etc/os-release", "is a local file or folder"),
        (str(env.crm), "is a local file or folder"),
        (f"sqlite:///{env.root / 'store.db'}?table=webhooks", "is a database URL"),
        (f"sqlite:///{env.crm}?table=leads", "is a database URL"),
    ]:
        load_s3(at, source)
        assert needle in errors(at), (source, errors(at))
        assert not at.success
    assert env.datasets() == []


def test_the_sql_box_refuses_leadscores_own_databases(env: Env) -> None:
    at = data_page()
    (env.root / "sub").mkdir()
    for url in [
        f"sqlite:///{env.root / 'store.db'}",
        f"sqlite:///{env.root}/sub/../store.db",
        f"sqlite:///{env.root}/./store.db",
        f"sqlite:///{env.root / 'mlflow.db'}",
    ]:
        load_sql(at, url, table="webhooks")
        assert "is leadscore's own database" in errors(at), (url, errors(at))
    load_sql(at, f"sqlite:///{env.root / 'store.db'}", query="SELECT secret FROM webhooks")
    assert "is leadscore's own database" in errors(at)
    assert env.datasets() == []


def test_the_sql_box_refuses_local_paths_and_other_kinds(env: Env) -> None:
    at = data_page()
    for url, needle in [
        (str(env.crm), "is a local file or folder: this box reads a database URL"),
        ("/etc/os-release", "is a local file or folder"),
        ("s3://crm/leads.csv", "is an S3 URL"),
    ]:
        load_sql(at, url, table="leads")
        assert needle in errors(at), (url, errors(at))
    assert env.datasets() == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DROP TABLE leads", "it is not a SELECT (it starts with DROP)"),
        ("DELETE FROM leads", "it is not a SELECT (it starts with DELETE)"),
        ("SELECT 1; DROP TABLE leads", "it holds more than one statement"),
        ("SELECT * FROM leads; DELETE FROM leads", "it holds more than one statement"),
    ],
)
def test_the_sql_box_runs_one_select_and_changes_nothing(env: Env, query: str, reason: str) -> None:
    at = data_page()
    load_sql(at, f"sqlite:///{env.crm}", query=query)
    assert "refused the query" in errors(at) and reason in errors(at), errors(at)
    assert env.datasets() == []
    with sqlite3.connect(env.crm) as conn:  # the table is still there, whole
        assert conn.execute("SELECT count(*) FROM leads").fetchone() == (60,)
    load_sql(at, f"sqlite:///{env.crm}", query="SELECT * FROM leads WHERE visits < 5")
    assert not at.error
    assert at.success[0].value.startswith("Loaded SQL query:")


def test_passwords_typed_in_the_sql_box_are_never_shown(env: Env) -> None:
    at = data_page()
    load_sql(at, "postgresql://crm:SECRET@127.0.0.1:9/crm?connect_timeout=2", table="leads")
    assert "cannot connect" in errors(at) and "***" in errors(at), errors(at)
    shown = [
        str(element.value)
        for kind in ("error", "warning", "info", "success", "caption", "markdown", "subheader")
        for element in at.get(kind)
    ]
    assert shown and not [text for text in shown if "SECRET" in text]


def test_viewers_cannot_load_data(env: Env) -> None:
    at = data_page(VIEWER, VIEWER_PASSWORD)
    keys = {w.key for kind in ("text_input", "text_area", "button") for w in at.get(kind)}
    assert not keys & {"s3_url", "sql_url", "sql_query", "load_s3", "load_sql", "load_demo"}
    assert "Only admins load data" in " ".join(str(c.value) for c in at.caption)


def test_an_admin_demoted_mid_session_loads_nothing(env: Env) -> None:
    at = data_page()
    at.text_input(key="sql_url").input(f"sqlite:///{env.crm}")
    at.text_input(key="sql_table").input("leads")
    at.run()
    env.store.users.add("boss", "boss-password", "admin")
    env.store.users.set_role(ADMIN, "viewer")
    at.button(key="load_sql").click()
    at.run()
    assert not at.exception
    assert not at.success and env.datasets() == []
    assert not [b for b in at.button if b.key == "load_sql"]
