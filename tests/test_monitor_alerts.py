"""``lead.moved`` alerts (monitor/alerts.py): a webhook delivery for each lead whose score
moved far enough over a period, with the move's causes and reasons, queued once per move;
and their faces, ``leadscore monitor notify`` and ``POST /v1/monitoring/movers/notify``.
On SQLite and PostgreSQL.

The leads are scored live by a model that leans on one CRM field, ``demo_requests``: a
lead whose count changes moves by tens of points, with that field as its first reason.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadscore import LeadModel
from leadscore.cli import app as cli
from leadscore.config import Settings
from leadscore.lifecycle.artifacts import save_model
from leadscore.live import LiveScoring, ModelSlot
from leadscore.live.overrides import set_override
from leadscore.monitor.alerts import notify_movers
from leadscore.monitor.movers import movers
from leadscore.service.app import create_app
from leadscore.service.monitoring_schemas import NotifyOut
from leadscore.store import Store, WebhookRecord

URL = "https://crm.example.com/hooks/leads"
SECRET = "whsec-test-1234"
#: each lead's demo requests at its first score and after the period starts
LEADS = {"UP": (0, 2), "DOWN": (3, 0), "STILL": (1, 1)}
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose score rises steeply with ``demo_requests`` (visits matter a little)."""
    rng = np.random.default_rng(0)
    n = 800
    demo, visits = rng.integers(0, 4, n), rng.integers(1, 10, n)
    chance = 1 / (1 + np.exp(-(-3.5 + 1.6 * demo + 0.1 * visits)))
    table = pd.DataFrame(
        {
            "lead_id": [f"T{i}" for i in range(n)],
            "demo_requests": demo,
            "visits": visits,
            "source": rng.choice(["google", "email", "direct"], n),
        }
    )
    converted = pd.Series(np.where(rng.random(n) < chance, "yes", "no"))
    model = LeadModel("logreg_l2", cv=3).fit(table, converted, id_column="lead_id")
    return save_model(model, tmp_path_factory.mktemp("alerts") / "model")


@pytest.fixture
def live(db_url: str, demo_model: Path) -> LiveScoring:
    settings = Settings(database_url=db_url, tracking=False)
    return LiveScoring(ModelSlot.load(str(demo_model), settings), Store(db_url), reasons=3)


def _move(live: LiveScoring) -> datetime:
    """Score each of :data:`LEADS`, then change its demo requests (a re-score); returns the
    start of the period that holds the second scores."""
    for lead_id, (before, _) in LEADS.items():
        live.score_lead(lead_id, {"demo_requests": before, "visits": 3, "source": "google"})
    time.sleep(0.01)
    start = datetime.now(UTC)
    time.sleep(0.01)
    for lead_id, (_, after) in LEADS.items():
        live.update_attributes(lead_id, {"demo_requests": after})
    return start


def _moved(store: Store, hook: WebhookRecord) -> list:
    return [d for d in store.webhooks.deliveries(webhook_id=hook.id) if d.kind == "moved"]


def test_a_jump_and_a_fall_in_demo_requests_alert_with_that_field_first(
    live: LiveScoring,
) -> None:
    store = live.store
    moved = store.webhooks.add(URL, SECRET, kinds=["moved"])
    hot_only = store.webhooks.add(URL + "/hot", SECRET, kinds=["hot"])
    start = _move(live)

    alerts = notify_movers(store, live.slot.current.scorer, start=start)

    assert {d.lead_id for d in alerts.deliveries} == {"UP", "DOWN"}  # STILL did not move
    assert (alerts.queued, len(alerts.movers), alerts.already_queued) == (2, 2, 0)
    assert alerts.webhooks == (moved.id,)
    assert _moved(store, hot_only) == []  # hot only: no lead.moved
    by_lead = {d.lead_id: d for d in _moved(store, moved)}
    up, down = by_lead["UP"].payload, by_lead["DOWN"].payload
    assert by_lead["UP"].status == "pending" and up["event"] == "lead.moved"
    latest = store.scores.latest("UP")
    assert latest is not None
    assert (up["score_id"], up["score"], up["score_100"]) == (
        latest.id, latest.score, latest.score_100,
    )  # fmt: skip
    first = store.scores.history("UP")[-1]
    assert (up["previous_score"], up["previous_score_100"]) == (first.score, first.score_100)
    assert up["change"] == latest.score_100 - first.score_100 >= 30
    assert up["causes"] == ["attributes"]
    reason = up["reasons"][0]
    assert (reason["field"], reason["label"]) == ("demo_requests", "Demo requests")
    assert (reason["before"], reason["after"]) == (0, 2) and reason["points"] > 0
    assert reason["text"].startswith("Demo requests: 0 → 2: +")
    assert down["change"] <= -30 and down["reasons"][0]["field"] == "demo_requests"
    assert (down["reasons"][0]["before"], down["reasons"][0]["after"]) == (3, 0)
    assert down["reasons"][0]["points"] < 0
    # the same words and numbers as the movers' API
    same = {m.lead_id: m.to_dict() for m in movers(store, live.slot.current.scorer, start=start)}
    for lead_id, body in (("UP", up), ("DOWN", down)):
        record = same[lead_id]
        assert [{k: r[k] for k in record["reasons"][0]} for r in body["reasons"]] == (
            record["reasons"]
        )
        assert (body["segment"], body["previous_segment"]) == (
            record["segment_after"], record["segment_before"],
        )  # fmt: skip
        assert body["scored_at"] == record["scored_after"]
        assert body["previous_scored_at"] == record["scored_before"]
        assert body["model_version"] == body["previous_model_version"] == record["model_after"]
    assert up["overridden"] is False
    json.dumps(up, allow_nan=False)


