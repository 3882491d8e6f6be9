"""The documentation site builds, and every code block marked runnable runs as written.

* ``mkdocs build --strict`` succeeds (any warning — a broken link or anchor, a missing
  image, a page outside the navigation — fails it), and the generated reference pages
  list every setting of :class:`leadscore.config.Settings` and every command of the
  ``leadscore`` app;
* every fenced block of ``docs/**/*.md`` and ``README.md`` whose fence follows the
  comment ``<!-- runnable -->``, ``<!-- runnable: demo-api -->`` or
  ``<!-- runnable: table-api -->`` on the line above runs: ``bash`` blocks with
  ``bash -e -o pipefail``, ``python`` blocks with this Python, the environment's ``bin``
  first on ``PATH``, a page's blocks in order in one temporary folder. The API kinds run
  against a real ``leadscore serve`` (:class:`faults.conftest.Server`): ``demo-api`` on a
  model trained as ``make demo`` trains its own (demo events and CRM fields, one family,
  a few hundred leads), ``table-api`` on one fitted on the lead table of ``leadscore
  demo-data``; the folder holds ``demo/api-key.txt``, ``127.0.0.1:8000`` in the block
  becomes the server's address, and ``curl`` fails on an HTTP error status.

``docs/contributing-docs.md`` documents the markers for the people who write the pages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from faults.conftest import Server

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MARKER = re.compile(r"^<!--\s*runnable(?::\s*(?P<kind>[\w-]+))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<language>[\w+-]*)")
KINDS = ("local", "demo-api", "table-api")
LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
#: the address the examples use (``make demo``'s API), replaced by the test server's
DEMO_ADDRESSES = ("127.0.0.1:8000", "localhost:8000")
#: seconds one block may take
BLOCK_TIMEOUT = 180


@dataclass(frozen=True)
class Block:
    """A code block marked runnable: where it is, how it runs, its code."""

    page: str  # path relative to the repository
    line: int  # line of its opening fence (1-based)
    kind: str
    language: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


class BlockFailed(AssertionError):
    """A runnable block exited with a status other than 0."""


def runnable_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The blocks of the Markdown file ``path`` marked runnable, in page order.

    A marker must sit on the line just above a fence of a language that can run, and
    name a known kind; anything else is an error naming the line. Markers inside other
    fenced blocks (examples of the syntax) are text.

    Parameters
    ----------
    path:
        A Markdown file.
    root:
        What the page's name is relative to (the repository).
    """
    page = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    fence: str | None = None  # the open fence, while inside a block
    start, kind, language, body = 0, "", "", []
    for number, line in enumerate(lines, start=1):
        if fence is not None:
            closing = line.strip()
            if len(closing) >= len(fence) and set(closing) == {fence[0]}:
                if kind:
                    blocks.append(Block(page, start, kind, language, "\n".join(body) + "\n"))
                fence, kind = None, ""
            elif kind:
                body.append(line)
            continue
        opened = FENCE.match(line)
        if opened:
            fence, start, body = opened["fence"], number, []
            marker = MARKER.match(lines[number - 2]) if number >= 2 else None
            if marker:
                kind = marker["kind"] or "local"
                language = LANGUAGES.get(opened["language"], "")
                if kind not in KINDS:
                    raise ValueError(f"{page}:{number - 1}: unknown runnable kind {kind!r}")
                if not language:
                    raise ValueError(
                        f"{page}:{number}: a runnable block must be bash or python, "
                        f"not {opened['language'] or 'unlabelled'!r}"
                    )
            continue
        if MARKER.match(line) and not (number < len(lines) and FENCE.match(lines[number])):
            raise ValueError(f"{page}:{number}: a runnable marker not followed by a fence")
    if fence is not None:
        raise ValueError(f"{page}:{start}: a fence that is never closed")
    return blocks


def documentation_pages() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


