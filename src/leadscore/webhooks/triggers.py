"""When a new score notifies a webhook, and what the notification says (pure functions).

Two kinds of trigger at scoring time:

* ``hot`` — the lead crossed into the hot segment: it is hot now and was not before
  (or had no score yet). A lead that stays hot does not trigger again.
* ``jump`` — the score rose by at least ``min_jump`` points (0–100 scale) since the lead's
  previous score, e.g. 30 → 90 overnight. A first score is not a jump.

A third kind, ``moved``, is not fired by a score: a scheduled run over a period
(:mod:`leadscore.monitor.alerts`) queues a ``lead.moved`` for each lead whose score moved
by enough points, up or down, with the move's causes and reasons.

One score sends one delivery per webhook even when both fire (30 → 90 into hot): its
``event`` is ``lead.hot`` (the stronger news) and ``triggers`` lists both.

The scoring flow applies the rule (:mod:`leadscore.live.outbox`) and queues the deliveries
in the score's store transaction.

A sales override in force pins the lead's segment, so its scores never fire ``hot`` (an
excluded lead's fire nothing); setting or clearing an override that turns the lead hot
fires one ``lead.hot`` of its own (:func:`override_payload`, :mod:`leadscore.live.overrides`).
Payloads of an overridden lead carry ``overridden: true``, the override's segment as
``segment`` and the model's as ``model_segment``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

#: the trigger kinds a webhook can subscribe to (the store checks subscriptions with it)
from leadscore.store.overrides import OverrideRecord
from leadscore.store.records import WEBHOOK_KINDS, ScoreRecord

HOT, JUMP, MOVED = WEBHOOK_KINDS
#: the segment whose entry triggers ``hot``
HOT_SEGMENT = "hot"


def triggered_kinds(
    *,
    previous_segment: str | None,
    previous_score_100: int | None,
    segment: str,
    score_100: int,
    kinds: Collection[str] = WEBHOOK_KINDS,
    min_jump: int = 30,
) -> tuple[str, ...]:
    """The trigger kinds (subset of ``kinds``, in :data:`WEBHOOK_KINDS` order) that a new
    score fires; ``previous_*`` are ``None`` when the lead had no score before.

    Example
    -------
    >>> triggered_kinds(previous_segment="cold", previous_score_100=30,
    ...                 segment="hot", score_100=90)
    ('hot', 'jump')
    >>> triggered_kinds(previous_segment="hot", previous_score_100=80,
    ...                 segment="hot", score_100=95)
    ()
    >>> triggered_kinds(previous_segment=None, previous_score_100=None,
    ...                 segment="hot", score_100=70, kinds=["jump"])
    ()
    """
    fired: list[str] = []
    if HOT in kinds and segment == HOT_SEGMENT and previous_segment != HOT_SEGMENT:
        fired.append(HOT)
    if (
        JUMP in kinds
        and previous_score_100 is not None
        and score_100 - previous_score_100 >= min_jump
    ):
        fired.append(JUMP)
    return tuple(fired)


def webhook_payload(
    triggers: Collection[str],
    *,
    lead_id: str,
    score: float,
    score_100: int,
    segment: str,
    previous_score_100: int | None,
    previous_segment: str | None,
    model_version: str,
    scored_at: datetime,
    reasons: list[Any] | None,
    extra: Mapping[str, Any] | None = None,
    override: OverrideRecord | None = None,
) -> dict[str, Any]:
    """The JSON body sent to a webhook for a score that fired ``triggers``.

    ``extra`` fields (e.g. the lead's name) are added but never replace the standard ones.
    With the lead's ``override`` in force, ``segment`` is the override's (see
    :func:`override_fields`).

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> body = webhook_payload(("hot", "jump"), lead_id="L1", score=0.9, score_100=90,
    ...     segment="hot", previous_score_100=30, previous_segment="cold",
    ...     model_version="4", scored_at=datetime(2025, 1, 1, tzinfo=UTC), reasons=None)
    >>> body["event"], body["triggers"], body["scored_at"]
    ('lead.hot', ['hot', 'jump'], '2025-01-01T00:00:00+00:00')
    """
    if not triggers:
        raise ValueError("a webhook payload needs at least one trigger")
    kind = HOT if HOT in triggers else next(iter(triggers))
    standard: dict[str, Any] = {
        "event": f"lead.{kind}",
        "triggers": [k for k in WEBHOOK_KINDS if k in triggers],
        "lead_id": lead_id,
        "score": score,
        "score_100": score_100,
        "segment": segment,
        "previous_score_100": previous_score_100,
        "previous_segment": previous_segment,
        "model_version": model_version,
        "scored_at": scored_at.isoformat(),
        "reasons": reasons,
    }
    if override is not None:
        standard.update(override_fields(override, segment))
    return {**(extra or {}), **standard}


def override_fields(override: OverrideRecord | None, model_segment: str | None) -> dict[str, Any]:
    """What a payload says of a lead's override: ``segment`` (the override's, else the
    model's), ``model_segment``, ``overridden`` and the override (segment, reason, author,
    since, until) or None.

    Example
    -------
    >>> override_fields(None, "warm")
    {'segment': 'warm', 'model_segment': 'warm', 'overridden': False, 'override': None}
    """
    if override is None:
        return {"segment": model_segment, "model_segment": model_segment, "overridden": False,
                "override": None}  # fmt: skip
    return {
        "segment": override.segment,
        "model_segment": model_segment,
        "overridden": True,
        "override": {
            "segment": override.segment,
            "reason": override.reason,
            "author": override.author,
            "since": override.created_at.isoformat(),
            "until": None if override.until is None else override.until.isoformat(),
        },
    }


def override_payload(
    *,
    lead_id: str,
    previous_segment: str | None,
    override: OverrideRecord | None,
    latest: ScoreRecord | None,
) -> dict[str, Any]:
    """The ``lead.hot`` body of an override set or cleared that turned the lead hot
    (from ``previous_segment``, what the lead counted as before): the model's latest
    score (None without one) and :func:`override_fields`.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> pin = OverrideRecord(1, "L1", "hot", "VIP referral", "maria",
    ...                      datetime(2026, 1, 5, tzinfo=UTC), None, None, None)
    >>> body = override_payload(lead_id="L1", previous_segment="warm", override=pin,
    ...                         latest=None)
    >>> body["event"], body["segment"], body["overridden"], body["override"]["reason"]
    ('lead.hot', 'hot', True, 'VIP referral')
    """
    return {
        "event": f"lead.{HOT}",
        "triggers": [HOT],
        "lead_id": lead_id,
        "score": None if latest is None else latest.score,
        "score_100": None if latest is None else latest.score_100,
        "previous_score_100": None if latest is None else latest.score_100,
        "previous_segment": previous_segment,
        "model_version": None if latest is None else latest.model_version,
        "scored_at": None if latest is None else latest.scored_at.isoformat(),
        "reasons": None if latest is None else latest.reasons,
        **override_fields(override, None if latest is None else latest.segment),
    }