def _change(store: Store, lead_id: str) -> int:
    """The lead's last score against its first, in points."""
    history = store.scores.history(lead_id)
    return history[0].score_100 - history[-1].score_100


def test_smaller_moves_alert_nobody(live: LiveScoring) -> None:
    store, scorer = live.store, live.slot.current.scorer
    hook = store.webhooks.add(URL, SECRET, kinds=["moved"])
    start = _move(live)
    rise, fall = _change(store, "UP"), -_change(store, "DOWN")
    assert fall > rise >= 30
    assert notify_movers(store, scorer, start=start, min_move=fall + 1).queued == 0
    # between the two: only the fall is large enough
    alerts = notify_movers(store, scorer, start=start, min_move=rise + 1)
    assert [d.lead_id for d in alerts.deliveries] == ["DOWN"]
    assert [d.lead_id for d in _moved(store, hook)] == ["DOWN"]


def test_a_move_is_alerted_once_and_a_new_move_again(live: LiveScoring) -> None:
    store, scorer = live.store, live.slot.current.scorer
    first = store.webhooks.add(URL, SECRET, kinds=["moved", "hot"])
    start = _move(live)
    assert notify_movers(store, scorer, start=start).queued == 2
    again = notify_movers(store, scorer, start=start)
    assert (again.queued, again.already_queued) == (0, 2)
    # an overlapping period (a later end): the same moves, not queued again
    overlapping = notify_movers(store, scorer, start=start, end=datetime.now(UTC) + HOUR)
    assert (overlapping.queued, overlapping.already_queued) == (0, 2)
    # a webhook subscribed later gets the moves it has not had
    later = store.webhooks.add(URL + "/later", SECRET, kinds=["moved"])
    added = notify_movers(store, scorer, start=start)
    assert {(d.webhook_id, d.lead_id) for d in added.deliveries} == {
        (later.id, "UP"), (later.id, "DOWN"),
    }  # fmt: skip
    assert added.already_queued == 2
    # a new score that moves the lead again is a new move, alerted to both
    live.update_attributes("UP", {"demo_requests": 3})
    new = notify_movers(store, scorer, start=start)
    assert {(d.webhook_id, d.lead_id) for d in new.deliveries} == {
        (first.id, "UP"), (later.id, "UP"),
    }  # fmt: skip
    ups = [d.payload["score_id"] for d in _moved(store, first) if d.lead_id == "UP"]
    assert len(ups) == len(set(ups)) == 2
    assert len(_moved(store, first)) == 3 and len(_moved(store, later)) == 3


def test_two_runs_at_once_queue_each_alert_once(live: LiveScoring) -> None:
    store, scorer = live.store, live.slot.current.scorer
    hook = store.webhooks.add(URL, SECRET, kinds=["moved"])
    start = _move(live)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        barrier.wait()
        results.append(notify_movers(store, scorer, start=start).queued)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 2]
    assert len(_moved(store, hook)) == 2


def test_overrides_exclude_or_mark_the_alert(live: LiveScoring) -> None:
    store = live.store
    hook = store.webhooks.add(URL, SECRET, kinds=["moved"])
    start = _move(live)
    set_override(store, "DOWN", "exclude", "existing customer", "maria")
    set_override(store, "UP", "hot", "VIP referral", "maria")
    alerts = notify_movers(store, live.slot.current.scorer, start=start)
    assert alerts.excluded == ("DOWN",)
    (only,) = _moved(store, hook)
    assert only.lead_id == "UP" and only.payload["overridden"] is True
    assert only.payload["segment"] == "hot"
    assert only.payload["override"]["reason"] == "VIP referral"


