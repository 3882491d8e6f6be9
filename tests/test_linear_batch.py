"""The compiled logistic regression terms (leadscore.scoring.linear_batch) against the
numpy terms they replace: the same sums to the bit, whatever the batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from leadscore import LeadModel
from leadscore.demo import DemoLeads, generate_leads
from leadscore.modeling.calibration import logit
from leadscore.scoring import linear_batch
from leadscore.scoring.arrow_inputs import DAY_NS, NAT, InputColumns, read_inputs
from leadscore.scoring.columnar import CompiledBatch, date_parts

NOT_FEATURES = ["lead_id", "converted", "sales_status"]


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    """Unseen leads with gaps, negative and huge numbers, unseen and missing levels."""
    table = generate_leads(3000, seed=33, labelled=False).table
    rng = np.random.default_rng(3)
    for column in ("visits", "pages_per_visit", "time_on_site_s"):
        table.loc[rng.random(len(table)) < 0.1, column] = np.nan
    table.loc[7, "visits"] = -4.0  # logged columns clip at 0 before log1p
    table.loc[8, "time_on_site_s"] = 1e300
    table.loc[rng.random(len(table)) < 0.05, "created_at"] = pd.NaT
    table.loc[rng.random(len(table)) < 0.1, "source"] = None
    table.loc[11, "source"] = "a source never seen in training"
    table.loc[12, "country"] = "Select"
    return table


@pytest.fixture(scope="module", params=["logreg_l2", "logreg_l1"])
def compiled(request: pytest.FixtureRequest, demo_leads: DemoLeads) -> CompiledBatch:
    table = demo_leads.table.head(800)
    model = LeadModel(request.param, cv=3).fit(
        table.drop(columns=NOT_FEATURES), table["converted"], id_column="lead_id"
    )
    return CompiledBatch(model)


def _numpy(compiled: CompiledBatch, inputs: object) -> np.ndarray:
    """The fold models' probabilities by their numpy terms (the path the kernel replaced)."""
    return np.column_stack([m.proba(inputs) for m in compiled.linear])  # type: ignore[arg-type]


def test_the_kernel_gives_the_numpy_terms_bit_for_bit(
    compiled: CompiledBatch, fresh: pd.DataFrame
) -> None:
    assert compiled.kernel is not None
    inputs = read_inputs(pa.RecordBatch.from_pandas(fresh), compiled.model.schema_)
    found = compiled.members_proba(inputs)
    assert found.shape == (len(fresh), len(compiled.linear))
    np.testing.assert_array_equal(found, _numpy(compiled, inputs))
    # and the calibrated bag is the pipeline's
    expected = compiled.model.predict_proba(fresh)[:, 1]
    np.testing.assert_allclose(compiled.proba(inputs), expected, rtol=0, atol=1e-12)


def test_a_leads_sum_does_not_depend_on_its_batch_or_the_threads(
    compiled: CompiledBatch, fresh: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = compiled.model.schema_
    whole = compiled.members_proba(read_inputs(pa.RecordBatch.from_pandas(fresh), schema))
    monkeypatch.setattr(linear_batch, "THREADED_ROWS", 10)
    # another batch: other leads around it, other distinct levels in its dictionary
    part = fresh.iloc[::-7]
    found = compiled.members_proba(read_inputs(pa.RecordBatch.from_pandas(part), schema))
    np.testing.assert_array_equal(found, whole[::-7])


def test_an_empty_batch_has_no_sums(compiled: CompiledBatch, fresh: pd.DataFrame) -> None:
    batch = pa.RecordBatch.from_pandas(fresh.head(0), preserve_index=False)
    found = compiled.members_proba(read_inputs(batch, compiled.model.schema_))
    assert found.shape == (0, len(compiled.linear))


def _numpy_calibrated(compiled: CompiledBatch, inputs: object) -> np.ndarray:
    """The bag and calibration by numpy, as the pipeline's formulas: the kernel's reference."""
    own = compiled.members_proba(inputs)  # type: ignore[arg-type]
    z = np.mean([logit(own[:, k]) for k in range(own.shape[1])], axis=0)
    return compiled.model.calibrator_.transform(1.0 / (1.0 + np.exp(-z)))


def test_the_calibrated_bag_in_one_kernel_is_numpys(
    compiled: CompiledBatch, fresh: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = read_inputs(pa.RecordBatch.from_pandas(fresh), compiled.model.schema_)
    expected = _numpy_calibrated(compiled, inputs)
    found = compiled.proba(inputs)
    np.testing.assert_allclose(found, expected, rtol=1e-14, atol=0)
    monkeypatch.setattr(linear_batch, "THREADED_ROWS", 10)  # cut over the cores
    np.testing.assert_array_equal(compiled.proba(inputs), found)


def test_date_parts_are_pandas() -> None:
    rng = np.random.default_rng(8)
    ns = rng.integers(-(10**19) // 2, 10**19 // 2, 20_000) // 10**3 * 10**3
    ns[::97] = NAT
    ns[:4] = [0, -1, DAY_NS - 1, -DAY_NS]  # around the epoch, either side of midnight
    inputs = InputColumns(len(ns))
    inputs.dates["created_at"] = ns
    parts = date_parts(inputs, ["created_at"])
    stamps = pd.Series(pd.to_datetime(np.where(ns == NAT, np.iinfo(np.int64).min, ns)))
    expected = {
        "hour": stamps.dt.hour, "weekday": stamps.dt.day_of_week,
        "weekend": (stamps.dt.day_of_week >= 5).where(stamps.notna()), "month": stamps.dt.month,
    }  # fmt: skip
    for name, values in expected.items():
        np.testing.assert_array_equal(
            parts[f"created_at__{name}"], values.astype(float).to_numpy(), err_msg=name
        )
