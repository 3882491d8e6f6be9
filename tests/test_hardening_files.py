"""What the store leaves on disk is for its owner only (issue 19, item 15).

* webhook secrets are encrypted at rest (:mod:`leadscore.store.secrets`): the column holds
  no plain text, signatures still verify, another process opens them, secrets stored in
  plain text before still work, keys rotate, and a secret no key opens is not an outage;
* the SQLite store (and its ``-wal`` / ``-shm``), the embedded MLflow store and the key
  files are created with mode 0600, whatever the umask.

Store-backed tests run on a SQLite file and on PostgreSQL (a schema per test). The key is
never the developer's: ``LEADSCORE_SECRET_KEY`` is unset and the per-user key file lives
under ``tmp_path`` (``XDG_CONFIG_HOME``).
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from leadscore.live import add_score
from leadscore.private_files import create_private_file
from leadscore.store import Store, StoreError
from leadscore.store import secrets as sealing
from leadscore.webhooks import SIGNATURE_HEADER, WebhookDispatcher, verify

SECRET = "whsec-hardening-5678"
URL = "https://crm.example.com/hooks/leads"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def own_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No configured key; the per-user key file (PostgreSQL's) under ``tmp_path``."""
    monkeypatch.delenv(sealing.KEY_ENV, raising=False)
    monkeypatch.delenv(sealing.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "leadscore" / "secret.key"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are created world-readable (0644)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


def _stored_secrets(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT secret FROM webhooks ORDER BY id")).scalars())


def _sent(store: Store) -> list[httpx.Request]:
    """Deliver what is due through a stand-in CRM; the requests it received."""
    received: list[httpx.Request] = []

    def crm(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    client = httpx.Client(transport=httpx.MockTransport(crm))
    with client:
        WebhookDispatcher(store, client=client).deliver_due()
    return received


# ------------------------------------------------------------------ secrets at rest


def test_webhook_secrets_are_encrypted_at_rest_and_still_sign(
    store: Store, db_url: str, own_keys: Path, umask_022: None
) -> None:
    hook = store.webhooks.add(URL, SECRET)
    (stored,) = _stored_secrets(store)
    assert SECRET not in stored and stored.startswith(sealing.PREFIX)
    assert store.webhooks.get(hook.id).secret == SECRET
    assert [h.secret for h in store.webhooks.all()] == [SECRET]
    # the key file was made on first use, for the owner only
    if store.dialect == "sqlite":
        key = Path(str(store.engine.url.database) + ".key")
        assert not own_keys.exists()
    else:
        key = own_keys
    assert key.is_file() and _mode(key) == 0o600
    # deliveries are signed with the secret itself, as receivers expect
    add_score(store, "L1", "3", 0.93, 93, "hot", True)
    (request,) = _sent(store)
    assert verify(SECRET, request.content, request.headers[SIGNATURE_HEADER])


def test_another_process_opens_the_secret(store: Store, db_url: str, tmp_path: Path) -> None:
    hook = store.webhooks.add(URL, SECRET)
    script = (
        "import sys; from leadscore.store import Store; "
        "print(Store(sys.argv[1]).webhooks.get(int(sys.argv[2])).secret)"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run(
        [sys.executable, "-c", script, db_url, str(hook.id)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == SECRET


def test_secrets_stored_in_plain_text_before_still_work(store: Store) -> None:
    hook = store.webhooks.add(URL, SECRET)
    with store.engine.begin() as conn:  # as a store from before sealing left it
        conn.execute(sa.text("UPDATE webhooks SET secret = 'plain-old-secret'"))
    assert store.webhooks.get(hook.id).secret == "plain-old-secret"
    add_score(store, "L1", "3", 0.93, 93, "hot", True)
    (request,) = _sent(store)
    assert verify("plain-old-secret", request.content, request.headers[SIGNATURE_HEADER])


def test_a_configured_key_seals_and_keys_rotate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = sealing.new_key(), sealing.new_key()
    monkeypatch.setenv(sealing.KEY_ENV, old)
    with Store(f"sqlite:///{tmp_path / 'keyed.db'}") as store:
        hook = store.webhooks.add(URL, SECRET)
        assert not (tmp_path / "keyed.db.key").exists()  # the configured key, no key file
        monkeypatch.setenv(sealing.KEY_ENV, f"{new},{old}")  # rotated: new seals, both open
        assert store.webhooks.get(hook.id).secret == SECRET
        second = store.webhooks.add("https://crm.example.com/other", "second-secret")
    assert _stored(tmp_path / "keyed.db", second.id).startswith(sealing.PREFIX)
    assert sealing.reveal(sealing.seal("x", "sqlite://")) == "x"
    lost = sealing.seal("lost-secret", "sqlite://")  # sealed with `new`, never opened yet
    # a long pass phrase is a key too; a short one is refused with how to make one
    monkeypatch.setenv(sealing.KEY_ENV, "a pass phrase of well over thirty-two characters")
    assert sealing.reveal(sealing.seal("y", "sqlite://")) == "y"
    monkeypatch.setenv(sealing.KEY_ENV, "too short")
    with pytest.raises(StoreError, match=r"Fernet key .*new_key"):
        sealing.seal("z", "sqlite://")
    # without the key it was sealed with, a secret is not an outage: logged, and replaced
    # by a random value no receiver accepts
    monkeypatch.setenv(sealing.KEY_ENV, sealing.new_key())
    with caplog.at_level(logging.ERROR, logger="leadscore.store.secrets"):
        first, again = sealing.reveal(lost), sealing.reveal(lost)
    assert "lost-secret" not in (first, again) and first != again
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "cannot be decrypted" in caplog.records[0].getMessage()


def _stored(database: Path, webhook_id: int) -> str:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT secret FROM webhooks WHERE id = :id")
            return str(conn.execute(query, {"id": webhook_id}).scalar_one())
    finally:
        engine.dispose()


def test_writers_making_the_key_file_at_once_agree(tmp_path: Path) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from cryptography.fernet import Fernet

    url = f"sqlite:///{tmp_path / 'race.db'}"
    start = threading.Barrier(8)

    def sealed(_: int) -> str:
        start.wait()
        return sealing.seal("s", url)

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(sealed, range(8)))
    key = (tmp_path / "race.db.key").read_text().strip()
    assert {Fernet(key).decrypt(t.removeprefix(sealing.PREFIX)) for t in tokens} == {b"s"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.db.key"]  # no temporary left


# ------------------------------------------------------------------ file modes


def test_a_new_sqlite_store_and_its_wal_are_private(tmp_path: Path, umask_022: None) -> None:
    database = tmp_path / "leadscore.db"
    with Store(f"sqlite:///{database}") as store:
        store.leads.upsert("L1", {"source": "google"})
        wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
        assert wal.exists() and shm.exists()
        assert {p.name: _mode(p) for p in (database, wal, shm)} == {
            "leadscore.db": 0o600,
            "leadscore.db-wal": 0o600,
            "leadscore.db-shm": 0o600,
        }
    # a file that exists is left as it is (its owner may have shared it on purpose)
    shared = tmp_path / "shared.db"
    shared.touch(mode=0o640)
    os.chmod(shared, 0o640)
    Store(f"sqlite:///{shared}").close()
    assert _mode(shared) == 0o640


def test_create_private_file(tmp_path: Path) -> None:
    previous = os.umask(0o000)  # even a umask that takes nothing away
    try:
        assert create_private_file(tmp_path / "a") is True
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "a") == 0o600
    (tmp_path / "a").write_text("kept")
    assert create_private_file(tmp_path / "a") is False
    assert (tmp_path / "a").read_text() == "kept"


def test_the_embedded_mlflow_store_is_private(tmp_path: Path, umask_022: None) -> None:
    from leadscore.config import Settings
    from leadscore.lifecycle.registry import Registry

    database = tmp_path / "mlflow.db"
    registry = Registry(Settings(mlflow_uri=f"sqlite:///{database}", tracking=True))
    assert not database.exists()  # making a registry object creates nothing
    assert registry.versions() == []  # nor does listing a registry never written to
    assert not database.exists()
    registry.client.search_experiments()  # MLflow makes its tables: the file is written
    assert registry.versions() == []
    assert database.is_file() and _mode(database) == 0o600
    assert not [
        p for p in tmp_path.iterdir() if p.name.startswith("mlflow.db") and _mode(p) & 0o077
    ]
