"""Screenshots of every dashboard page, for the documentation (``docs/img/*.png``).

It makes a store the way ``make demo`` makes it — the demo's events and CRM table, lead
features, a model trained and registered as the champion, 1,000 fresh leads scored, an
API key and a dashboard user — in a folder of its own (MLflow's files included, so
nothing lands in the repository), starts ``leadscore serve`` and ``leadscore ui`` on free
ports, lives the demo's 90 days (``leadscore demo-live``, outcomes through the API), then
signs in with Debian's headless chromium (Playwright) and takes a PNG of each page.

    .venv/bin/python docs/screenshots.py                     # ~7 min on two cores
    .venv/bin/python docs/screenshots.py --work /tmp/shots   # keep the demo folder
    .venv/bin/python docs/screenshots.py --work /tmp/shots --reuse   # shoot again only

The PNGs are reduced to a 256-colour palette (a dashboard has few colours), which keeps
each one a fraction of chromium's size.

Example
-------
``python docs/screenshots.py --help`` lists the options.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LEADSCORE = str(BIN / "leadscore")
CHROMIUM = Path("/usr/bin/chromium")
USER = "demo"
STEP_TIMEOUT_MS = 120_000
#: the page opened on a lead (the best hot one of the work queue)
LEAD_PAGE = "Lead detail"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(folder: Path, env: dict[str, str], *args: str) -> str:
    """Run ``leadscore ARGS`` in ``folder``; its output (it is printed too)."""
    shown = [
        "***" if before == "--password" else arg
        for before, arg in zip(("", *args[:-1]), args, strict=True)
    ]
    print("$ leadscore", " ".join(shown), flush=True)
    done = subprocess.run(
        [LEADSCORE, *args], cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    print(done.stdout[-2000:], done.stderr[-2000:], sep="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"leadscore {args[0]} failed with status {done.returncode}")
    return done.stdout


def demo_env(folder: Path) -> dict[str, str]:
    """The environment of every step: MLflow's store and the keys inside ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(
        COLUMNS="160",
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        LEADSCORE_MLFLOW_URI=f"sqlite:///{folder / 'mlflow.db'}",
        LEADSCORE_SIGNING_KEY_FILE=str(folder / "signing.key"),
        LEADSCORE_SECRET_KEY_FILE=str(folder / "secret.key"),
    )
    return env


def make_demo_store(folder: Path, env: dict[str, str], rows: int, new_rows: int) -> None:
    """The steps of ``make demo`` before its servers start (report and insights aside:
    the dashboard computes its own)."""
    database = f"sqlite:///{folder / 'leadscore.db'}"
    run(folder, env, "demo-data", "--events", "--out", ".", "--rows", str(rows),
        "--new-rows", str(new_rows))  # fmt: skip
    run(folder, env, "features", "events.jsonl", "--labels", "outcomes.csv", "--leads",
        "crm.csv", "--out", "leads.parquet")  # fmt: skip
    dictionary = ["--dictionary", "dictionary.csv"] if (folder / "dictionary.csv").is_file() else []
    run(folder, env, "train", "leads.parquet", "--time", "first_seen", "--out", "model",
        "--quiet", *dictionary)  # fmt: skip
    run(folder, env, "score", "new_events.jsonl", "--events", "--leads", "new_crm.csv",
        "--out", "scores.csv", "--database", database, "--top", "5")  # fmt: skip
    created = run(folder, env, "keys", "create", "docs-shots", "--scope", "admin",
                  "--database", database)  # fmt: skip
    key = next(line.strip() for line in created.splitlines() if line.startswith("ls_"))
    (folder / "api-key.txt").write_text(key + "\n")
    password = secrets.token_urlsafe(12)
    run(folder, env, "users", "add", USER, "--role", "admin", "--password", password,
        "--database", database)  # fmt: skip
    (folder / "dashboard-password.txt").write_text(password + "\n")


def wait_for(url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 180) -> None:
    """Until ``url`` answers 200, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{what} did not answer at {url} within {timeout:.0f} s")


def stop_group(pid: int, signal_number: int) -> None:
    """Send ``signal_number`` to the process group ``pid`` leads (gone already: nothing)."""
    with suppress(ProcessLookupError):
        os.killpg(pid, signal_number)


@contextmanager
def servers(folder: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``leadscore serve`` and ``leadscore ui`` as ``make demo`` starts them, on free
    ports; yields (API URL, dashboard URL) and stops both on leaving."""
    database = f"sqlite:///{folder / 'leadscore.db'}"
    api_port, ui_port = free_port(), free_port()
    started: list[subprocess.Popen[bytes]] = []
    api_log, ui_log = (folder / "api.log").open("wb"), (folder / "dashboard.log").open("wb")
    with api_log, ui_log:
        try:
            api = subprocess.Popen(
                [LEADSCORE, "serve", "--database", database, "--port", str(api_port)],
                cwd=folder, env=env, stdout=api_log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            started.append(api)
            ui = subprocess.Popen(
                [LEADSCORE, "ui", "--database", database, "--dir", "dashboard", "--data",
                 "leads.parquet", "--port", str(ui_port)],
                cwd=folder, env=env, stdout=ui_log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            started.append(ui)
            api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
            wait_for(f"{api_url}/readyz", api, "leadscore serve")
            wait_for(f"{ui_url}/_stcore/health", ui, "leadscore ui")
            yield api_url, ui_url
        finally:
            # each in a session of its own: `leadscore ui` runs streamlit as a child, which
            # a signal to its parent alone would leave running
            for process in started:
                stop_group(process.pid, signal.SIGTERM)
            for process in started:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    stop_group(process.pid, signal.SIGKILL)


def hot_lead(api_url: str, key: str) -> str:
    """The best hot lead of the work queue (the lead page's subject)."""
    answer = httpx.get(
        f"{api_url}/v1/leads", params={"segment": "hot", "limit": 1},
        headers={"X-API-Key": key}, timeout=30,
    )  # fmt: skip
    answer.raise_for_status()
    items = answer.json()["leads"]
    if not items:
        raise SystemExit("the demo store holds no hot lead")
    return str(items[0]["lead_id"])


def settle(page: object) -> None:
    """Wait until Streamlit has finished the page's script and drawn its charts."""
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    page.locator('[data-test-script-state="notRunning"]').wait_for(state="attached")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelectorAll('[data-testid=\"stSpinner\"]').length === 0"
    )
    page.wait_for_timeout(2500)  # type: ignore[attr-defined]


def shoot(page: object, path: Path, width: int, max_height: int) -> None:
    """A PNG of the page's content (Streamlit scrolls inside its main block, so the
    viewport is first made as tall as that content, up to ``max_height``)."""
    height = page.evaluate(  # type: ignore[attr-defined]
        "() => { const c = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
        " return c ? Math.max(c.getBoundingClientRect().bottom, 600) : 900; }"
    )
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, max_height)})  # type: ignore[attr-defined]
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    small(path)


