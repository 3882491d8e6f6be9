"""The SQLite store in trouble under a running ``leadscore serve`` (issue 19, rows 1 and 2).

* another process holds the write lock for 10 s, and for 40 s (longer than the 30 s busy
  timeout SQLite connections used to wait): ``/healthz`` answers within 50 ms throughout,
  every score answers 200 or 503 JSON with ``Retry-After`` within 2 s, a 200 means the
  score is stored, and once the lock is released every request succeeds;
* the database file moved away by an operator and moved back: ``/readyz`` is not ready
  from its first check after the move and ready again after, no route ever answers 500,
  and requests succeed again without a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

#: the acceptance bounds of issue 19
HEALTH_BOUND_S = 0.050
HEALTH_CEILING_S = 0.500
SCORE_BOUND_S = 2.0

_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")  # the write lock (WAL: readers go on)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


@contextmanager
def write_lock_held(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the SQLite write lock of ``path`` for ``seconds`` from when
    this enters; the block runs meanwhile, and leaving waits for the release."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path), str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        first = holder.stdout.readline()
        assert first.strip() == "locked", f"the lock holder failed: {first}{holder.stdout.read()}"
        yield holder
        rest = holder.stdout.read()  # until it exits
        assert holder.wait(timeout=seconds + 30) == 0 and "released" in rest, rest
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def not_stored(db: Path, answers: list[Answer]) -> list[str]:
    """The leads answered 200 whose score is not in the store."""
    ok = {a.lead_id for a in answers if a.status == 200 and a.lead_id}
    stored = {row[0] for row in sqlite_rows(db, "SELECT DISTINCT lead_id FROM scores")}
    return sorted(ok - stored)


def health_problems(answers: list[Answer]) -> list[str]:
    """``/healthz`` answered 200 within 50 ms throughout — on a shared two-core runner
    (other test processes, the load's threads, the server's scoring threads all want the
    CPU), allowing the scheduler 5 % of polls up to :data:`HEALTH_CEILING_S`: an event
    loop blocked by the store shows as seconds, at every poll while the fault lasts."""
    late = [a for a in answers if a.status != 200 or a.elapsed > HEALTH_BOUND_S]
    worst = max(answers, key=lambda a: a.elapsed)
    if (
        len(late) <= len(answers) // 20
        and worst.elapsed <= HEALTH_CEILING_S
        and all(a.status == 200 for a in answers)
    ):
        return []
    return [
        f"/healthz: {len(late)} of {len(answers)} polls not 200 within "
        f"{HEALTH_BOUND_S * 1000:.0f} ms (worst: {worst}; first: {late[0]})"
    ]


def lock_scenario(
    demo: Demo,
    serve: Callable[..., Server],
    tmp_path: Path,
    *,
    hold_s: float,
    threads: int,
    pause: float,
) -> None:
    db = tmp_path / "leadscore.db"
    server = serve(f"sqlite:///{db}")
    problems: list[str] = []
    with server.client() as client:
        warm = [score(client, f"warm-{i}", demo.leads[i]) for i in range(5)]
    problems += [f"before the lock: {a}" for a in warm if a.status != 200]

    health = Poller(server, "/healthz", interval=0.1)
    health.start()
    with write_lock_held(db, hold_s):
        # the client's timeout is well past the bound: a slow answer is measured, not cut
        load = Load(server, demo.leads, threads=threads, pause=pause, timeout=10.0,
                    prefix="locked").start()  # fmt: skip
    during = load.finish()
    # the lock is released: every request succeeds, at once
    with server.client() as client:
        after = [score(client, f"after-{i}", demo.leads[i % len(demo.leads)]) for i in range(20)]
        after.append(call(client, "GET", "/v1/leads/warm-0"))
        after.append(call(client, "GET", "/readyz"))
    polls = health.finish()

    for answer in during:
        problems += service_error_problems(answer)
        if answer.elapsed > SCORE_BOUND_S:
            problems.append(f"score not answered within {SCORE_BOUND_S} s: {answer}")
    problems += [f"after the release: {a}" for a in after if a.status != 200]
    problems += health_problems(polls)
    time.sleep(1.0)  # a score answered 200 and queued for writing has had time to land
    missing = not_stored(db, during + after)
    if missing:
        problems.append(f"{len(missing)} scores answered 200 but not stored: {missing[:5]}")
    assert during, "no score was sent while the lock was held"
    assert not problems, (
        f"write lock held {hold_s} s — during: {summary(during)}; after: {summary(after)}\n"
        + "\n".join(problems[:40])
    )


def test_write_lock_held_10s(demo: Demo, serve: Callable[..., Server], tmp_path: Path) -> None:
    lock_scenario(demo, serve, tmp_path, hold_s=10, threads=4, pause=0.05)


def test_write_lock_held_40s_past_the_old_busy_timeout(
    demo: Demo, serve: Callable[..., Server], tmp_path: Path
) -> None:
    lock_scenario(demo, serve, tmp_path, hold_s=40, threads=2, pause=0.5)


def test_database_moved_away_and_back(
    demo: Demo, serve: Callable[..., Server], tmp_path: Path
) -> None:
    db = tmp_path / "leadscore.db"
    server = serve(f"sqlite:///{db}")
    problems: list[str] = []
    with server.client() as client:
        before = [score(client, f"before-{i}", demo.leads[i]) for i in range(5)]
    problems += [f"before the move: {a}" for a in before if a.status != 200]

    ready = Poller(server, "/readyz", interval=0.1)
    pollers = [
        ready,
        Poller(server, "/healthz", interval=0.1),
        Poller(server, "/v1/leads/before-0", interval=0.2),
        Poller(server, "/v1/leads?segment=hot", interval=0.3),
    ]
    for poller in pollers:
        poller.start()
    load = Load(server, demo.leads, threads=2, pause=0.05, prefix="moving").start()
    time.sleep(1.0)
    moved = tmp_path / "moved-away.db"
    os.rename(db, moved)  # what an operator does: the .db file only
    t_moved = time.monotonic()
    time.sleep(2.5)
    recreated = db.exists()
    if recreated:  # put it aside: the original goes back in its place
        os.rename(db, tmp_path / "recreated.db")
    os.rename(moved, db)
    t_back = time.monotonic()
    time.sleep(2.5)
    during = load.finish()
    answers = {poller.path: poller.finish() for poller in pollers}
    with server.client() as client:
        after = [score(client, f"after-{i}", demo.leads[i]) for i in range(20)]
        after += [call(client, "GET", path) for path in ("/v1/leads/before-0", "/readyz")]

    if recreated:
        problems.append("a new, empty database file was made in the moved file's place")
    everything = during + after + [a for p in pollers[1:] for a in answers[p.path]]
    for answer in everything:
        if answer.status is None or (answer.status >= 500 and answer.status != 503):
            problems.append(f"not an answer, or a 5xx other than 503: {answer}")
    for answer in during:
        problems += service_error_problems(answer)
    problems += [f"after the move back: {a}" for a in after if a.status != 200]

    checks = answers["/readyz"]
    ahead = [a for a in checks if a.started + a.elapsed < t_moved]
    # a probe counts as "while away" only if it was answered before the file came back:
    # one sent just before the move back may be read by the server after it (under load
    # a request waits milliseconds for its turn) and rightly answer ready
    away = [a for a in checks if t_moved <= a.started and a.started + a.elapsed < t_back]
    back = [a for a in checks if a.started >= t_back]
    problems += [f"/readyz neither ready nor not ready: {a}" for a in checks
                 if a.status not in (200, 503)]  # fmt: skip
    problems += [f"/readyz before the move: {a}" for a in ahead if a.status != 200]
    if not away or away[0].status != 503:
        problems.append(f"/readyz not 503 at its first check after the move: {away[:1]}")
    problems += [f"/readyz while moved away: {a}" for a in away if a.status != 503]
    settled = [a for a in back if a.started >= t_back + 1.0]
    if not settled or any(a.status != 200 for a in settled):
        problems.append(
            "/readyz not ready again 1 s after the move back: "
            + "; ".join(str(a) for a in back if a.status != 200)[:500]
        )
    problems += [f"/healthz: {a}" for a in answers["/healthz"] if a.status != 200][:5]
    # reads and scores: 200 or 503 JSON while the file is away, 200 before and once it
    # has been back for a second
    for answer in answers["/v1/leads/before-0"] + answers["/v1/leads?segment=hot"]:
        problems += service_error_problems(answer)
    for answer in everything:
        done_before = answer.started + answer.elapsed < t_moved
        if answer.status != 200 and (done_before or answer.started >= t_back + 1.0):
            problems.append(f"not 200 before the move or 1 s after the move back: {answer}")
    missing = not_stored(db, before + during + after)
    if missing:
        problems.append(f"{len(missing)} scores answered 200 but not stored: {missing[:5]}")
    assert not problems, (
        f"database moved away — scores: {summary(during)}; after: {summary(after)}; "
        f"/readyz: {summary(checks)}\n" + "\n".join(problems[:40])
    )
