"""The server process in trouble (issue 19): SIGTERM under load (row 13), and the disk
full for the store.

* SIGTERM while ten clients post scores: every request the server took in answers 200 —
  a request whose score was stored was taken in, so it must have had its 200; the others
  may fail only at the connection level (refused, or closed before any answer), never with
  a 5xx or a hang — and the process exits with status 0 within 20 s.
* The disk full: the server runs with a file-size limit (``RLIMIT_FSIZE``, with
  ``SIGXFSZ`` ignored, so a write past it fails with ``EFBIG`` instead of killing the
  process) a little above the store's size, so the store cannot grow. Scores answer
  200 while there is room and 503 JSON with ``Retry-After`` once there is none (never a
  500 or a hang), ``/healthz`` and reads keep answering, every score answered 200 is
  kept, and the database passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from faults.conftest import (
    Answer,
    Demo,
    Load,
    Poller,
    Server,
    call,
    score,
    service_error_problems,
    sqlite_rows,
    summary,
)

pytestmark = pytest.mark.faults

#: errors that mean "no answer was started": the connection was refused, or closed (or
#: reset) before a byte of an answer — what a client sees of a listener that has closed
CONNECTION_ERRORS = {"ConnectError", "RemoteProtocolError", "ReadError", "WriteError"}
EXIT_BOUND_S = 20.0


def stored_leads(db: Path) -> set[str]:
    return {lead for (lead,) in sqlite_rows(db, "SELECT DISTINCT lead_id FROM scores")}


def test_sigterm_under_load_drains_and_exits_0(
    demo: Demo, serve: Callable[..., Server], tmp_path: Path
) -> None:
    db = tmp_path / "leadscore.db"
    server = serve(f"sqlite:///{db}")
    load = Load(server, demo.leads, threads=10, timeout=30.0, prefix="term").start()
    time.sleep(1.5)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    status = server.wait(EXIT_BOUND_S)
    exited_after = time.monotonic() - signalled
    answers = load.finish()

    stored = stored_leads(db)
    problems: list[str] = []
    if status is None:
        problems.append(f"still running {EXIT_BOUND_S:.0f} s after SIGTERM")
    elif status != 0:
        problems.append(f"exit status {status} (0 expected) after {exited_after:.1f} s")
    for answer in answers:
        if answer.status == 200:
            if answer.lead_id not in stored:
                problems.append(f"answered 200 but not stored: {answer} ({answer.lead_id})")
        elif answer.status is not None:
            problems.append(f"an HTTP error instead of a drain: {answer}")
        elif answer.lead_id in stored:
            problems.append(f"stored (so taken in) but not answered: {answer} ({answer.lead_id})")
        elif answer.error not in CONNECTION_ERRORS:
            problems.append(f"not a connection-level failure: {answer}")
    taken = sum(1 for a in answers if a.status == 200 and a.started >= signalled)
    assert sum(1 for a in answers if a.status == 200) > 20, summary(answers)
    assert not problems, (
        f"SIGTERM under load — {summary(answers)}; {taken} sent after the signal answered "
        f"200; exit {status} after {exited_after:.1f} s\n" + "\n".join(problems[:40])
    )


#: room the store's files get past the database's size when the server starts
ROOM = 256 * 1024


def _limit_file_size(db: Path) -> Callable[[], None]:
    def apply() -> None:  # in the child, before exec: the store exists, with the key
        limit = db.stat().st_size + ROOM
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_for_the_store(demo: Demo, serve: Callable[..., Server], tmp_path: Path) -> None:
    db = tmp_path / "leadscore.db"
    server = serve(f"sqlite:///{db}", preexec_fn=_limit_file_size(db), start=False)
    # everything in the database file, the write-ahead log empty: room is what ROOM says
    assert sqlite_rows(db, "PRAGMA wal_checkpoint(TRUNCATE)")[0][0] == 0
    server.start()
    problems: list[str] = []
    with server.client() as client:
        seeded = [score(client, f"seed-{i}", demo.leads[i]) for i in range(5)]
    problems += [f"before the disk filled: {a}" for a in seeded if a.status != 200]
    time.sleep(1.5)  # checkpointed into the database file
    before = sqlite_rows(db, "SELECT count(*) FROM scores")[0][0]

    health = Poller(server, "/healthz")
    health.start()
    answers: list[Answer] = []
    with server.client() as client:
        failures = 0
        for i in range(1500):
            answer = score(client, f"full-{i}", demo.leads[i % len(demo.leads)])
            answers.append(answer)
            failures = failures + 1 if answer.status != 200 else 0
            if failures >= 20:  # full, and staying full
                break
        reads = [call(client, "GET", f"/v1/leads/seed-{i}") for i in range(5)]
        reads.append(call(client, "GET", "/v1/leads?segment=hot"))
    polls = health.finish()
    assert server.running(), f"the server died when the disk filled:\n{server.log}"
    exit_status = server.stop()

    assert failures >= 20, f"the store never filled up: {summary(answers)}"
    for answer in answers:
        problems += service_error_problems(answer)
        if answer.elapsed > 2.0:
            problems.append(f"score not answered within 2 s: {answer}")
    problems += [f"/healthz: {a}" for a in polls if a.status != 200][:5]
    problems += [f"read after the disk filled: {a}" for a in reads if a.status != 200]
    after = sqlite_rows(db, "SELECT count(*) FROM scores")[0][0]
    ok = sum(1 for a in answers if a.status == 200)
    if after < before + ok:
        problems.append(f"scores lost: {before} + {ok} answered 200, {after} stored")
    missing = {a.lead_id for a in seeded + answers if a.status == 200 and a.lead_id}
    missing -= stored_leads(db)
    if missing:
        problems.append(f"answered 200 but not stored: {sorted(missing)[:5]}")
    check = sqlite_rows(db, "PRAGMA integrity_check")
    if check != [("ok",)]:
        problems.append(f"integrity_check: {check}")
    assert not problems, (
        f"disk full (files limited to {ROOM // 1024} KiB past the store) — scores: "
        f"{summary(answers)}; "
        f"exit status {exit_status}\n" + "\n".join(problems[:40])
    )
