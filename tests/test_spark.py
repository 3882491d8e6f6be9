"""``--engine spark`` gives what one machine gives: the same lead table and the same
scores, row for row, on Spark ``local[2]``.

The events are the demo's, as a data lake would hold them: Parquet in two files, rows in
no particular order, a duplicate and an unusable row among them, in small row groups so
that Spark reads each file in several splits and a lead's events reach several input
partitions. One SparkSession serves the module (its JVM starts once); the last test runs
the command through ``spark-submit``. Without PySpark or Java the tests are skipped, except
under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.config.cluster import SparkSettings
from leadscore.demo import write_demo_events
from leadscore.features.table import LeadTableResult, build_lead_table, load_builder
from leadscore.spark.session import java_found, pyspark_installed

CONFIG = SparkSettings(partitions=4, chunk_events=300)
runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def _spark_or_skip() -> None:
    problems = []
    if not pyspark_installed():
        problems.append("PySpark is not installed (pip install -e '.[dev]' installs it)")
    if not java_found():
        problems.append("no Java runtime (java on the PATH or JAVA_HOME; Spark 4 needs 17+)")
    if not problems:
        return
    message = "--engine spark cannot be tested: " + "; ".join(problems)
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[2] session for the module: few shuffle partitions, no web UI, and small
    file splits so that every Parquet file is read by several tasks."""
    _spark_or_skip()
    from leadscore.spark.session import spark_session

    conf = {
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.files.maxPartitionBytes": "65536",
        "spark.sql.files.openCostInBytes": "0",
        "spark.default.parallelism": "2",
    }
    session = spark_session(SparkSettings(master="local[2]", conf=conf))
    yield session
    session.stop()