PAGES: dict[str, list[Block]] = {
    path.relative_to(ROOT).as_posix(): runnable_blocks(path) for path in documentation_pages()
}
RUNNABLE_PAGES = [page for page, blocks in PAGES.items() if blocks]
#: pages whose blocks need no server: they run side by side (see :func:`local_pages`)
LOCAL_PAGES = [
    page for page in RUNNABLE_PAGES if all(block.kind == "local" for block in PAGES[page])
]


def block_env(path_first: list[Path]) -> dict[str, str]:
    """The environment a block runs in: this one (the suite's key files, no tuning), with
    tracking off, one worker, and ``path_first`` before the environment's ``bin`` on
    ``PATH``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LEADSCORE_CONFIG", "LEADSCORE_DATABASE_URL", "LEADSCORE_DEBUG")
    }
    env.update(
        LEADSCORE_TRACKING="false",
        LEADSCORE_N_JOBS="1",
        LEADSCORE_TUNING_BUDGET="0",
        COLUMNS="160",
        PYTHONUNBUFFERED="1",
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        PATH=os.pathsep.join([*map(str, path_first), str(BIN), env.get("PATH", "")]),
    )
    return env


def run_block(block: Block, folder: Path, env: dict[str, str], server: Server | None) -> str:
    """Run ``block`` in ``folder``; its output, or :class:`BlockFailed` with the code and
    the output when it exits with another status than 0."""
    code = block.code
    if server is not None:
        for address in DEMO_ADDRESSES:
            code = code.replace(address, server.url.removeprefix("http://"))
    command = (
        ["bash", "-e", "-o", "pipefail", "-c", code]
        if block.language == "bash"
        else [sys.executable, "-c", code]
    )
    try:
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise BlockFailed(f"{block.where}: still running after {BLOCK_TIMEOUT} s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise BlockFailed(
            f"{block.where} exited with status {done.returncode}\n--- code ---\n{code}"
            f"--- output ---\n{output[-6000:]}"
        )
    return output


def curl_that_fails(folder: Path) -> Path:
    """A folder holding ``curl``: the real one with ``--fail-with-body``, so an example
    answered 4xx or 5xx fails (exit status 22) and shows the answer."""
    real = shutil.which("curl")
    if real is None:
        message = "curl not found: the API examples use it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "curl"
    wrapper.write_text(f'#!/bin/sh\nexec "{real}" --fail-with-body "$@"\n')
    wrapper.chmod(0o755)
    return folder


def run_page(page: str, folder: Path, path_first: list[Path], servers: dict[str, Server]) -> None:
    """The page's runnable blocks, in order, in ``folder`` (the API kinds against
    ``servers``, by kind, with ``demo/api-key.txt`` holding the server's key)."""
    env = block_env(path_first)
    for block in PAGES[page]:
        server = servers.get(block.kind)
        if server is not None:
            (folder / "demo").mkdir(exist_ok=True)
            (folder / "demo" / "api-key.txt").write_text(server.key + "\n")
        run_block(block, folder, env, server)


@pytest.fixture(scope="module")
def local_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[None]]]:
    """The pages that need no server, started side by side, each a chain of ``leadscore``
    processes that mostly wait for their imports: on two cores the file takes half as
    long. Requested by the API server too, so they run while its model trains."""
    folders = {page: tmp_path_factory.mktemp("docs-page") for page in LOCAL_PAGES}
    with ThreadPoolExecutor(max_workers=max(1, len(LOCAL_PAGES))) as pool:
        yield {page: pool.submit(run_page, page, folders[page], [], {}) for page in LOCAL_PAGES}


