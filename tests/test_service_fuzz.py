"""Schemathesis against the API's own OpenAPI document: generated requests (valid and
invalid, bounded in number) never get a 500, with a key that may do everything."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from leadscore import LeadModel
from leadscore.config import ServiceSettings, Settings
from leadscore.demo import generate_leads
from leadscore.lifecycle.artifacts import save_model
from leadscore.live import ModelSlot
from leadscore.service import create_app
from leadscore.store import Store

KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.Schema]:
    folder = tmp_path_factory.mktemp("fuzz")
    table = generate_leads(600, seed=3).table
    model = LeadModel("lightgbm", cv=3).fit(
        table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
    )
    url = f"sqlite:///{folder / 'scores.db'}"
    config = Settings(
        database_url=url,
        tracking=False,
        mlflow_uri=f"sqlite:///{folder / 'mlflow.db'}",
        service=ServiceSettings(max_batch=50),
    )
    store = Store(url)
    KEY["admin"] = store.keys.create("fuzz", ["admin"])[0]
    store.leads.upsert("L1", {"source": "google"})
    slot = ModelSlot.load(str(save_model(model, folder / "model")), config)
    app = create_app(config, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app):  # runs the lifespan: app.state is ready for the ASGI calls
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    store.close()


def test_no_request_gets_a_server_error(api_schema: schemathesis.Schema) -> None:
    # Every operation in turn (pytest-native parametrisation needs the schema at import
    # time, and building it needs a trained model): Hypothesis drives each operation's
    # generated cases, valid and invalid alike.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/score", "/v1/events", "/v1/leads/{lead_id}"}
    seen: dict[str, set[int]] = {}
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
            derandomize=True, database=None,
        )  # fmt: skip
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {KEY['admin']}"})
            seen.setdefault(f"{case.method} {case.operation.path}", set()).add(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.body!r} → {response.status_code} "
                f"{response.text[:500]}"
            )

        try:
            call()
        except Unsatisfiable:  # nothing to get wrong: an operation without inputs
            assert mode is schemathesis.GenerationMode.NEGATIVE
    assert len(seen) == len(operations)
    assert {200, 422} <= seen["POST /v1/score"] and 422 in seen["POST /v1/events"]
    assert 200 in seen["GET /v1/leads"] and 200 in seen["GET /healthz"]
