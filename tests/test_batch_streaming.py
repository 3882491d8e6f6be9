"""Batch scoring of files in Arrow batches (leadscore.scoring.streaming) and the compiled
batch models (leadscore.scoring.columnar): the same scores and table as the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from leadscore import LeadModel
from leadscore.demo import DemoLeads, generate_leads
from leadscore.errors import DataError, SchemaError
from leadscore.scoring import ranking, streaming
from leadscore.scoring.arrow_inputs import read_inputs
from leadscore.scoring.batch import score
from leadscore.scoring.columnar import CompiledBatch, NotCompilable
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.scoring.ranking import Ranks
from leadscore.scoring.score_bands import Bands
from leadscore.scoring.streaming import _best, score_file

NOT_FEATURES = ["lead_id", "converted", "sales_status"]
#: every family with a compiled batch form, with settings that fit in a second or two
COMPILED = {
    "lightgbm": {"n_estimators": 30},
    "logreg_l2": None,
    "logreg_l1": None,
    "extra_trees": {"n_estimators": 8},
    "random_forest": {"n_estimators": 8},
    "decision_tree": None,
    "hist_gb": {"max_iter": 20},
    "mlp": None,
}
EXPLORE = ExplorationPolicy(share=0.1, seed=4)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    """Unseen leads with a placeholder, an unseen level, gaps and blanks around a level."""
    table = generate_leads(400, seed=21, labelled=False).table
    table.loc[0, "source"] = "Select"
    table.loc[1, "source"] = "a source never seen in training"
    table.loc[2, "source"] = "  google "
    table.loc[3, "visits"] = np.nan
    table.loc[4, "created_at"] = pd.NaT
    table.loc[5, "country"] = None
    return table


@pytest.fixture(scope="module")
def small(demo_leads: DemoLeads) -> tuple[pd.DataFrame, pd.Series]:
    table = demo_leads.table.head(500)
    return table.drop(columns=NOT_FEATURES).assign(lead_id=table["lead_id"]), table["converted"]


@pytest.fixture(scope="module")
def bag(small: tuple[pd.DataFrame, pd.Series]) -> LeadModel:
    """A LightGBM bag: three fold models of 30 trees."""
    X, y = small
    return LeadModel("lightgbm", cv=3, params=COMPILED["lightgbm"]).fit(
        X.drop(columns="lead_id"), y, id_column="lead_id"
    )


@pytest.fixture(scope="module")
def logreg(model_dir: Path) -> LeadModel:
    return LeadModel.load(model_dir)


@pytest.fixture(scope="module")
def files(fresh: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("leads")
    fresh.to_parquet(folder / "leads.parquet")
    fresh.to_csv(folder / "leads.csv", index=False)
    return {"parquet": folder / "leads.parquet", "csv": folder / "leads.csv"}


def _batch(frame: pd.DataFrame) -> pa.RecordBatch:
    return pa.RecordBatch.from_pandas(frame, preserve_index=False)


@pytest.mark.parametrize("family", sorted(COMPILED))
def test_compiled_probabilities_are_the_pipelines(
    family: str,
    small: tuple[pd.DataFrame, pd.Series],
    bag: LeadModel,
    fresh: pd.DataFrame,
) -> None:
    X, y = small
    model = bag if family == "lightgbm" else LeadModel(family, cv=2, params=COMPILED[family])
    if family != "lightgbm":
        model.fit(X.drop(columns="lead_id"), y, id_column="lead_id")
    compiled = CompiledBatch(model)
    found = compiled.proba(read_inputs(_batch(fresh), model.schema_))
    expected = model.predict_proba(fresh)[:, 1]
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-9)


def test_families_without_a_compiled_form_are_refused(
    small: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = small
    model = LeadModel("naive_bayes", cv=2).fit(X.drop(columns="lead_id"), y)
    with pytest.raises(NotCompilable):
        CompiledBatch(model)


def _same_table(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(found.columns) == list(expected.columns)
    np.testing.assert_allclose(found["score"], expected["score"], rtol=0, atol=1e-9)
    for column in expected.columns.drop("score"):
        assert found[column].tolist() == expected[column].tolist(), column


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("which", ["logreg", "bag"])
def test_a_streamed_file_is_scored_as_the_whole_table(
    which: str, kind: str, request: pytest.FixtureRequest, files: dict[str, Path], tmp_path: Path
) -> None:
    model = request.getfixturevalue(which)
    out = tmp_path / f"scores.{kind}"
    done = score_file(model, files[kind], out=out, batch_size=37, capacity=25, exploration=EXPLORE)
    expected = score(model, files[kind], capacity=25, exploration=EXPLORE)
    found = pd.read_parquet(out) if kind == "parquet" else pd.read_csv(out)
    assert done.engine == "compiled"
    _same_table(found, expected)
    assert done.tally.leads == len(expected)
    assert done.tally.contacted == int(expected["contact"].sum())
    assert done.tally.explored == int(expected["explored"].sum()) > 0


def test_a_compiled_model_off_the_pipeline_is_found_and_the_file_scored_by_the_pipeline(
    logreg: LeadModel, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check against the pipeline runs beside the first pass: when it fails, what the
    compiled model scored (or the error it raised) is thrown away and the file is scored
    again by the pipeline."""

    def off(self: CompiledBatch) -> None:
        raise NotCompilable("reference leads' scores off the pipeline's by 0.5")

    monkeypatch.setattr(CompiledBatch, "check", off)
    wrong = CompiledBatch.proba
    monkeypatch.setattr(CompiledBatch, "proba", lambda self, inputs: wrong(self, inputs) * 0.5)
    out = tmp_path / "scores.csv"
    done = score_file(logreg, files["csv"], out=out, batch_size=37, exploration=EXPLORE)
    assert done.engine == "pipeline (reference leads' scores off the pipeline's by 0.5)"
    _same_table(pd.read_csv(out), score(logreg, files["csv"], exploration=EXPLORE))

    def broken(self: CompiledBatch, inputs: object) -> None:
        raise FloatingPointError("the compiled model fails on this file too")

    monkeypatch.setattr(CompiledBatch, "proba", broken)
    done = score_file(logreg, files["csv"], out=out, batch_size=37, exploration=EXPLORE)
    assert done.engine == "pipeline (reference leads' scores off the pipeline's by 0.5)"
    _same_table(pd.read_csv(out), score(logreg, files["csv"], exploration=EXPLORE))


