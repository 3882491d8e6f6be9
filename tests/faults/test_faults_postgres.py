"""A PostgreSQL store whose connections are cut under load (issue 19): the server's
backends terminated with ``pg_terminate_backend`` while clients post scores, as a
database restart or failover does. No 500, at most the requests in flight at the cut
answer 503 (JSON, ``Retry-After``), and every request afterwards succeeds."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from faults.conftest import (
    Demo,
    Load,
    PgStore,
    Poller,
    Server,
    call,
    score,
    service_error_problems,
    summary,
)

pytestmark = pytest.mark.faults

THREADS = 4
#: a failed request must have been in flight within this long of a cut
SLACK_S = 0.5


def test_connections_terminated_under_load(
    pg_store: PgStore, demo: Demo, serve: Callable[..., Server]
) -> None:
    server = serve(pg_store.url)
    problems: list[str] = []
    with server.client() as client:
        warm = [score(client, f"warm-{i}", demo.leads[i]) for i in range(5)]
    problems += [f"before the cut: {a}" for a in warm if a.status != 200]

    pollers = [Poller(server, "/healthz"), Poller(server, "/readyz", interval=0.2)]
    for poller in pollers:
        poller.start()
    load = Load(server, demo.leads, threads=THREADS, prefix="pg").start()
    cuts: list[tuple[float, float, int]] = []
    for _ in range(2):
        time.sleep(1.5)
        t0 = time.monotonic()
        killed = pg_store.terminate()
        cuts.append((t0, time.monotonic(), killed))
    time.sleep(1.5)
    during = load.finish()
    polled = [a for poller in pollers for a in poller.finish()]
    with server.client() as client:
        after = [score(client, f"after-{i}", demo.leads[i]) for i in range(20)]
        after += [call(client, "GET", p) for p in ("/v1/leads/warm-0", "/readyz")]

    assert sum(killed for *_, killed in cuts) > 0, "no connection of the server was terminated"
    for answer in during:
        problems += service_error_problems(answer)
    failed = [a for a in during if a.status != 200]
    if len(failed) > THREADS * len(cuts):
        problems.append(
            f"{len(failed)} scores failed: more than the {THREADS} in flight at each of "
            f"{len(cuts)} cuts"
        )
    for answer in failed:
        begun, ended = answer.started, answer.started + answer.elapsed
        if not any(begun - SLACK_S <= t1 and t0 <= ended + SLACK_S for t0, t1, _ in cuts):
            problems.append(f"failed, though not in flight at a cut: {answer}")
    for answer in polled:
        if answer.status not in (200, 503):
            problems.append(f"{answer.path}: {answer}")
    problems += [f"after the cuts: {a}" for a in after if a.status != 200]
    ok = {a.lead_id for a in during + after if a.status == 200 and a.lead_id}
    stored = {lead for (lead,) in pg_store.rows("SELECT DISTINCT lead_id FROM scores")}
    missing = sorted(ok - stored)
    if missing:
        problems.append(f"{len(missing)} scores answered 200 but not stored: {missing[:5]}")
    assert not problems, (
        f"cuts (connections terminated): {[k for *_, k in cuts]}; scores: {summary(during)}; "
        f"after: {summary(after)}\n" + "\n".join(problems[:40])
    )
