"""Start what only waits on imports while a table is read and audited.

A comparison's worker processes import the modelling libraries before they fit anything,
and recording the run imports MLflow; both take a noticeable time and can happen while the
main process reads the table, audits it and looks for a time order.
"""

from __future__ import annotations

import contextlib
import os
import threading

from joblib import Parallel, delayed


def _warm_worker() -> None:
    """Import what fitting a candidate needs, in a worker process."""
    import catboost  # noqa: F401
    import lightgbm  # noqa: F401
    import xgboost  # noqa: F401

    import leadscore.modeling.families  # noqa: F401


def warm_up(n_jobs: int, tracking: bool) -> None:
    """Start the work that only waits on imports while the table is read and audited: the
    worker processes load the modelling libraries, and a thread imports MLflow for the run
    that records the comparison."""
    jobs = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    if jobs > 1:
        # through joblib itself, so that the comparison's Parallel reuses these workers
        threading.Thread(
            target=lambda: Parallel(n_jobs=jobs, prefer="processes")(
                delayed(_warm_worker)() for _ in range(jobs)
            ),
            daemon=True,
        ).start()
    if tracking:
        threading.Thread(target=_import_mlflow, daemon=True).start()


def _import_mlflow() -> None:
    with contextlib.suppress(Exception):
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