# ----------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def demo_api(
    tmp_path_factory: pytest.TempPathFactory, local_pages: dict[str, Future[None]]
) -> Iterator[Server]:
    """``leadscore serve`` on a model trained as ``make demo`` trains its own: demo events
    and CRM fields → lead features → one family, timed by ``first_seen`` (while the
    local pages run)."""
    from leadscore.config import Settings
    from leadscore.demo.events import write_demo_events
    from leadscore.features.table import build_lead_table, save_lead_table
    from leadscore.lifecycle.train import train

    root = tmp_path_factory.mktemp("docs-demo-api")
    paths = write_demo_events(root / "demo", leads=400, new_leads=5, messy=False)
    built = build_lead_table(str(paths["events"]), outcomes=paths["outcomes"], leads=paths["crm"])
    save_lead_table(built, root / "leads.parquet")
    train(
        root / "leads.parquet", models=["logreg_l2"], cv=2, track=False, show_progress=False,
        budget=0, out=root / "model", settings=Settings(tracking=False, n_jobs=1),
        time="first_seen",
    )  # fmt: skip
    server = Server(root / "model", f"sqlite:///{root / 'leadscore.db'}", root).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def table_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``leadscore serve`` on a model fitted on the lead table of ``leadscore demo-data``
    (its columns are the attributes ``POST /v1/score`` takes)."""
    from leadscore.demo import generate_leads
    from leadscore.lifecycle.artifacts import save_model
    from leadscore.modeling.model import LeadModel

    root = tmp_path_factory.mktemp("docs-table-api")
    leads = generate_leads(400, seed=2).table
    model = LeadModel("logreg_l2", cv=2).fit(
        leads.drop(columns=["lead_id", "sales_status", "converted"]),
        leads["converted"],
        time_column="created_at",
    )
    save_model(model, root / "model")
    server = Server(root / "model", f"sqlite:///{root / 'leadscore.db'}", root).start()
    yield server
    server.stop()


# ----------------------------------------------------------------------------- tests


def test_runnable_blocks_are_found() -> None:
    """Every kind of runnable block is used, the README's example against the demo's API
    and the API page's examples of each kind among them (a marker the parser missed
    would let an example rot unseen)."""
    kinds = {block.kind for blocks in PAGES.values() for block in blocks}
    assert kinds == set(KINDS)
    assert any(block.kind == "demo-api" for block in PAGES["README.md"])
    api_kinds = {block.kind for block in PAGES["docs/api.md"]}
    assert {"demo-api", "table-api"} <= api_kinds
    assert sum(len(blocks) for blocks in PAGES.values()) >= 12


def test_markers_that_cannot_run_are_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    cases = {
        "<!-- runnable -->\n```yaml\na: 1\n```\n": "must be bash or python",
        "<!-- runnable: somewhere -->\n```bash\ntrue\n```\n": "unknown runnable kind",
        "<!-- runnable -->\n\n```bash\ntrue\n```\n": "not followed by a fence",
    }
    for text, problem in cases.items():
        page.write_text(text)
        with pytest.raises(ValueError, match=problem):
            runnable_blocks(page, tmp_path)
    # an example of the syntax inside another block is text
    page.write_text("````markdown\n<!-- runnable -->\n```bash\nfalse\n```\n````\n")
    assert runnable_blocks(page, tmp_path) == []
    page.write_text("<!-- runnable: demo-api -->\n```python\nprint(1)\n```\n")
    (block,) = runnable_blocks(page, tmp_path)
    assert (block.kind, block.language, block.code, block.line) == (
        "demo-api",
        "python",
        "print(1)\n",
        2,
    )


def test_a_failing_block_fails(tmp_path: Path) -> None:
    block = Block("docs/x.md", 1, "local", "bash", "echo before\nfalse\necho after\n")
    with pytest.raises(BlockFailed, match="exited with status 1") as failure:
        run_block(block, tmp_path, block_env([]), None)
    output = str(failure.value).split("--- output ---")[1]
    assert "before" in output and "after" not in output  # it stopped at the failure
    python = Block("docs/x.md", 1, "local", "python", "raise SystemExit('no such lead')\n")
    with pytest.raises(BlockFailed, match="no such lead"):
        run_block(python, tmp_path, block_env([]), None)


def test_an_api_example_answered_with_an_error_fails(demo_api: Server, tmp_path: Path) -> None:
    """The README's old ``/v1/score`` body (a lead table's attributes) answers 422 from the
    demo's model: as a runnable block it would fail the test."""
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "api-key.txt").write_text(demo_api.key + "\n")
    code = (
        'curl -s http://127.0.0.1:8000/v1/score -H "X-API-Key: $(cat demo/api-key.txt)" '
        "-H 'Content-Type: application/json' "
        '-d \'{"lead_id": "L1", "attributes": {"source": "google", "visits": 4}}\'\n'
    )
    block = Block("docs/x.md", 1, "demo-api", "bash", code)
    env = block_env([curl_that_fails(tmp_path)])
    with pytest.raises(BlockFailed, match="status 22") as failure:
        run_block(block, tmp_path, env, demo_api)
    assert "Field required" in str(failure.value)


