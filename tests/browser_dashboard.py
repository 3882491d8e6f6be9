"""What the headless-browser tests of the dashboard share (tests/test_ui_browser.py,
tests/test_ui_monitoring_browser.py, tests/test_ui_dashboard_browser.py): Debian's
chromium or a skip (a failure under ``CI=true``), the dashboard started as ``leadscore ui``
starts it on a free port against a store and a model folder, signing in, and reading what
the page shows."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from leadscore.cli.dashboard import dashboard_env, streamlit_command

CHROMIUM = Path("/usr/bin/chromium")
STEP_TIMEOUT_MS = 90_000
#: how long streamlit may take to answer its health check
START_TIMEOUT_S = 60


def chromium_or_skip() -> None:
    """Skip without ``/usr/bin/chromium`` — fail instead under ``CI=true``."""
    if CHROMIUM.is_file():
        return
    message = f"{CHROMIUM} not found (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_dashboard(
    root: Path, store_url: str, model: Path, settings: Mapping[str, str] | None = None
) -> Iterator[str]:
    """``streamlit run`` as ``leadscore ui`` runs it, serving ``model`` against
    ``store_url``, working in ``root`` (its log: ``root/streamlit.log``), with more
    ``LEADSCORE_*`` ``settings`` in its environment; yields its URL once it answers, stops
    it on leaving."""
    port = free_port()
    env = dashboard_env(
        database=store_url, config=None, directory=root / "dashboard", max_upload_mb=20
    )
    env.update(
        LEADSCORE_SERVICE__MODEL=str(model),
        LEADSCORE_TRACKING="false",
        LEADSCORE_MLFLOW_URI=f"sqlite:///{root / 'mlflow.db'}",
        LEADSCORE_CV_FOLDS="3",
    )
    env.update(settings or {})
    env.pop("LEADSCORE_CONFIG", None)
    log_path = root / "streamlit.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            streamlit_command(port, "127.0.0.1", 20),
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                        if answer.read() == b"ok":
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"streamlit did not start:\n{log_path.read_text()}")
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def sign_in(page: object, url: str, user: str, password: str) -> None:
    """Open the dashboard and sign in (the sign-in form's fields and button)."""
    page.goto(url)  # type: ignore[attr-defined]
    page.get_by_label("User name").fill(user)  # type: ignore[attr-defined]
    page.get_by_label("Password", exact=True).fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]


def metric_values(page: object) -> dict[str, str]:
    """Label → value of every st.metric on the page."""
    out = {}
    for metric in page.locator('[data-testid="stMetric"]').all():  # type: ignore[attr-defined]
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def table_rows(page: object, column: str, nth: int | None = None) -> list[dict[str, str]]:
    """The rows the one ``st.dataframe`` with a column headed ``column`` draws (the
    ``nth`` such table, when several have one), each as header → text. Streamlit draws
    tables on a canvas; this reads the accessible table it keeps beside it (the rows and
    columns in view only: give the page a tall viewport)."""
    # the accessible table is hidden from the role queries: find its header by text
    header = page.locator("th").filter(has_text=re.compile(f"^{re.escape(column)}$"))  # type: ignore[attr-defined]
    frames = page.locator('[data-testid="stDataFrame"]').filter(has=header)  # type: ignore[attr-defined]
    if nth is None:
        assert frames.count() == 1, f"{frames.count()} tables have a column {column!r}"
    frame = frames.nth(nth or 0)
    frame.locator("tbody tr").first.wait_for(state="attached")
    names = [th.inner_text().strip() for th in frame.locator("thead th").all()]
    assert len(set(names)) == len(names), f"columns headed alike: {names}"
    return [
        dict(zip(names, (td.inner_text().strip() for td in row.locator("td").all()), strict=True))
        for row in frame.locator("tbody tr").all()
    ]


def cut_off_metrics(page: object) -> list[str]:
    """The st.metric values on the page that do not fit their tile (the browser cuts
    them with an ellipsis), as label: value."""
    cut = []
    for metric in page.locator('[data-testid="stMetric"]').all():  # type: ignore[attr-defined]
        value = metric.locator('[data-testid="stMetricValue"]')
        # the innermost element holding the text is the one that clips it
        overflows = value.evaluate(
            "el => [el, ...el.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth)"
        )
        if overflows:
            label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
            cut.append(f"{label}: {value.inner_text().strip()}")
    return cut


def wait_for_rerun(page: object) -> None:
    """Wait until the page's script run (started by the last click or input) ends."""
    page.wait_for_timeout(400)  # type: ignore[attr-defined]
    page.locator('[data-test-script-state="notRunning"]').wait_for(state="attached")  # type: ignore[attr-defined]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]  # the elements finish drawing
