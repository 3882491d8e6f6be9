"""Sales overrides in the store: set, replace, expire, clear, kept as data (issue 20)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadscore.store import NotFoundError, Store, StoreError


def test_overrides_replace_expire_and_clear(db_url: str) -> None:
    with Store(db_url) as store:
        for lead_id in ("L1", "L2", "L3"):
            store.leads.upsert(lead_id, {})
        store.overrides.set("L1", "cold", "spoke to them: not a buyer", "maria")
        store.overrides.set("L1", "hot", "VIP referral after all", "joe")  # replaces
        soon = datetime.now(UTC) + timedelta(days=2)
        store.overrides.set("L2", "exclude", "existing customer", "maria", until=soon)
        active = store.overrides.active()
        assert {k: v.segment for k, v in active.items()} == {"L1": "hot", "L2": "exclude"}
        assert active["L1"].author == "joe" and active["L2"].until == soon.replace(
            microsecond=active["L2"].until.microsecond
        )
        # expired: no longer counts, still kept
        later = datetime.now(UTC) + timedelta(days=3)
        assert set(store.overrides.active(now=later)) == {"L1"}
        cleared = store.overrides.clear("L1", "lead-manager")
        assert cleared is not None and cleared.cleared_by == "lead-manager"
        assert store.overrides.clear("L1", "again") is None  # nothing in force
        assert set(store.overrides.active(["L1", "L2", "L3"])) == {"L2"}
        assert [o.segment for o in store.overrides.history("L1")] == ["hot", "cold"]


def test_overrides_are_checked(db_url: str) -> None:
    with Store(db_url) as store:
        store.leads.upsert("L1", {})
        with pytest.raises(StoreError, match="hot, warm, cold, exclude"):
            store.overrides.set("L1", "lukewarm", "x", "maria")
        with pytest.raises(StoreError, match="reason"):
            store.overrides.set("L1", "hot", "  ", "maria")
        with pytest.raises(StoreError, match="author"):
            store.overrides.set("L1", "hot", "why", "")
        with pytest.raises(StoreError, match="has passed"):
            store.overrides.set("L1", "hot", "why", "maria", until=datetime(2020, 1, 1))
        with pytest.raises(NotFoundError, match="no lead with id 'L9'"):
            store.overrides.set("L9", "hot", "why", "maria")
        assert store.overrides.active() == {}
