"""Sales overrides, live (issue 20): the API (PUT/DELETE /v1/leads/{id}/override and every
score answer), the work queue, the webhooks and ``leadscore override``, on SQLite and
PostgreSQL.

The served model is a small logistic regression trained once per module; webhooks are
queued, never sent (the dispatcher is off).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lead_rows import attributes
from leadscore.cli import app as cli
from leadscore.cli.overrides import os_user
from leadscore.config import ServiceSettings, Settings
from leadscore.data.events import load_events
from leadscore.demo import generate_leads
from leadscore.live import ModelSlot, add_score
from leadscore.live.overrides import clear_override, set_override, work_queue
from leadscore.service import create_app
from leadscore.store import Store, StoreError

HOOK = "https://crm.example.com/hooks/leads"
runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return generate_leads(40, seed=21, labelled=False).table


class Api:
    """A running app, its store and a key per scope."""

    def __init__(self, client: TestClient, store: Store) -> None:
        self.client, self.store = client, store
        self.keys = {
            scope: store.keys.create(f"key-{scope}", [scope])[0]
            for scope in ("score", "ingest", "read", "admin")
        }

    def call(self, method: str, path: str, scope: str, body: Any = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"}
        return self.client.request(method, path, json=body, headers=headers, **kw)

    def pin(self, lead_id: str, segment: str, reason: str = "rep says so", **body: Any) -> Any:
        payload = {"segment": segment, "reason": reason, **body}
        return self.call("PUT", f"/v1/leads/{lead_id}/override", "ingest", payload)

    def queue(self, **params: Any) -> dict[str, Any]:
        answer = self.call("GET", "/v1/leads", "read", params={"limit": 100, **params})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
def api(db_url: str, model_dir: Path, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        database_url=db_url,
        tracking=False,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        service=ServiceSettings(max_batch=50),
    )
    store = Store(db_url)
    slot = ModelSlot.load(str(model_dir), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as client:
        yield Api(client, store)
    store.close()


def other(segment: str) -> str:
    """A segment the model did not give."""
    return "hot" if segment != "hot" else "cold"


# ----------------------------------------------------------------------------- API


def test_put_and_delete_an_override_with_scopes_and_checks(api: Api, fresh: pd.DataFrame) -> None:
    scored = api.call(
        "POST", "/v1/score", "score", {"lead_id": "L1", "attributes": attributes(fresh.iloc[0])}
    ).json()
    body = {"segment": other(scored["segment"]), "reason": "VIP referral"}
    for scope in ("read", "score"):  # neither may correct the machine
        assert api.call("PUT", "/v1/leads/L1/override", scope, body).status_code == 403
    assert api.client.put("/v1/leads/L1/override", json=body).status_code == 401
    put = api.call("PUT", "/v1/leads/L1/override", "ingest", body)
    assert put.status_code == 200, put.text
    answer = put.json()
    assert answer["segment"] == body["segment"] and answer["model_segment"] == scored["segment"]
    assert answer["override"]["author"] == "key-ingest"  # the API key's name
    assert answer["override"]["reason"] == "VIP referral" and answer["previous"] is None
    # an admin key may too; it replaces the override in force
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    again = api.call(
        "PUT",
        "/v1/leads/L1/override",
        "admin",
        {"segment": "exclude", "reason": "customer", "until": until},
    ).json()
    assert again["segment"] == "exclude" and again["previous"]["reason"] == "VIP referral"
    assert datetime.fromisoformat(again["override"]["until"]) == datetime.fromisoformat(until)
    # refused: unknown lead, segment, past end, empty or hostile reason, naive end
    assert api.pin("nobody", "hot").status_code == 404
    assert api.pin("L1", "lukewarm").status_code == 422
    past = api.pin("L1", "hot", until="2020-01-01T00:00:00Z")
    assert past.status_code == 422 and "has passed" in past.json()["detail"]
    assert api.pin("L1", "hot", reason="").status_code == 422
    assert api.pin("L1", "hot", reason="a\x00b").status_code == 422
    assert api.pin("L1", "hot", until="2030-01-01").status_code == 422
    assert api.pin("L1", "hot", colour="red").status_code == 422
    # cleared: kept as data; a second DELETE changes nothing
    gone = api.call("DELETE", "/v1/leads/L1/override", "ingest")
    assert gone.status_code == 200, gone.text
    assert gone.json()["previous"]["segment"] == "exclude" and gone.json()["override"] is None
    assert gone.json()["segment"] == scored["segment"]
    assert api.call("DELETE", "/v1/leads/L1/override", "ingest").json()["previous"] is None
    assert api.call("DELETE", "/v1/leads/L1/override", "read").status_code == 403
    assert api.call("DELETE", "/v1/leads/nobody/override", "ingest").status_code == 404
    history = api.store.overrides.history("L1")
    assert [o.segment for o in history] == ["exclude", body["segment"]]
    assert history[0].cleared_by == "key-ingest"


def test_score_answers_show_the_override_and_keep_the_models_history(
    api: Api, fresh: pd.DataFrame
) -> None:
    row = attributes(fresh.iloc[1])
    first = api.call("POST", "/v1/score", "score", {"lead_id": "S1", "attributes": row}).json()
    assert first["overridden"] is False and first["model_segment"] == first["segment"]
    assert first["override"] is None
    pinned = other(first["segment"])
    assert api.pin("S1", pinned, "spoke to them").status_code == 200
    second = api.call("POST", "/v1/score", "score", {"lead_id": "S1", "attributes": row}).json()
    assert second["segment"] == pinned and second["overridden"] is True
    assert second["model_segment"] == first["segment"]
    assert (second["score"], second["score_100"]) == (first["score"], first["score_100"])
    assert second["override"]["reason"] == "spoke to them"
    assert second["contact"] is (pinned == "hot")
    # the batch answers so too, leads without an override as before
    batch = api.call(
        "POST", "/v1/score/batch", "score",
        {"leads": [{"lead_id": "S1", "attributes": row}, {"lead_id": "S2", "attributes": row}]},
    ).json()["scores"]  # fmt: skip
    assert [(s["segment"], s["overridden"]) for s in batch] == [
        (pinned, True), (first["segment"], False)
    ]  # fmt: skip
    # the stored history is the model's own
    assert {s.segment for s in api.store.scores.history("S1")} == {first["segment"]}
    lead = api.call("GET", "/v1/leads/S1", "read").json()
    assert lead["latest"]["segment"] == pinned and lead["latest"]["overridden"] is True
    assert lead["override"]["segment"] == pinned
    assert {h["segment"] for h in lead["history"]} == {first["segment"]}
    # excluded: the answer says so, and not to call
    api.pin("S1", "exclude", "existing customer")
    third = api.call("POST", "/v1/score", "score", {"lead_id": "S1", "attributes": row}).json()
    assert third["segment"] == "exclude" and third["contact"] is False
    api.call("DELETE", "/v1/leads/S1/override", "ingest")
    fourth = api.call("POST", "/v1/score", "score", {"lead_id": "S1", "attributes": row}).json()
    assert fourth["segment"] == first["segment"] and fourth["overridden"] is False


def test_the_work_queue_pins_excludes_and_counts(api: Api, fresh: pd.DataFrame) -> None:
    leads = [{"lead_id": f"Q{i:02d}", "attributes": attributes(r)} for i, r in fresh.iterrows()]
    api.call("POST", "/v1/score/batch", "score", {"leads": leads})
    before = api.queue()
    model = {q["lead_id"]: q["segment"] for q in before["leads"]}
    by_score = [q["lead_id"] for q in before["leads"]]  # best first
    colds = [i for i in reversed(by_score) if model[i] == "cold"]
    hots = [i for i in by_score if model[i] == "hot"]
    assert len(colds) >= 3 and len(hots) >= 3, before["counts"]
    a, b, d = colds[0], colds[1], colds[2]  # two of the worst pinned hot, one excluded
    c = hots[0]  # the model's best lead pinned cold
    api.pin(b, "hot", "VIP referral")
    api.pin(a, "hot", "met at the fair")  # pinned later: after b
    api.pin(d, "exclude", "existing customer")
    api.pin(c, "cold", "not a buyer")
    hot = api.queue(segment="hot")
    assert [q["lead_id"] for q in hot["leads"]] == [b, a, *[h for h in hots if h != c]]
    assert [q["overridden"] for q in hot["leads"][:3]] == [True, True, False]
    assert hot["leads"][0]["model_segment"] == "cold" and hot["leads"][0]["segment"] == "hot"
    cold = api.queue(segment="cold")
    assert cold["leads"][0]["lead_id"] == c and cold["leads"][0]["model_segment"] == "hot"
    assert not {a, b, d} & {q["lead_id"] for q in cold["leads"]}
    counts = before["counts"]
    assert hot["counts"] == {
        "hot": counts["hot"] - 1 + 2, "warm": counts["warm"], "cold": counts["cold"] - 3 + 1
    }  # fmt: skip
    # the whole queue: hot, warm, cold, each pins first; excluded leads nowhere; pages add up
    whole = api.queue()
    ids = [q["lead_id"] for q in whole["leads"]]
    assert d not in ids and len(ids) == len(fresh) - 1
    assert [q["segment"] for q in whole["leads"]] == sorted(
        (q["segment"] for q in whole["leads"]), key=["hot", "warm", "cold"].index
    )
    pages = [api.queue(limit=7, offset=o)["leads"] for o in range(0, len(ids), 7)]
    assert [q["lead_id"] for page in pages for q in page] == ids
    assert [q["rank"] for page in pages for q in page] == list(range(1, len(ids) + 1))
    # a cleared override gives the lead back to the model's place
    api.call("DELETE", f"/v1/leads/{c}/override", "ingest")
    assert api.queue(segment="hot")["leads"][2]["lead_id"] == c


def test_an_expired_override_stops_counting(db_url: str) -> None:
    with Store(db_url) as store:
        add_score(store, "E1", "3", 0.9, 90, "hot", True)
        add_score(store, "E2", "3", 0.8, 80, "hot", True)
        soon = datetime.now(UTC) + timedelta(hours=1)
        set_override(store, "E1", "exclude", "on holiday", "maria", until=soon)
        assert [q.record.lead_id for q in work_queue(store, "hot").leads] == ["E2"]
        later = work_queue(store, "hot", now=soon + timedelta(seconds=1))
        assert [q.record.lead_id for q in later.leads] == ["E1", "E2"]
        assert later.counts["hot"] == 2
        with pytest.raises(StoreError, match="reason"):
            set_override(store, "E1", "hot", " ", "maria")


@pytest.fixture(scope="module")
def events_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo events → lead features → a model trained on them (as `make demo`, smaller)."""
    folder = tmp_path_factory.mktemp("events-demo")
    for args in (
        ["demo-data", "--events", "--rows", "600", "--new-rows", "10", "--out", str(folder)],
        ["features", str(folder / "events.jsonl"), "--labels", str(folder / "outcomes.csv"),
         "--out", str(folder / "leads.parquet")],
        ["train", str(folder / "leads.parquet"), "--model", "logreg_l2", "--cv", "3", "--quiet",
         "--out", str(folder / "model")],
    ):  # fmt: skip
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
    return folder


