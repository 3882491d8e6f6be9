"""A lead's attribute history: one state per change, through every write path (issue 20)."""

from __future__ import annotations

from leadscore.store import NewScore, Store


def _states(store: Store, lead_id: str) -> list[dict]:
    return [attributes for _, _, attributes in store.leads.history([lead_id])]


def test_each_change_of_a_leads_attributes_is_one_state(db_url: str) -> None:
    with Store(db_url) as store:
        store.leads.upsert("U1", {"industry": "Retail", "size": 10})
        store.leads.upsert("U1", {"industry": "Retail"})  # no change: no new state
        store.leads.upsert("U1", {"size": 50})
        assert _states(store, "U1") == [
            {"industry": "Retail", "size": 10},
            {"industry": "Retail", "size": 50},
        ]
        # the scoring transaction: a new lead's attributes, then a change, then none
        for size in (5, 5, 7):
            with store.scores.scoring(["S1"], {"S1": {"size": size}}) as writer:
                writer.add([NewScore("S1", "1", 0.5, 50, "warm", False)])
        assert _states(store, "S1") == [{"size": 5}, {"size": 7}]
        # events and outcomes create leads without attributes: nothing to remember
        store.events.add("E1", [{"time": "2026-01-01T00:00:00Z", "event": "page_view"}])
        store.outcomes.add("O1", True)
        assert _states(store, "E1") == _states(store, "O1") == []
        times = [t for _, t, _ in store.leads.history(["U1"])]
        assert times == sorted(times) and times[0].tzinfo is not None
        assert {lead for lead, _, _ in store.leads.history()} == {"U1", "S1"}