def test_the_batch_size_does_not_change_the_output(
    logreg: LeadModel, files: dict[str, Path], tmp_path: Path
) -> None:
    one, many = tmp_path / "one.csv", tmp_path / "many.csv"
    score_file(logreg, files["csv"], out=one, batch_size=10_000, exploration=EXPLORE)
    score_file(logreg, files["csv"], out=many, batch_size=7, exploration=EXPLORE)
    assert one.read_bytes() == many.read_bytes()


def test_tied_leads_rank_in_file_order(
    logreg: LeadModel, fresh: pd.DataFrame, tmp_path: Path
) -> None:
    """Copies of three leads: their scores tie, across batches; the earlier copy ranks first."""
    copies = pd.concat([fresh.head(3)] * 6, ignore_index=True)
    copies["lead_id"] = [f"C{i:02d}" for i in range(len(copies))]
    copies.to_parquet(tmp_path / "copies.parquet")
    out = tmp_path / "ranked.parquet"
    score_file(logreg, tmp_path / "copies.parquet", out=out, batch_size=4, capacity=5)
    _same_table(pd.read_parquet(out), score(logreg, copies, capacity=5))


def _spy_on_ranked_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the files ranked by sorting every score (the bands were uneven)."""
    calls: list[int] = []
    ranked_runs = streaming.ranked_runs

    def spy(*args: object) -> object:
        calls.append(1)
        return ranked_runs(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(streaming, "ranked_runs", spy)
    return calls


def test_a_file_sorted_by_score_is_ranked_by_every_score(
    logreg: LeadModel, fresh: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch holds the lowest scores, so its bands put nearly every later lead
    in the top band, too many to sort in memory: the file is ranked the other way, with
    the same table."""
    ordered = fresh.iloc[np.argsort(logreg.predict_proba(fresh)[:, 1], kind="stable")]
    ordered.to_parquet(tmp_path / "sorted.parquet")
    calls = _spy_on_ranked_runs(monkeypatch)
    out = tmp_path / "ranked.parquet"
    score_file(logreg, tmp_path / "sorted.parquet", out=out, batch_size=20, exploration=EXPLORE)
    assert calls == [1]
    _same_table(pd.read_parquet(out), score(logreg, ordered, exploration=EXPLORE))