def test_the_events_rescore_answers_with_the_override(
    events_demo: Path, db_url: str, tmp_path: Path
) -> None:
    events = load_events(events_demo / "new_events.jsonl").events
    lead = str(events["lead_id"].value_counts().index[0])
    body = [
        {"time": row["timestamp"].tz_localize("UTC").isoformat(), "name": row["event"]}
        for row in events[events["lead_id"] == lead].to_dict("records")
    ]
    settings = Settings(database_url=db_url, tracking=False,
                        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")  # fmt: skip
    with Store(db_url) as store:
        slot = ModelSlot.load(str(events_demo / "model"), settings)
        app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
        with TestClient(app) as client:
            api = Api(client, store)
            first = api.call("POST", "/v1/events", "ingest", {"lead_id": lead, "events": body[:1]})
            assert first.status_code == 200, first.text
            model_segment = first.json()["score"]["segment"]
            assert api.pin(lead, "exclude", "existing customer").status_code == 200
            again = api.call("POST", "/v1/events", "ingest", {"lead_id": lead, "events": body})
            score = again.json()["score"]
            assert score["segment"] == "exclude" and score["overridden"] is True
            assert score["model_segment"] in ("hot", "warm", "cold") and score["contact"] is False
            assert store.scores.latest(lead).segment == score["model_segment"]
            assert model_segment in ("hot", "warm", "cold")
            assert lead not in {q["lead_id"] for q in api.queue()["leads"]}


# ----------------------------------------------------------------------------- webhooks


def kinds(deliveries: Any) -> list[str]:
    return [d.payload["event"] for d in deliveries]


def test_webhooks_respect_overrides(db_url: str) -> None:
    with Store(db_url) as store:
        store.webhooks.add(HOOK, "s3cret")
        # pinned hot: one lead.hot, in the override's transaction; not twice
        add_score(store, "W1", "3", 0.2, 20, "cold", False)
        change = set_override(store, "W1", "hot", "VIP referral", "maria")
        assert kinds(change.deliveries) == ["lead.hot"]
        payload = change.deliveries[0].payload
        assert payload["overridden"] is True and payload["segment"] == "hot"
        assert payload["model_segment"] == "cold" and payload["score_100"] == 20
        assert (
            payload["override"]["reason"] == "VIP referral"
            and payload["previous_segment"] == "cold"
        )
        assert [d.id for d in store.webhooks.deliveries()] == [change.deliveries[0].id]
        assert set_override(store, "W1", "hot", "still VIP", "joe").deliveries == ()
        # its scores fire no hot: it is hot already, by the override
        _, fired = add_score(store, "W1", "3", 0.9, 90, "hot", True)
        assert kinds(fired) == ["lead.jump"] and fired[0].payload["overridden"] is True
        # pinned cold: a model-hot score fires no lead.hot (a jump says it is overridden)
        add_score(store, "W2", "3", 0.1, 10, "cold", False)
        set_override(store, "W2", "cold", "not a buyer", "maria")
        _, fired = add_score(store, "W2", "3", 0.95, 95, "hot", True)
        assert kinds(fired) == ["lead.jump"]
        assert fired[0].payload["segment"] == "cold" and fired[0].payload["model_segment"] == "hot"
        # excluded: nothing at all
        add_score(store, "W3", "3", 0.1, 10, "cold", False)
        set_override(store, "W3", "exclude", "existing customer", "maria")
        assert add_score(store, "W3", "3", 0.95, 95, "hot", True)[1] == []
        # a model-hot lead pinned hot is no news; clearing a cold pin on it is
        add_score(store, "W4", "3", 0.9, 90, "hot", True)
        assert set_override(store, "W4", "hot", "confirmed", "maria").deliveries == ()
        set_override(store, "W4", "cold", "bought elsewhere", "maria")
        cleared = clear_override(store, "W4", "maria")
        assert kinds(cleared.deliveries) == ["lead.hot"]
        assert cleared.deliveries[0].payload["overridden"] is False
        # a webhook subscribed to jumps only gets no lead.hot from an override
        store.webhooks.remove(1)
        store.webhooks.add(HOOK, "s3cret", kinds=["jump"])
        add_score(store, "W5", "3", 0.1, 10, "cold", False)
        assert set_override(store, "W5", "hot", "VIP", "maria").deliveries == ()


def test_an_override_and_its_webhooks_commit_together(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(db_url) as store:
        store.webhooks.add(HOOK, "s3cret")
        add_score(store, "T1", "3", 0.2, 20, "cold", False)

        def broken(*_: Any) -> Any:
            raise RuntimeError("the outbox failed")

        monkeypatch.setattr(store.webhooks, "enqueue", broken)
        with pytest.raises(RuntimeError):
            set_override(store, "T1", "hot", "VIP referral", "maria")
        assert store.overrides.active() == {} and store.overrides.history("T1") == []


# ----------------------------------------------------------------------------- CLI


def run(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def test_override_command_sets_lists_and_clears(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.cli.common import out

    # the table as a wide terminal shows it, whatever COLUMNS this test process got
    monkeypatch.setattr(out, "width", 200)
    with Store(db_url) as store:
        add_score(store, "C1", "3", 0.3, 30, "warm", True)
        add_score(store, "C2", "3", 0.1, 10, "cold", False)
    db = ["--database", db_url]
    done = run("override", "C1", "--segment", "hot", "--reason", "VIP referral", *db)
    assert done.exit_code == 0, done.output
    assert "C1 now counts as hot (model: warm)" in done.output
    done = run("override", "C2", "--segment", "exclude", "--reason", "customer",
               "--until", "2099-12-31", "--author", "joe", *db)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "until 2100-01-01 00:00 UTC" in done.output
    listed = run("override", "--list", *db)
    assert listed.exit_code == 0, listed.output
    assert "2 overrides in force" in listed.output
    assert "VIP referral" in listed.output and os_user() in listed.output
    assert "joe" in listed.output and "2100-01-01" in listed.output
    with Store(db_url) as store:
        assert [q.record.lead_id for q in work_queue(store).leads] == ["C1"]
    cleared = run("override", "C1", "--clear", "--author", "maria", *db)
    assert cleared.exit_code == 0 and "cleared the hot override" in cleared.output
    again = run("override", "C1", "--clear", *db)
    assert again.exit_code == 0 and "no override in force" in again.output
    with Store(db_url) as store:
        assert set(store.overrides.active()) == {"C2"}
        assert store.overrides.history("C1")[0].cleared_by == "maria"
    # what it refuses: one line, status 2
    for args, message in (
        (["override", "C1", "--segment", "hot"], "--segment and --reason"),
        (["override", "C1", "--segment", "tepid", "--reason", "x"], "hot, warm, cold, exclude"),
        (["override", "nobody", "--segment", "hot", "--reason", "x"], "no lead with id"),
        (["override", "C1", "--segment", "hot", "--reason", "x", "--until", "soon"], "not a date"),
        (["override", "C1", "--segment", "hot", "--reason", "x", "--until", "2001-01-01"],
         "has passed"),
        (["override"], "name the lead"),
        (["override", "C1", "--clear", "--segment", "hot"], "--clear takes no"),
    ):  # fmt: skip
        refused = run(*args, *db)
        assert refused.exit_code == 2, (args, refused.output)
        assert message in refused.output, refused.output