def small(path: Path) -> None:
    """Rewrite ``path`` with a 256-colour palette, optimised."""
    from PIL import Image

    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    palette.save(path, optimize=True)


def overview(leads: Path, out: Path, height: int = 1000) -> None:
    """The top of the Leads page (counts, charts, the first hot leads): the picture of
    the front pages (README.md, docs/index.md)."""
    from PIL import Image

    with Image.open(leads) as image:
        image.crop((0, 0, image.width, min(height, image.height))).save(out, optimize=True)


def slug(title: str) -> str:
    """A page title as a file name: ``Lead detail`` → ``lead-detail``."""
    return "-".join(title.lower().split())


def take_screenshots(ui_url: str, lead: str, password: str, out: Path, width: int) -> None:
    """Sign in and take ``out/<page>.png`` of every page the navigation lists (named by
    its title: ``lead-detail.png``), of the sign-in page, and the top of the Leads page
    (``overview.png``). A page's title is its heading, which is waited for."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            page.goto(ui_url)
            page.get_by_label("User name").wait_for()
            shoot(page, out / "sign-in.png", width, 900)
            page.get_by_label("User name").fill(USER)
            page.get_by_label("Password", exact=True).fill(password)
            page.get_by_role("button", name="Sign in").click()
            # every page the navigation offers an admin, each named by its title
            page.locator('[data-testid="stSidebarNav"] a').first.wait_for()
            # a link's text is its icon's name, then its title
            titles = [
                link.inner_text().strip().splitlines()[-1].strip()
                for link in page.locator('[data-testid="stSidebarNav"] a').all()
            ]
            for title in titles:
                name = slug(title)
                page.set_viewport_size({"width": width, "height": 3000})
                # within the app: a new page load would be a new session, signed out
                page.get_by_role("link", name=title, exact=True).click()
                page.get_by_role("heading", name=title, exact=True).first.wait_for()
                settle(page)
                if title == LEAD_PAGE:
                    # typed once the page has drawn its box: a rerun would drop it before
                    page.get_by_label("Lead id").fill(lead)
                    page.get_by_label("Lead id").press("Enter")
                    page.get_by_role("heading", name="Sales override").wait_for()
                    settle(page)
                shoot(page, out / f"{name}.png", width, 3000)
                print(f"wrote {out / name}.png ({(out / f'{name}.png').stat().st_size:,} bytes)")
            overview(out / "leads.png", out / "overview.png")
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="demo folder (default: a temporary one)")
    parser.add_argument(
        "--reuse", action="store_true", help="--work holds a demo store already: shoot only"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--rows", type=int, default=5000, help="history leads (make demo: 5000)")
    parser.add_argument("--new-rows", type=int, default=1000, help="fresh leads (make demo: 1000)")
    parser.add_argument("--days", type=int, default=90, help="days lived (make demo: 90)")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        raise SystemExit(f"{CHROMIUM} not found (apt-get install chromium)")
    if args.reuse and args.work is None:
        raise SystemExit("--reuse needs --work: the folder of an earlier run")
    folder = args.work or Path(tempfile.mkdtemp(prefix="leadscore-shots-"))
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    env = demo_env(folder)
    if not args.reuse:
        for stale in ("leadscore.db", "leadscore.db-wal", "leadscore.db-shm"):
            (folder / stale).unlink(missing_ok=True)
        make_demo_store(folder, env, args.rows, args.new_rows)
    key = (folder / "api-key.txt").read_text().strip()
    password = (folder / "dashboard-password.txt").read_text().strip()
    with servers(folder, env) as (api_url, ui_url):
        if not args.reuse:
            run(folder, env, "demo-live", "--days", str(args.days), "--database",
                f"sqlite:///{folder / 'leadscore.db'}", "--api", api_url,
                "--key-file", "api-key.txt")  # fmt: skip
        take_screenshots(ui_url, hot_lead(api_url, key), password, args.out, args.width)
    print(f"demo folder: {folder}")


if __name__ == "__main__":
    main()