def test_site_builds_strict(tmp_path: Path) -> None:
    mkdocs = BIN / "mkdocs"
    if not mkdocs.exists():
        message = f"{mkdocs} not found: pip install -e '.[dev]' (make dev)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    from leadscore.config.settings import Settings

    settings_page = (site / "reference" / "settings" / "index.html").read_text()
    assert "settings-reference" not in settings_page
    for variable in environment_variables(Settings, "LEADSCORE_"):
        assert f"<code>{variable}</code>" in settings_page, variable

    cli_page = (site / "reference" / "cli" / "index.html").read_text()
    assert "cli-reference" not in cli_page
    for path in command_paths():
        assert f'id="leadscore-{"-".join(path)}"' in cli_page, path
    assert "--contacted COLUMN" in cli_page  # options come with their metavar

    pictures = sorted((ROOT / "docs" / "img").glob("*.png"))
    assert len(pictures) >= 8
    for picture in pictures:
        assert (site / "img" / picture.name).stat().st_size == picture.stat().st_size


def test_readme_links_and_picture_exist() -> None:
    """The README is read on its own (on a forge, in the package): every relative link
    and image it has points at a file of the repository (mkdocs checks the pages')."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert "docs/img/overview.png" in local and "docs/index.md" in local
    missing = [t for t in local if not (ROOT / t).is_file()]
    assert not missing, missing
    assert len(readme.encode()) < 8000, "the README is the front page: keep it short"


def test_every_dashboard_page_has_a_screenshot() -> None:
    """docs/screenshots.py names each page's picture by its title (``Lead detail`` →
    ``lead-detail.png``); a page added to the dashboard needs its picture taken."""
    app = (ROOT / "src" / "leadscore" / "ui" / "app.py").read_text(encoding="utf-8")
    titles = re.findall(r'\btitle="([^"]+)"', app)
    assert "Leads" in titles and "Sign in" in titles
    pictures = ROOT / "docs" / "img"
    missing = [t for t in titles if not (pictures / f"{'-'.join(t.lower().split())}.png").is_file()]
    assert not missing, f"no screenshot of {missing}: run .venv/bin/python docs/screenshots.py"


def environment_variables(model: type, prefix: str) -> Iterator[str]:
    """``LEADSCORE_…`` of every leaf field of a settings model."""
    from pydantic import BaseModel

    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from environment_variables(annotation, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}"


def command_paths() -> Iterator[list[str]]:
    """Every command and group of the ``leadscore`` app, as its words."""
    import typer

    from leadscore.cli import app

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        for name, sub in command.commands.items():  # type: ignore[attr-defined]
            yield [*path, name]
            if hasattr(sub, "commands"):
                yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_runnable_blocks_run(
    page: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    local_pages: dict[str, Future[None]],
) -> None:
    """The page's runnable blocks, in order, in one folder."""
    if page in local_pages:
        local_pages[page].result()  # its failure, if any, is raised here
        return
    kinds = {block.kind for block in PAGES[page]} - {"local"}
    servers = {kind: request.getfixturevalue(kind.replace("-", "_")) for kind in kinds}
    folder = tmp_path / "work"
    folder.mkdir()
    run_page(page, folder, [curl_that_fails(tmp_path / "bin")], servers)