def test_a_shuffled_file_is_ranked_band_by_band(
    logreg: LeadModel, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _spy_on_ranked_runs(monkeypatch)
    out = tmp_path / "ranked.parquet"
    score_file(logreg, files["parquet"], out=out, batch_size=20, capacity=30)
    assert calls == []
    _same_table(pd.read_parquet(out), score(logreg, files["parquet"], capacity=30))


def test_bands_hold_each_score_whole() -> None:
    rng = np.random.default_rng(6)
    for _ in range(300):
        sample = rng.integers(0, int(rng.integers(1, 20)), int(rng.integers(1, 80))) / 7
        bands = Bands(sample, int(rng.integers(1, 12)))
        p = rng.integers(-2, 25, 200) / 7
        band = bands.of(p)
        assert 1 <= bands.count <= 12 and band.min() >= 0 and band.max() < bands.count
        by_score = np.argsort(p, kind="stable")
        assert bool(np.all(np.diff(band[by_score]) >= 0))  # higher score, same band or above
        for value in np.unique(p):  # a score lies in one band
            assert len(np.unique(band[p == value])) == 1


def test_ranks_of_batches_are_the_tables() -> None:
    p = np.random.default_rng(3).integers(0, 30, 500) / 30
    ranks = Ranks(p.copy())
    found = np.concatenate([ranks.of(part) for part in np.array_split(p, 9)])
    expected = pd.Series(-p).rank(method="first").astype(int).to_numpy()
    assert found.tolist() == expected.tolist()


@pytest.mark.parametrize("indexed", [True, False])
def test_bounds_are_numpys_searchsorted(indexed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "THREADED_NEEDLES", 20)  # most calls split over the cores
    rng = np.random.default_rng(0)
    for trial in range(1500):
        n, m, spread = int(rng.integers(300)), int(rng.integers(50)), int(rng.integers(1, 31))
        values = np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, spread, n) / 3)
        if trial % 7 == 0:  # a wide range: most cells empty, a few full
            values = values ** rng.integers(1, 40)
        if trial % 11 == 0 and n:
            values[rng.integers(n)] = (-1) ** trial * np.inf
        values = np.sort(values)
        needles = np.where(rng.random(m) < 0.1, np.nan, rng.integers(-1, spread + 1, m) / 3)
        if trial % 5 == 0 and n:  # every needle among the values, as when ranking
            needles = rng.choice(values, m)
        needles = np.sort(needles) if trial % 2 else needles
        first, last = ranking.bounds(values, needles, ranking.Grid(values) if indexed else None)
        assert first.tolist() == np.searchsorted(values, needles, side="left").tolist()
        assert last.tolist() == np.searchsorted(values, needles, side="right").tolist()


def test_ranks_through_the_grid_are_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "INDEXED_FROM", 0)
    monkeypatch.setattr(ranking, "THREADED_NEEDLES", 100)
    p = np.random.default_rng(4).integers(0, 300, 5000) / 300
    ranks = Ranks(p.copy())
    assert ranks.grid is not None
    found = np.concatenate([ranks.of(part) for part in np.array_split(p, 7)])
    expected = pd.Series(-p).rank(method="first").astype(int).to_numpy()
    assert found.tolist() == expected.tolist()


def test_a_batchs_best_leads_are_a_stable_sorts() -> None:
    rng = np.random.default_rng(5)
    for trial in range(500):
        p = rng.integers(0, 6, int(rng.integers(1, 60))) / 5  # many ties
        if trial % 4 == 0:
            p[rng.random(len(p)) < 0.2] = np.nan
        top = int(rng.integers(1, 70))
        assert _best(p, top).tolist() == np.argsort(-p, kind="stable")[:top].tolist()


