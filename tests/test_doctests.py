"""Every docstring example under ``src/leadscore`` runs, and shows what it prints.

One test per docstring (its id is the qualified name, e.g. ``leadscore.reporting.page.fmt``),
run by the standard :mod:`doctest` in a fresh temporary working directory. The examples
share a small namespace so they can stay short:

* ``pd``, ``np`` — pandas and NumPy;
* ``leads`` — 300 demo leads (``leadscore.demo.generate_leads(300, seed=1).table``,
  a copy per test: ``lead_id``, the features, ``sales_status`` and ``converted``);
* ``model`` — a :class:`~leadscore.LeadModel` (``"logreg_l2"``, 3 folds) fitted on them
  (``id_column="lead_id"``: its scores are keyed by lead id), shared: examples read it;
* ``store`` — a :class:`~leadscore.store.Store` at ``sqlite:///scores.db`` (made only for
  examples that use the name).

A module's own names win over these, except for its submodules (``leadscore.demo.leads``).
The examples show the defaults: the key file the suite's conftest names for webhook secrets
is unset for them, and a per-user file would go below the temporary folder.

Not collected: the Streamlit pages (``leadscore.ui.app``, ``leadscore.ui.views.*``) and
``leadscore.cli.__main__`` (they run on import) and the Alembic migrations. Examples that
would be slow (fits, comparisons) or need a server (MLflow, a database, S3) are prose.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import leadscore

#: modules whose docstring examples do not run here (Streamlit scripts, migrations, and
#: ``python -m`` entry points: all of these run on import)
NEVER = (
    "leadscore.ui.app",
    "leadscore.ui.views.",
    "leadscore.store.migrations",
    "leadscore.cli.__main__",
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
LEAD_ROWS = 300


def _left_out(name: str) -> bool:
    return any(
        name == prefix.rstrip(".") or name.startswith(prefix.rstrip(".") + ".") for prefix in NEVER
    )


def _modules() -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(leadscore.__path__, "leadscore."):
        if not _left_out(info.name):
            yield importlib.import_module(info.name)


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = finder.find(leadscore)
    for module in _modules():
        found.extend(finder.find(module))
    return sorted((test for test in found if test.examples), key=lambda test: test.name)


DOCTESTS = _doctests()


def _names_used(test: doctest.DocTest) -> set[str]:
    used: set[str] = set()
    for example in test.examples:
        try:
            tree = ast.parse(example.source)
        except SyntaxError:
            continue
        used.update(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))
    return used


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, Any]:
    """The demo leads and a small model fitted on them (once per worker)."""
    from leadscore.demo import generate_leads
    from leadscore.modeling.model import LeadModel

    leads = generate_leads(LEAD_ROWS, seed=1).table
    features = leads.drop(columns=["lead_id", "sales_status", "converted"])
    model = LeadModel("logreg_l2", cv=3).fit(features, leads["converted"], id_column="lead_id")
    return leads, model


def test_examples_are_collected() -> None:
    """The finder sees the examples (a broken import would otherwise pass silently)."""
    assert len(DOCTESTS) > 100


def test_no_example_is_skipped() -> None:
    """An example runs, or it is prose: ``+SKIP`` would let it rot unseen."""
    skipped = [
        test.name
        for test in DOCTESTS
        for example in test.examples
        if example.options.get(doctest.SKIP)
    ]
    assert not skipped, f"examples marked +SKIP: {sorted(set(skipped))}"


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_examples(
    test: doctest.DocTest,
    fitted: tuple[Any, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADSCORE_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    leads, model = fitted
    shared: dict[str, Any] = {"pd": pd, "np": np, "leads": leads.copy(), "model": model}
    store = None
    if "store" in _names_used(test):
        from leadscore.store import Store

        store = shared["store"] = Store("sqlite:///scores.db")
    own = {
        name: value
        for name, value in test.globs.items()
        if not (name in shared and isinstance(value, ModuleType))
    }
    test = doctest.DocTest(
        test.examples, {**shared, **own}, test.name, test.filename, test.lineno, test.docstring
    )
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    try:
        result = runner.run(test, out=report.append, clear_globs=True)
    finally:
        if store is not None:
            store.close()
    if result.failed:
        pytest.fail("".join(report), pytrace=False)
