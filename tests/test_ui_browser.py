"""The dashboard end to end in a real headless browser (Playwright driving Debian's
chromium): ``streamlit run`` as ``leadscore ui`` starts it, on a free port, against a
temporary SQLite store and a small trained model.

A new admin signs in, uploads the demo CSV, trains, sees the hot / warm / cold counts
and the donut chart, opens a lead and sees its reasons (then the insights and monitoring
pages, for the screenshots). Screenshots of every step go to
``tmp_path/screenshots`` (the path is printed) and, when ``LEADSCORE_UI_SCREENSHOTS``
names a folder (e.g. ``artifacts/screenshots``), are copied there for a person to look at.

Without ``/usr/bin/chromium`` the test skips — except under ``CI=true``, where that is a
failure.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser_dashboard import (
    CHROMIUM,
    STEP_TIMEOUT_MS,
    chromium_or_skip,
    metric_values,
    running_dashboard,
)
from leadscore.config import Settings
from leadscore.demo import generate_leads
from leadscore.lifecycle.train import train
from leadscore.store import Store
from leadscore.ui import workspace

PASSWORD = "a-fresh-admin-password"

pytestmark = pytest.mark.slow


@dataclass
class Dashboard:
    url: str
    root: Path
    store_url: str
    demo_csv: Path
    shots: Path

    def shoot(self, page: object, name: str) -> None:
        path = self.shots / f"{len(list(self.shots.glob('*.png'))) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    chromium_or_skip()
    root = tmp_path_factory.mktemp("dashboard")
    train(
        generate_leads(600, seed=3).table,
        settings=Settings(tracking=False, cv_folds=3),
        models=["logreg_l2"],
        out=root / "model",
        show_progress=False,
        target="converted",
        id="lead_id",
    )
    store_url = f"sqlite:///{root / 'leadscore.db'}"
    with Store(store_url) as store:
        store.users.add("admin", PASSWORD, "admin")
    demo_csv = root / "demo_leads.csv"
    demo_csv.write_bytes(workspace.demo_csv(rows=600, new_rows=120))
    try:
        with running_dashboard(root, store_url, root / "model") as url:
            shots = root / "screenshots"
            shots.mkdir()
            yield Dashboard(url, root, store_url, demo_csv, shots)
    finally:
        copy_to = os.environ.get("LEADSCORE_UI_SCREENSHOTS")
        if copy_to and (root / "screenshots").is_dir():
            shutil.copytree(root / "screenshots", copy_to, dirs_exist_ok=True)
        print(f"screenshots: {root / 'screenshots'}")


def test_sign_in_upload_train_and_open_a_lead(dashboard: Dashboard) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            # sign in
            page.goto(dashboard.url)
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            dashboard.shoot(page, "sign-in")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("No scored leads yet")).to_be_visible()

            # upload the demo CSV: checked, kept, audited
            page.get_by_role("link", name="Data").click()
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
                str(dashboard.demo_csv)
            )
            page.get_by_role("button", name="Load this file").click()
            expect(page.get_by_text("Current data set: demo_leads.csv")).to_be_visible()
            expect(page.get_by_text("Loaded demo_leads.csv: 720 leads.")).to_be_visible()
            page.get_by_role("tab", name="Audit").click()
            expect(page.get_by_text("Leakage suspect: sales_status")).to_be_visible()
            page.wait_for_timeout(1500)  # the metrics and tables finish drawing
            dashboard.shoot(page, "data-audit")

            # train: compare the fast families, serve the best, score the open leads
            page.get_by_role("link", name="Models").click()
            page.get_by_role("button", name="Compare and train").click()
            expect(page.get_by_text("It is now served; 120 leads were scored")).to_be_visible()
            page.wait_for_timeout(1500)
            dashboard.shoot(page, "models-trained")

            # the leads page: counts and the donut
            page.get_by_role("link", name="Leads", exact=True).click()
            expect(page.get_by_text("Top hot leads")).to_be_visible()
            expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
            page.wait_for_timeout(1500)  # let the charts draw before the screenshot
            shown = metric_values(page)
            counts = [int(shown[s].replace(",", "")) for s in ("Hot", "Warm", "Cold")]
            assert sum(counts) == 120 and counts[0] > 0
            donut = page.locator('[data-testid="stVegaLiteChart"]').first
            assert donut.locator("canvas, svg").count() > 0
            dashboard.shoot(page, "leads")

            # open the best lead: its score and reasons
            with Store(dashboard.store_url) as store:
                best = store.scores.ranked("hot", limit=1)[0]
            page.get_by_label("Search by lead id").fill(best.lead_id)
            page.get_by_label("Search by lead id").press("Enter")
            page.get_by_role("button", name=f"Open lead {best.lead_id}").click()
            expect(page.get_by_role("heading", name="Lead detail")).to_be_visible()
            reasons = page.get_by_text(re.compile(r"▲ .+ → \+\d+")).first
            expect(reasons).to_be_visible()
            assert metric_values(page)["Score"] == str(best.score_100)
            page.wait_for_timeout(1500)
            dashboard.shoot(page, "lead")

            # what converts, and how the scores move (for the person reading the shots)
            page.get_by_role("link", name="Insights").click()
            expect(page.get_by_role("heading", name="Findings")).to_be_visible()
            expect(
                page.get_by_role("heading", name="Segments against the ideal customer")
            ).to_be_visible()
            page.wait_for_timeout(1500)
            dashboard.shoot(page, "insights")
            page.get_by_role("link", name="Monitoring").click()
            expect(page.get_by_role("heading", name="Day-to-day movers")).to_be_visible()
            page.wait_for_timeout(1000)
            dashboard.shoot(page, "monitoring")
        except Exception:
            dashboard.shoot(page, "failure")
            raise
        finally:
            browser.close()
    assert len(list(dashboard.shots.glob("*.png"))) == 7