def test_the_top_leads_and_their_columns_are_the_tables_best(
    logreg: LeadModel, fresh: pd.DataFrame, tmp_path: Path
) -> None:
    """Tied copies spread over the batches: the kept best are the table's first rows."""
    copies = pd.concat([fresh.head(60)] * 3, ignore_index=True)
    copies["lead_id"] = [f"T{i:03d}" for i in range(len(copies))]
    copies.to_parquet(tmp_path / "copies.parquet")
    done = score_file(logreg, tmp_path / "copies.parquet", batch_size=7, top=8, show=["source"])
    expected = score(logreg, copies).head(8)
    assert done.top["lead_id"].tolist() == expected["lead_id"].tolist()
    assert done.top["rank"].tolist() == list(range(1, 9))
    sources = copies.set_index("lead_id")["source"]
    assert done.top["source"].tolist() == sources.loc[expected["lead_id"]].tolist()


def test_reasons_and_the_pipeline_path(
    logreg: LeadModel, files: dict[str, Path], tmp_path: Path
) -> None:
    rows = pd.read_parquet(files["parquet"]).head(40)
    rows.to_parquet(tmp_path / "forty.parquet")
    out = tmp_path / "why.parquet"
    done = score_file(logreg, tmp_path / "forty.parquet", out=out, batch_size=16, reasons=2,
                      compiled=False, top=3, show=["source"])  # fmt: skip
    assert done.engine.startswith("pipeline")
    _same_table(pd.read_parquet(out), score(logreg, rows, reasons=2))
    assert done.top["rank"].tolist() == [1, 2, 3]
    assert done.top["source"].tolist() == [
        rows.set_index("lead_id").loc[i, "source"] for i in done.top["lead_id"]
    ]


def test_bad_values_name_the_file_row(
    logreg: LeadModel, fresh: pd.DataFrame, tmp_path: Path
) -> None:
    bad = fresh.astype({"visits": object})
    bad.loc[50, "visits"] = "abc"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SchemaError, match=r"'visits'.*'abc'.*\b52\b"):
        score_file(logreg, tmp_path / "bad.csv", batch_size=16)
    bad.drop(columns="visits").to_parquet(tmp_path / "partial.parquet")
    with pytest.raises(SchemaError, match="'visits'"):
        score_file(logreg, tmp_path / "partial.parquet")
    with pytest.raises(DataError, match="not CSV or Parquet"):
        score_file(logreg, tmp_path / "nowhere.jsonl")


def test_the_command_streams_files(model_dir: Path, files: dict[str, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from leadscore.cli import app

    runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_CONFIG": None})
    out = tmp_path / "s.parquet"
    args = ["score", str(model_dir), str(files["parquet"]), "--out", str(out), "--top", "2"]
    result = runner.invoke(app, [*args, "--batch-size", "50"])
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    counts = scores["segment"].value_counts()
    assert f"{len(scores)} leads: {counts['hot']} hot, {counts['warm']} warm" in result.output
    assert scores["rank"].tolist() == list(range(1, len(scores) + 1))
    refused = runner.invoke(app, [*args, "--batch-size", "0"])
    assert refused.exit_code == 2 and "batch size" in refused.output


def test_a_model_with_a_time_column_gives_ages(
    small: tuple[pd.DataFrame, pd.Series], files: dict[str, Path], tmp_path: Path
) -> None:
    X, y = small
    model = LeadModel("logreg_l2", cv=2).fit(
        X.drop(columns="lead_id"), y, id_column="lead_id", time_column="created_at"
    )
    out = tmp_path / "aged.csv"
    score_file(model, files["csv"], out=out, batch_size=64)
    found, expected = pd.read_csv(out), score(model, files["csv"])
    assert list(found.columns) == list(expected.columns) and "age_days" in found
    np.testing.assert_allclose(found["score"], expected["score"], rtol=0, atol=1e-9)
    # "now" is read once per run: two runs a moment apart may round a lead's age apart
    np.testing.assert_allclose(found["age_days"], expected["age_days"], rtol=0, atol=0.11)


def test_the_commands_batch_size_is_the_streamed_default() -> None:
    """The command states the default itself (importing scoring costs its start-up)."""
    import inspect

    from leadscore.cli.scoring import score as command
    from leadscore.scoring.streaming import DEFAULT_BATCH_SIZE

    assert inspect.signature(command).parameters["batch_size"].default == DEFAULT_BATCH_SIZE