def test_bad_arguments_are_refused_by_name(db_url: str) -> None:
    store = Store(db_url)
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="start before it ends"):
        notify_movers(store, None, start=now, end=now.replace(year=now.year - 1))
    with pytest.raises(ValueError, match="out of the range of dates"):
        notify_movers(store, None, end=datetime(1, 1, 1, tzinfo=UTC))  # no day before it
    with pytest.raises(ValueError, match="min_move"):
        notify_movers(store, None, min_move=0)
    with pytest.raises(ValueError, match="limit"):
        notify_movers(store, None, limit=0)


def test_existing_and_default_webhooks_are_not_subscribed_to_moved(db_url: str) -> None:
    store = Store(db_url)
    assert store.webhooks.add(URL, SECRET).kinds == ("hot", "jump")
    assert store.webhooks.add(URL, SECRET, kinds=["moved"]).kinds == ("moved",)


def test_the_alerts_ask_the_store_not_its_tables() -> None:
    """ARCHITECTURE.md: database access lives in the store; alerts hold no query of their
    own (the scores a move compares and the deliveries queued before are the store's
    reads, tested in test_store_lookups.py), only the connection they are read on."""
    import ast

    import leadscore.monitor.alerts as alerts

    tree = ast.parse(Path(alerts.__file__).read_text(encoding="utf-8"))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [n.module for n in imports if n.module == "leadscore.store.tables"]
    from_sqlalchemy = {a.name for n in imports if n.module == "sqlalchemy" for a in n.names}
    assert from_sqlalchemy <= {"Connection"}


# ---------------------------------------------------------------------- the faces


@pytest.fixture
def client(db_url: str, demo_model: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url, tracking=False, mlflow_uri=f"sqlite:///{tmp_path / 'm.db'}"
    )
    store = Store(db_url)
    slot = ModelSlot.load(str(demo_model), settings)
    key = store.keys.create("scheduler", ["admin"])[0]
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client
    store.close()


def test_the_terminal_and_the_api_count_the_same(
    client: TestClient, live: LiveScoring, demo_model: Path, db_url: str
) -> None:
    live.store.webhooks.add(URL, SECRET, kinds=["moved"])
    start = _move(live).isoformat()
    env = {"LEADSCORE_DATABASE_URL": db_url, "LEADSCORE_TRACKING": "false"}
    args = ["monitor", "notify", "--model", str(demo_model), "--since", start]
    run = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert run.exit_code == 0, run.output
    terminal = json.loads(run.output)
    assert (terminal["movers"], terminal["queued"]) == (2, 2)
    # a second receiver: the API queues it the same moves, and counts the first's as done
    live.store.webhooks.add(URL + "/second", SECRET, kinds=["moved"])
    api = client.post("/v1/monitoring/movers/notify", json={"since": start})
    assert api.status_code == 200, api.text
    answer = NotifyOut.model_validate(api.json())
    assert (answer.movers, answer.webhooks) == (terminal["movers"], 2)
    assert (answer.queued, answer.already_queued) == (2, terminal["queued"])
    assert sorted(a.lead_id for a in answer.alerts) == ["DOWN", "UP"]
    text = CliRunner().invoke(cli, args, env={**env, "COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "0 lead.moved alerts queued for 2 movers" in text.output
    assert "4 queued by an earlier run" in text.output


def test_the_api_refuses_bad_input_and_keys_without_admin(
    client: TestClient, live: LiveScoring
) -> None:
    bad = client.post(
        "/v1/monitoring/movers/notify", json={"since": "2026-05-02", "until": "2026-05-01"}
    )
    assert bad.status_code == 422 and "start before it ends" in bad.text
    low = client.post("/v1/monitoring/movers/notify", json={"min_move": 0})
    assert low.status_code == 422 and "min_move" in low.text
    empty = client.post("/v1/monitoring/movers/notify")  # no body: the defaults
    assert empty.status_code == 200 and empty.json()["min_move"] == 30
    reader = live.store.keys.create("reader", ["read"])[0]
    refused = client.post(
        "/v1/monitoring/movers/notify", headers={"Authorization": f"Bearer {reader}"}
    )
    assert refused.status_code == 403
