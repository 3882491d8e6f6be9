"""Where SQLite's write-ahead log is checkpointed: in commits by default, only in the
background for the service's store (its commits never pay the checkpoint's fsync)."""

from __future__ import annotations

from pathlib import Path

from leadscore.store import Store


def _autocheckpoint(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar())


def test_only_the_background_thread_checkpoints_a_service_store(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'cli.db'}") as store:
        assert _autocheckpoint(store) == 1000  # SQLite's default: a commit may checkpoint
    with Store(f"sqlite:///{tmp_path / 'svc.db'}", background_checkpoints=True) as store:
        assert _autocheckpoint(store) == 0
        for i in range(300):  # well past 1,000 log pages
            store.leads.upsert(f"L{i}", {"notes": "x" * 4000})
        wal = tmp_path / "svc.db-wal"
        frames_before = wal.stat().st_size
        logged, copied = store.checkpoint() or (0, 0)
        assert logged > 1000 and copied == logged  # the commits left it all to this
        assert frames_before > 4_000_000