def _lake_copy(source: Path, target: Path, parts: int, seed: int) -> None:
    """The events as a lake holds them: shuffled, in ``parts`` files of small row groups,
    times in microseconds (Spark reads no nanoseconds), one row repeated, one without a
    lead id."""
    table = pq.read_table(source)
    ts = table.schema.field("timestamp").type
    table = table.set_column(
        table.schema.get_field_index("timestamp"),
        "timestamp",
        table["timestamp"].cast(pa.timestamp("us", tz=ts.tz)),
    )
    order = np.random.default_rng(seed).permutation(table.num_rows)
    table = table.take(pa.array(order))
    broken = table.slice(5, 1).set_column(1, "lead_id", pa.array([None], pa.string()))
    table = pa.concat_tables([table, table.slice(10, 1), broken])
    target.mkdir(parents=True)
    size = -(-table.num_rows // parts)
    for i in range(parts):
        pq.write_table(
            table.slice(i * size, size), target / f"part-{i}.parquet", row_group_size=150
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lake")
    paths = write_demo_events(folder / "demo", leads=200, new_leads=60, seed=5, fmt="parquet",
                              messy=False)  # fmt: skip
    _lake_copy(paths["events"], folder / "events", parts=2, seed=1)
    _lake_copy(paths["new_events"], folder / "new_events", parts=1, seed=2)
    return {**paths, "events": folder / "events", "new_events": folder / "new_events"}


@pytest.fixture(scope="module")
def single(demo: dict[str, Path]) -> LeadTableResult:
    return build_lead_table(demo["events"], outcomes=demo["outcomes"], leads=demo["crm"])


def _collected(frame: Any) -> pd.DataFrame:
    return frame.toArrow().to_pandas()


def assert_same_rows(expected: pd.DataFrame, got: pd.DataFrame, key: str = "lead_id") -> None:
    """The same columns in the same order and, lead by lead, the same values (numbers to
    1e-9, missing where missing)."""
    assert list(got.columns) == list(expected.columns)
    a = expected.sort_values(key).reset_index(drop=True)
    b = got.sort_values(key).reset_index(drop=True)
    assert a[key].astype(str).tolist() == b[key].astype(str).tolist()
    for column in a.columns:
        x, y = a[column], b[column]
        if x.dtype.kind in "fiub" and y.dtype.kind in "fiub":
            np.testing.assert_allclose(
                x.astype(float), y.astype(float), rtol=0, atol=1e-9, err_msg=column
            )
        elif x.dtype.kind == "M" or y.dtype.kind == "M":
            same = pd.to_datetime(x).astype("datetime64[us]") == pd.to_datetime(y).astype(
                "datetime64[us]"
            )
            assert (same | (x.isna() & y.isna())).all(), column
        else:
            left = [None if pd.isna(v) else v for v in x.astype(object)]
            right = [None if pd.isna(v) else v for v in y.astype(object)]
            assert left == right, column


def test_a_lead_straddles_the_input_partitions(spark: Any, demo: dict[str, Path]) -> None:
    from pyspark.sql import functions as F

    raw = spark.read.parquet(str(demo["events"]))
    placed = raw.select("lead_id", F.spark_partition_id().alias("part"))
    spread = placed.groupBy("lead_id").agg(F.countDistinct("part").alias("parts"))
    assert raw.rdd.getNumPartitions() >= 4
    assert spread.where(F.col("parts") > 1).count() > 10


def test_training_table_is_the_single_machines(
    spark: Any, demo: dict[str, Path], single: LeadTableResult
) -> None:
    from leadscore.spark.features import spark_lead_table

    planned = spark_lead_table(
        spark, str(demo["events"]), outcomes=demo["outcomes"], leads=demo["crm"], config=CONFIG
    )
    assert_same_rows(single.table, _collected(planned.table))
    assert planned.crm_fields == single.crm_fields and planned.crm_dated
    assert planned.notes == single.notes
    counts, loaded = planned.event_counts, single.load.counts
    assert counts["duplicates removed"] == loaded["duplicates_removed"] == 1
    assert counts["quarantined: no lead id"] == loaded["quarantined"] == 1
    assert counts["events read"] == loaded["events"] + 2


@pytest.mark.parametrize("trained", [False, True], ids=["fitted-here", "training-builder"])
def test_scoring_table_is_the_single_machines(
    spark: Any, demo: dict[str, Path], single: LeadTableResult, trained: bool
) -> None:
    """Scoring features: with a builder fitted on these events, recency as of the latest
    event over all partitions (not each partition's own); with the training builder, as
    of a given time before a cutoff."""
    from leadscore.spark.features import spark_lead_table

    times = pq.read_table(demo["new_events"], columns=["timestamp"])["timestamp"].to_pandas()
    middle = times.min() + (times.max() - times.min()) / 2  # the cutoff leaves events out
    when = {"cutoff": str(middle.tz_localize(None))}
    if trained:
        when["as_of"] = str((middle - pd.Timedelta(days=2)).tz_localize(None))
    builder = single.builder if trained else None
    expected = build_lead_table(demo["new_events"], builder=builder, leads=demo["new_crm"], **when)
    planned = spark_lead_table(
        spark, str(demo["new_events"]), builder=builder, leads=demo["new_crm"], config=CONFIG,
        **when,
    )  # fmt: skip
    assert_same_rows(expected.table, _collected(planned.table))
    assert ("days_since_last_event" in expected.table) is not trained
    assert planned.notes == expected.notes


@pytest.fixture(scope="module")
def model(single: LeadTableResult) -> Any:
    from leadscore import LeadModel

    table = single.table
    inputs = table.drop(columns=["converted"])
    return LeadModel("logreg_l2", cv=3).fit(inputs, table["converted"], id_column="lead_id")


def test_scores_are_the_single_machines(
    spark: Any,
    demo: dict[str, Path],
    single: LeadTableResult,
    model: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``leadscore score --engine spark``: scores, score_100, segments, the rank over the
    whole table (ties in input order), the capacity's contacts and the exploration's
    draws, to 1e-9, in a Parquet table written best first."""
    from leadscore.config import load_settings
    from leadscore.lifecycle.artifacts import save_model
    from leadscore.scoring.batch import score
    from leadscore.scoring.exploration import ExplorationPolicy

    built = build_lead_table(demo["new_events"], builder=single.builder, leads=demo["new_crm"])
    leads = built.table
    leads = pd.concat([leads, leads.head(3).assign(lead_id=["t1", "t2", "t3"])])  # ties
    pq.write_table(pa.Table.from_pandas(leads, preserve_index=False), tmp_path / "leads.parquet",
                   row_group_size=20, coerce_timestamps="us")  # fmt: skip
    policy = ExplorationPolicy.from_settings(load_settings())
    expected = score(model, leads, capacity=15, exploration=policy)
    model_dir = save_model(model, tmp_path / "model")
    # ranked in several buckets of scores, as a table of millions would be
    monkeypatch.setattr("leadscore.spark.scoring.BUCKET_LEADS", 20)
    result = runner.invoke(app, [
        "score", str(model_dir), str(tmp_path / "leads.parquet"), "--out",
        str(tmp_path / "scores.parquet"), "--capacity", "15", "--engine", "spark", "--top", "3",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{len(leads)} leads: " in result.output and "Top 3 leads" in result.output
    got = pd.read_parquet(tmp_path / "scores.parquet")
    assert_same_rows(expected, got)
    assert got["rank"].tolist() == list(range(1, len(leads) + 1))  # written best first
    assert got["contact"].sum() == expected["contact"].sum() >= 15


def test_store_dataset_is_the_single_machines(
    spark: Any, demo: dict[str, Path], tmp_path: Path
) -> None:
    """``leadscore dataset --from-store --engine spark``: the store's events staged for the
    cluster give the training table the single machine builds from the store."""
    from datetime import UTC

    from leadscore.data.events import load_events
    from leadscore.lifecycle.store_dataset import store_dataset
    from leadscore.store import Store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    outcomes = pd.read_csv(demo["outcomes"]).head(40)
    events = load_events(demo["events"]).events
    events = events[events["lead_id"].isin(outcomes["lead_id"])]
    with Store(url) as store:
        for lead_id, rows in events.groupby("lead_id", observed=True):
            posted = [
                {"time": r["timestamp"].tz_localize(UTC).isoformat(), "event": r["event"],
                 **{k: v for k, v in r.items() if k in ("url", "referrer") and pd.notna(v)}}
                for r in rows.to_dict("records")
            ]  # fmt: skip
            store.events.add(str(lead_id), posted)
        for row in outcomes.itertuples(index=False):
            when = pd.Timestamp(row.outcome_at).to_pydatetime()
            store.outcomes.add(str(row.lead_id), row.converted == "yes", when)
        expected = store_dataset(store).table
    out = tmp_path / "train.parquet"
    ran = runner.invoke(app, [
        "dataset", "--from-store", "--database", url, "--out", str(out), "--engine", "spark"
    ])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert_same_rows(expected, pd.read_parquet(out))
    assert not list(tmp_path.glob("_train*"))  # the staged events are gone


def test_without_pyspark_the_engine_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("leadscore.spark.session.pyspark_installed", lambda: False)
    result = runner.invoke(
        app, ["features", str(tmp_path), "--out", str(tmp_path / "x.parquet"), "--engine", "spark"]
    )
    assert result.exit_code == 2
    assert "pip install 'leadscore[spark]'" in " ".join(result.output.split())


def test_delta_tables_when_delta_spark_is_installed(spark: Any, tmp_path: Path) -> None:
    from leadscore.spark.io import read_table_frame, write_table_frame
    from leadscore.spark.session import delta_installed

    if not delta_installed():
        pytest.skip("delta-spark is not installed: Delta tables are not tested")
    frame = spark.createDataFrame(pd.DataFrame({"lead_id": ["a", "b"], "score": [0.1, 0.2]}))
    write_table_frame(frame, tmp_path / "t", "delta")
    assert sorted(read_table_frame(spark, tmp_path / "t").toPandas()["lead_id"]) == ["a", "b"]


def test_spark_submit_runs_the_command(
    spark: Any, demo: dict[str, Path], single: LeadTableResult, tmp_path: Path
) -> None:
    """The command as a cluster runs it: spark-submit, local[2], leadscore's entry script."""
    import leadscore.cli

    submit = Path(sys.executable).with_name("spark-submit")
    assert submit.is_file(), f"spark-submit not found beside {sys.executable}"
    entry = Path(leadscore.cli.__file__).with_name("__main__.py")
    out = tmp_path / "leads.parquet"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "COLUMNS": "200"}
    done = subprocess.run(
        [str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
         "--conf", "spark.sql.shuffle.partitions=4", str(entry), "features",
         str(demo["events"]), "--labels", str(demo["outcomes"]), "--leads", str(demo["crm"]),
         "--out", str(out), "--engine", "spark"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    width = single.table.shape[1] - 1
    assert f"{len(single.table):,} leads × {width} columns" in " ".join(done.stdout.split())
    assert_same_rows(single.table, pd.read_parquet(out))
    # beside the table, as `leadscore train` reads them
    described = json.loads((tmp_path / "leads.features.json").read_text())
    assert described["builder"] == "leads.builder.joblib" and described["target"] == "converted"
    assert described["sources"]["crm"] == single.crm_fields
    assert isinstance(load_builder(tmp_path / "leads.builder.joblib"), type(single.builder))
