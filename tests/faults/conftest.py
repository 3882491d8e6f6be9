"""Helpers of the fault-injection suite: a real ``leadscore serve`` process and its clients.

* :func:`demo` (once per session): demo leads, a logistic-regression model trained on them
  with the CLI, and the fresh leads as request bodies;
* :class:`Server`: ``leadscore serve MODEL --database URL --port P`` as a subprocess, with
  an admin key made by ``leadscore keys create``; its output is kept in a file and
  printed when a test fails (it is captured with the test's output);
* :class:`Answer`, :func:`call`: one request and what came of it (status, headers, body,
  time taken, or the transport error) — the tests judge every answer, none is dropped;
* :class:`Poller`: a route polled at a fixed interval in a thread (``/healthz``,
  ``/readyz``); :class:`Load`: clients posting scores in threads, each lead id unique so
  that the store can be asked which requests were stored;
* :func:`pg_store`: a PostgreSQL schema of its own per test, reached under an
  ``application_name`` of its own, so that its connections (and only those: other tests
  may share the database) can be terminated.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from leadscore.cli import app as cli_app

_BIN = Path(sys.executable).parent / "leadscore"
LEADSCORE = [str(_BIN)] if _BIN.exists() else [sys.executable, "-m", "leadscore.cli"]

_runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def cli(*args: object, env: dict[str, str] | None = None) -> str:
    """Run a ``leadscore`` command in this process (the same code as the executable,
    without two seconds of imports per call); its output, or the test fails."""
    result = _runner.invoke(cli_app, [str(a) for a in args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


class _PortTaken(Exception):
    """The server could not bind its port: another process took it first."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_key(database: str) -> str:
    """A fresh admin key of the store at ``database`` (``leadscore keys create``); the
    store is created and migrated by it if it is new."""
    output = cli("keys", "create", f"faults-{uuid.uuid4().hex[:6]}", "--scope", "admin",
                 "--database", database)  # fmt: skip
    return next(line.strip() for line in output.splitlines() if line.startswith("ls_"))


