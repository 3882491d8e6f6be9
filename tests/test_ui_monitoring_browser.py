"""The dashboard's Monitoring page in a real headless browser, on a store the living demo
filled (issue 21: "the Monitoring page checked in the headless browser with the demo").

:func:`~leadscore.live.simulation.simulate_days` replays 35 days of 20 leads a day up to
today — scores, exploration, outcomes, the planted drift of ``first_touch_source`` from
day 15 and a refit on day 23 that serves a second model version — then the dashboard
(started as ``leadscore ui`` starts it) serves the model the simulation began with, and a
viewer opens Monitoring. Every section must have content: the alert naming the drifted
input, movers with causes and reasons, the drift table, the band chart, the weeks
estimated and realised, naive against corrected, the cohorts — and no exception box.

The screenshot goes to the test's tmp dir (the path is printed) and, when
``LEADSCORE_UI_SCREENSHOTS`` names a folder, is copied there. Without
``/usr/bin/chromium`` the test skips — except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from browser_dashboard import (
    CHROMIUM,
    STEP_TIMEOUT_MS,
    chromium_or_skip,
    running_dashboard,
    sign_in,
    table_rows,
)
from leadscore.config import Settings
from leadscore.demo import write_demo_events
from leadscore.features.table import build_lead_table, save_lead_table
from leadscore.lifecycle.train import train
from leadscore.live.sim_retrain import refit_retrainer
from leadscore.live.sim_world import DRIFTED_FEATURE
from leadscore.live.simulation import SimulationSummary, simulate_days
from leadscore.store import Store

pytestmark = pytest.mark.slow

PASSWORD = "a-monitoring-viewer-password"
#: a small world in which every section of the page has content: the drift over a third
#: in, the refit (on the outcomes recorded by then) two thirds in
DAYS, PER_DAY, DRIFT_DAY, RETRAIN_DAY = 35, 20, 12, 23
#: the small model contacts most leads: a larger exploration share leaves a few explored
SETTINGS = Settings(exploration={"share": 0.25})
#: the page's period that holds the whole simulation
PERIOD_DAYS = 90


def last_monday() -> datetime:
    """The simulation's end: the page's periods count back from now, and the generator's
    leads depend on the weekday they start (weekends are quieter), so ending on this
    week's Monday gives the same leads, scores and page whichever day the test runs."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=today.weekday())


@dataclass
class Monitored:
    url: str
    root: Path
    summary: SimulationSummary


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    """The dashboard on a simulated store, serving the event model the days began with
    (the training leads the drift is judged against)."""
    chromium_or_skip()
    root = tmp_path_factory.mktemp("monitoring")
    paths = write_demo_events(root / "demo", leads=1000, new_leads=5, messy=False)
    built = build_lead_table(str(paths["events"]), outcomes=paths["outcomes"], leads=paths["crm"])
    save_lead_table(built, root / "leads.parquet")
    model = train(
        root / "leads.parquet", model="logreg_l2", models=["logreg_l2"], cv=3, track=False,
        show_progress=False, budget=0, out=root / "model",
    )  # fmt: skip
    store_url = f"sqlite:///{root / 'leadscore.db'}"
    with Store(store_url) as store:
        summary = simulate_days(
            store, model, SETTINGS, version="1", today=last_monday(), days=DAYS,
            leads_per_day=PER_DAY, seed=5, drift_from_day=DRIFT_DAY,
            retrain_on_day=RETRAIN_DAY, retrainer=refit_retrainer(store),
        )  # fmt: skip
        store.users.add("manager", PASSWORD, "viewer")
    (root / "screenshots").mkdir()
    try:
        with running_dashboard(root, store_url, root / "model") as url:
            yield Monitored(url, root, summary)
    finally:
        copy_to = os.environ.get("LEADSCORE_UI_SCREENSHOTS")
        if copy_to:
            shutil.copytree(root / "screenshots", copy_to, dirs_exist_ok=True)
        print(f"screenshots: {root / 'screenshots'}")


def test_every_section_of_monitoring_has_content(monitored: Monitored) -> None:
    from playwright.sync_api import expect, sync_playwright

    summary = monitored.summary
    assert summary.drifted_feature == DRIFTED_FEATURE and len(summary.model_versions) == 2
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    shot = monitored.root / "screenshots" / "monitoring-simulated.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        # tall: Streamlit scrolls inside the page (a full-page shot stops at the viewport)
        # and draws only the table rows in view
        page = browser.new_page(viewport={"width": 1400, "height": 4400})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            sign_in(page, monitored.url, "manager", PASSWORD)
            page.get_by_role("link", name="Monitoring").click()
            expect(page.get_by_role("heading", name="Cohorts by week created")).to_be_visible()
            # the whole simulation, whichever weekday the test runs on
            page.locator('[data-testid="stSelectbox"]').click()
            page.get_by_role("option", name=f"last {PERIOD_DAYS} days").click()
            expect(page.get_by_role("combobox", name="Period")).to_have_value(
                f"last {PERIOD_DAYS} days"
            )
            page.wait_for_timeout(500)  # the rerun starts
            expect(page.locator('[data-test-script-state="notRunning"]')).to_have_count(1)
            page.wait_for_timeout(2000)  # the charts and tables finish drawing

            # alerts: the drifted input is named
            alerts = [a.inner_text() for a in page.locator('[data-testid="stAlert"]').all()]
            assert any(f"drift: {DRIFTED_FEATURE} (PSI" in a for a in alerts), alerts

            # movers: the last day's jumps, each with its causes and the fields behind it
            moved = table_rows(page, "Causes")
            assert moved, "no movers"
            for row in moved:
                assert set(row["Causes"].split(", ")) <= {"behaviour", "attributes", "model"}
                assert row["Causes"] and int(row["Change"]) == int(row["Now"]) - int(row["Before"])
                assert ": " in row["Why"] and "→" in row["Why"], row["Why"]

            # drift: the planted input over the line
            drift = {row["Input"]: row for row in table_rows(page, "PSI")}
            assert drift[DRIFTED_FEATURE]["Status"] == "drift"
            assert float(drift[DRIFTED_FEATURE]["PSI"]) > 0.25

            # outcomes against predictions: a bar per band of the table, and the AUC line
            bands = table_rows(page, "Promised")
            assert len(bands) >= 4 and sum(int(b["Leads"]) for b in bands) > 100
            chart = page.locator('[data-testid="stVegaLiteChart"]').filter(
                has=page.locator("[aria-label=\"Title text 'Realised conversion by score band'\"]")
            )
            bars = chart.locator('[aria-roledescription="bar"][aria-label^="Score band:"]')
            assert bars.count() == len(bands)
            expect(
                page.get_by_text(re.compile(r"\d+ outcomes \(\d+ converted\): AUC"))
            ).to_be_visible()

            # estimated vs realised: weeks, the later ones with outcomes
            weeks = table_rows(page, "Expected AUC")
            assert len(weeks) >= 4
            assert sum(int(w["With outcome"] or 0) > 0 for w in weeks) >= 3

            # every lead: the naive estimate beside the corrected one
            estimates = [row["Estimate"] for row in table_rows(page, "Profit per lead")]
            assert [e.split(":")[0] for e in estimates] == ["naive", "corrected"]
            expect(page.get_by_text(re.compile(r"\(\d+ explored\)"))).to_be_visible()

            # cohorts: several weeks of created leads
            cohorts = table_rows(page, "Days to convert")
            assert len(cohorts) >= 4 and all(int(c["Leads"]) > 0 for c in cohorts)

            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        finally:
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