def _json_value(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass(frozen=True)
class Demo:
    model: Path
    #: the fresh demo leads, as the ``attributes`` of a score request
    leads: list[dict[str, Any]]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("faults-demo")
    cli("demo-data", "--rows", 600, "--new-rows", 60, "--out", folder)
    cli("train", folder / "leads.csv", "--models", "logreg_l2", "--cv", 2, "--quiet",
        "--out", folder / "model")  # fmt: skip
    with (folder / "new_leads.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    leads = [{k: _json_value(v) for k, v in row.items() if k != "lead_id"} for row in rows]
    return Demo(model=folder / "model", leads=leads)


# ----------------------------------------------------------------------------- requests


@dataclass
class Answer:
    """One request and what came of it: a status, or a transport error (class name)."""

    method: str
    path: str
    started: float  # time.monotonic() when sent
    elapsed: float  # seconds until answered or failed
    status: int | None = None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    lead_id: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        what = self.error if self.status is None else f"{self.status} {self.body[:300]!r}"
        retry = self.headers.get("retry-after")
        more = f" Retry-After={retry}" if retry is not None else ""
        return f"{self.method} {self.path} after {self.elapsed * 1000:.0f} ms: {what}{more}"


def call(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    lead_id: str | None = None,
    timeout: float | None = None,
) -> Answer:
    started = time.monotonic()
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    try:
        response = client.request(method, path, json=json_body, **kwargs)
    except httpx.TransportError as exc:
        return Answer(method, path, started, time.perf_counter() - t0,
                      error=type(exc).__name__, lead_id=lead_id)  # fmt: skip
    return Answer(
        method, path, started, time.perf_counter() - t0, status=response.status_code,
        headers=dict(response.headers), body=response.text, lead_id=lead_id,
    )  # fmt: skip


def score(client: httpx.Client, lead_id: str, attributes: dict[str, Any], **kw: Any) -> Answer:
    body = {"lead_id": lead_id, "attributes": attributes}
    return call(client, "POST", "/v1/score", json_body=body, lead_id=lead_id, **kw)


def service_error_problems(answer: Answer) -> list[str]:
    """What is wrong with ``answer`` as the service's answer to a database fault: only
    200, or 503 JSON with a ``detail`` and a ``Retry-After`` header, are right."""
    if answer.status == 200:
        return []
    if answer.status != 503:
        return [f"not 200 nor 503: {answer}"]
    problems = []
    if "retry-after" not in answer.headers:
        problems.append(f"503 without Retry-After: {answer}")
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if not detail:
        problems.append(f"503 without a JSON detail: {answer}")
    return problems


def summary(answers: list[Answer]) -> str:
    counts: dict[str, int] = {}
    for a in answers:
        key = f"{a.method} {a.path.split('?')[0]} → {a.status or a.error}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))


class Poller(threading.Thread):
    """GETs ``path`` every ``interval`` seconds on one keep-alive connection until
    :meth:`finish`; :attr:`answers` in order."""

    def __init__(
        self, server: Server, path: str, interval: float = 0.1, timeout: float = 2.0
    ) -> None:
        super().__init__(daemon=True, name=f"poll {path}")
        self.server, self.path, self.interval, self.timeout = server, path, interval, timeout
        self.answers: list[Answer] = []
        self._halt = threading.Event()

    def run(self) -> None:
        with self.server.client(timeout=self.timeout) as client:
            while not self._halt.is_set():
                answer = call(client, "GET", self.path)
                self.answers.append(answer)
                self._halt.wait(max(0.0, self.interval - answer.elapsed))

    def finish(self) -> list[Answer]:
        self._halt.set()
        self.join(timeout=10)
        return self.answers


class Load:
    """``threads`` clients posting scores back to back (each after ``pause`` s), each lead
    id unique (``{prefix}{thread}-{n}``), until :meth:`finish`."""

    def __init__(
        self,
        server: Server,
        leads: list[dict[str, Any]],
        *,
        threads: int = 4,
        pause: float = 0.0,
        timeout: float = 5.0,
        prefix: str = "F",
        keep_alive: bool = True,
    ) -> None:
        self.server, self.leads, self.pause, self.timeout = server, leads, pause, timeout
        self.prefix, self.keep_alive = prefix, keep_alive
        self.answers: list[Answer] = []
        self._halt = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, number: int) -> None:
        limits = None if self.keep_alive else httpx.Limits(max_keepalive_connections=0)
        with self.server.client(timeout=self.timeout, limits=limits) as client:
            n = 0
            while not self._halt.is_set():
                lead_id = f"{self.prefix}{number}-{n}"
                answer = score(client, lead_id, self.leads[(number * 7 + n) % len(self.leads)])
                self.answers.append(answer)
                n += 1
                # after a refused connection, do not spin
                pause = self.pause if answer.status is not None else max(self.pause, 0.05)
                if pause:
                    self._halt.wait(pause)

    def finish(self) -> list[Answer]:
        self._halt.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.answers


# ----------------------------------------------------------------------------- the server


def _server_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LEADSCORE_CONFIG", "LEADSCORE_DEBUG", "LEADSCORE_DATABASE_URL")
    }
    env["LEADSCORE_TRACKING"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class Server:
    """``leadscore serve`` as a subprocess on a free port, with an admin key.

    Parameters
    ----------
    model:
        The model folder to serve.
    database:
        The score store's URL.
    workdir:
        Its working directory (no ``leadscore.toml`` of the repository applies) and where
        its output is kept (``server-<port>.log``).
    env:
        Extra environment variables (``LEADSCORE_WEBHOOKS__BASE_DELAY_S`` …).
    preexec_fn:
        Run in the child before ``exec`` (resource limits).
    """

    def __init__(
        self,
        model: Path,
        database: str,
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.model, self.database, self.workdir = model, database, workdir
        self.env = _server_env(env)
        self.preexec_fn = preexec_fn
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = create_key(database)
        self.headers = {"Authorization": f"Bearer {self.key}"}
        self.log_path = workdir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None  # seconds from exec to the first /healthz
        self._lines: list[str] = []
        self._pump: threading.Thread | None = None

    def start(self, timeout: float = 90.0) -> Server:
        """Start the process and wait until it listens and ``/healthz`` answers 200. A
        port taken between :func:`free_port` and the server's bind (another test's
        server, under xdist) is given up for a new one."""
        for _ in range(3):
            try:
                return self._start(timeout)
            except _PortTaken:
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
                self.log_path = self.workdir / f"server-{self.port}.log"
                self._lines = []
        raise AssertionError(f"leadscore serve found no free port in 3 tries:\n{self.log}")

    def _start(self, timeout: float) -> Server:
        self.process = subprocess.Popen(
            [*LEADSCORE, "serve", str(self.model), "--database", self.database,
             "--port", str(self.port), "--no-access-log"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=self.env, cwd=self.workdir, preexec_fn=self.preexec_fn,
        )  # fmt: skip
        # a pipe, read by a thread (not a file the server writes: a file-size limit on
        # the server must not stop its log)
        self._pump = threading.Thread(target=self._read_output, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        listening = f"running on {self.url}"  # uvicorn says so once bound: this server
        while True:
            if self.process.poll() is not None:
                self._pump.join(timeout=5)
                if "address already in use" in self.log:
                    raise _PortTaken(self.port)
                raise AssertionError(
                    f"leadscore serve exited with {self.process.returncode}:\n{self.log}"
                )
            try:
                if (
                    listening in self.log
                    and httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
                ):
                    self.started_in = time.monotonic() - (deadline - timeout)
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"leadscore serve not up after {timeout} s:\n{self.log}")
            time.sleep(0.1)

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with self.log_path.open("w", encoding="utf-8") as out:
            for raw in self.process.stdout:
                line = raw.decode("utf-8", "replace")
                self._lines.append(line)
                out.write(line)
                out.flush()

    @property
    def log(self) -> str:
        return "".join(self._lines)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, timeout: float = 10.0, limits: httpx.Limits | None = None) -> httpx.Client:
        kwargs: dict[str, Any] = {} if limits is None else {"limits": limits}
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout, **kwargs)

    def wait(self, timeout: float) -> int | None:
        """The exit status, or None if still running after ``timeout`` seconds."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` s; waits for the process either way."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.process.kill()
                self.process.wait(timeout=30)
        if self._pump is not None:
            self._pump.join(timeout=10)
        return self.process.returncode


@pytest.fixture
def serve(demo: Demo, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """A factory of started servers on the demo model: ``serve(database, env=…)``
    (``start=False``: made, with its key, but not started). Each is stopped (and waited
    for) after the test; their output is printed, so a failing test shows it."""
    servers: list[Server] = []

    def start(database: str, *, start: bool = True, **kwargs: Any) -> Server:
        server = Server(demo.model, database, tmp_path, **kwargs)
        servers.append(server)
        return server.start() if start else server

    yield start
    for server in servers:
        status = server.stop()
        print(
            f"----- leadscore serve on port {server.port}: up in {server.started_in} s, "
            f"exit status {status} -----"
        )
        print(server.log)


# ----------------------------------------------------------------------------- stores


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` read from the SQLite file at ``path`` by a connection of its own."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@dataclass(frozen=True)
class PgStore:
    url: str
    base: str
    schema: str
    application_name: str

    def terminate(self) -> int:
        """Terminate every connection of this store (by its ``application_name``);
        returns how many."""
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND application_name = %s",
                (self.application_name,),
            ).fetchall()
        return sum(1 for (done,) in rows if done)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[PgStore]:
    """A fresh PostgreSQL schema for the score store (skips without a server, fails under
    ``CI=true``), whose connections carry an ``application_name`` of their own; the
    schema is dropped afterwards."""
    import psycopg

    tag = uuid.uuid4().hex[:12]
    schema, name = f"faults_{tag}", f"leadscore-faults-{tag}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_url}?options=-csearch_path%3D{schema}&application_name={name}"
    store = PgStore(url=url, base=postgres_url, schema=schema, application_name=name)
    try:
        yield store
    finally:
        store.terminate()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
