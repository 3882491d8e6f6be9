"""What a promotion changes for the sales team: the change report.

When retraining promotes a model, the open leads are scored by it and set beside what
they scored before: how many change segment (a hot/warm/cold × hot/warm/cold matrix of
counts), the mean and the largest score moves, and the leads that move most. The open
leads are the score store's leads without a recorded outcome, each with its latest
stored score and segment (what the team sees today) and its stored attributes (or, for
a model trained on event features, its stored events); without a store, the leads the
models were judged on, scored by the old champion and by the new one.

The report is kept with the registry version that serves (an MLflow artifact
``change_report.json`` on its run, and a one-line tag ``leadscore.change_report`` on the
version) and read back with :func:`read_change_report`: ``leadscore models show`` and the
dashboard's Models page show it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leadscore.data.events import stored_events_frame
from leadscore.errors import LeadscoreError
from leadscore.jsonutil import write_json

if TYPE_CHECKING:
    from leadscore.lifecycle.registry import Registry
    from leadscore.modeling.model import LeadModel
    from leadscore.store import Store

SEGMENTS = ("hot", "warm", "cold")
#: the leads that move most, listed in a report
TOP_MOVES = 10
ARTIFACT = "change_report.json"
TAG = "leadscore.change_report"


@dataclass
class LeadMove:
    """One lead's score before and after (0–100) and its segments."""

    lead_id: str
    old_score: float
    new_score: float
    old_segment: str
    new_segment: str

    @property
    def move(self) -> float:
        """New score minus old, in points."""
        return round(self.new_score - self.old_score, 1)


@dataclass
class ChangeReport:
    """How the open leads' scores and segments change with a new model.

    ``matrix[old][new]`` counts the leads in segment ``old`` before and ``new`` after;
    moves are in points of the 0–100 score (new − old).
    """

    version: int | None
    previous: str
    source: str
    leads: int
    changed: int
    matrix: dict[str, dict[str, int]]
    mean_move: float
    mean_abs_move: float
    largest_move: float
    top: list[LeadMove] = field(default_factory=list)
    created_at: str = ""

    def summary(self) -> str:
        """One line: how many leads change segment, the mean and largest moves.

        Example
        -------
        >>> old = pd.DataFrame({"lead_id": ["a", "b"], "score": [70.0, 20.0],
        ...                     "segment": ["hot", "warm"]})
        >>> new = pd.DataFrame({"lead_id": ["a", "b"], "score": [40.0, 22.0],
        ...                     "segment": ["warm", "warm"]})
        >>> print(compare_scores(old, new, previous="v1", source="judging leads").summary())
        1 of 2 judging leads change segment (hot→warm 1); mean move -14.0 points (mean size
        16.0), largest -30.0
        """
        moves = ", ".join(
            f"{a}→{b} {n:,}"
            for a in SEGMENTS
            for b in SEGMENTS
            if a != b and (n := self.matrix.get(a, {}).get(b, 0))
        )
        return (
            f"{self.changed:,} of {self.leads:,} {self.source} change segment"
            + (f" ({moves})" if moves else "")
            + f"; mean move {self.mean_move:+.1f} points (mean size {self.mean_abs_move:.1f}), "
            f"largest {self.largest_move:+.1f}"
        )

    def matrix_frame(self) -> pd.DataFrame:
        """The segment matrix as a table: a row per segment before, a column per after."""
        return pd.DataFrame(
            [[self.matrix.get(a, {}).get(b, 0) for b in SEGMENTS] for a in SEGMENTS],
            index=pd.Index([f"was {s}" for s in SEGMENTS], name="before"),
            columns=[f"now {s}" for s in SEGMENTS],
        )

    def top_frame(self) -> pd.DataFrame:
        """The leads that move most: id, old → new score and segment, the move."""
        return pd.DataFrame(
            [{**asdict(m), "move": m.move} for m in self.top],
            columns=["lead_id", "old_score", "new_score", "old_segment", "new_segment", "move"],
        )

    def text(self) -> str:
        """The report as plain text: the summary, the matrix and the biggest moves."""
        lines = [f"Change report (against {self.previous}): {self.summary()}", ""]
        lines.append("before \\ after " + "".join(f"{s:>8}" for s in SEGMENTS))
        for a in SEGMENTS:
            counts = "".join(f"{self.matrix.get(a, {}).get(b, 0):>8,}" for b in SEGMENTS)
            lines.append(f"{a:<15}{counts}")
        if self.top:
            lines += ["", "moving most:"]
            lines += [
                f"  {m.lead_id}: {m.old_score:.0f} ({m.old_segment}) → {m.new_score:.0f} "
                f"({m.new_segment}), {m.move:+.1f}"
                for m in self.top
            ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ChangeReport:
        """The report :meth:`to_dict` wrote."""
        values = dict(values)
        values["top"] = [LeadMove(**m) for m in values.get("top", [])]
        return cls(**values)


def compare_scores(
    old: pd.DataFrame,
    new: pd.DataFrame,
    *,
    previous: str,
    source: str,
    version: int | None = None,
    top: int = TOP_MOVES,
) -> ChangeReport:
    """The change report of two scorings of the same leads.

    ``old`` and ``new`` hold ``lead_id``, ``score`` (0–100) and ``segment``; leads in
    only one of them are left out.

    Example
    -------
    >>> old = pd.DataFrame({"lead_id": ["a", "b", "c"], "score": [70.0, 20.0, 3.0],
    ...                     "segment": ["hot", "warm", "cold"]})
    >>> new = pd.DataFrame({"lead_id": ["a", "b", "c"], "score": [40.0, 22.0, 9.0],
    ...                     "segment": ["warm", "warm", "warm"]})
    >>> report = compare_scores(old, new, previous="v1", source="open leads")
    >>> report.changed, report.matrix["hot"]["warm"], report.largest_move
    (2, 1, -30.0)
    >>> [(m.lead_id, m.move) for m in report.top]
    [('a', -30.0), ('c', 6.0), ('b', 2.0)]
    """
    columns = ["lead_id", "score", "segment"]
    # ids as text on both sides (an empty side has no dtype to agree on)
    both = (
        old[columns]
        .astype({"lead_id": str})
        .merge(new[columns].astype({"lead_id": str}), on="lead_id", suffixes=("_old", "_new"))
    )
    matrix = {a: dict.fromkeys(SEGMENTS, 0) for a in SEGMENTS}
    for (a, b), n in both.groupby(["segment_old", "segment_new"]).size().items():
        matrix.setdefault(str(a), {})[str(b)] = int(n)
    move = (both["score_new"] - both["score_old"]).to_numpy(dtype=float)
    largest = float(move[np.argmax(np.abs(move))]) if len(move) else 0.0
    order = np.lexsort((both["lead_id"].astype(str).to_numpy(), -np.abs(move)))[:top]
    return ChangeReport(
        version=version,
        previous=previous,
        source=source,
        leads=len(both),
        changed=int((both["segment_old"] != both["segment_new"]).sum()),
        matrix=matrix,
        mean_move=round(float(move.mean()), 2) if len(move) else 0.0,
        mean_abs_move=round(float(np.abs(move).mean()), 2) if len(move) else 0.0,
        largest_move=round(largest, 1),
        top=[
            LeadMove(
                lead_id=str(both["lead_id"].iloc[i]),
                old_score=round(float(both["score_old"].iloc[i]), 1),
                new_score=round(float(both["score_new"].iloc[i]), 1),
                old_segment=str(both["segment_old"].iloc[i]),
                new_segment=str(both["segment_new"].iloc[i]),
            )
            for i in order
        ],
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def model_scores(model: LeadModel, features: pd.DataFrame, ids: Any) -> pd.DataFrame:
    """``lead_id``, ``score`` (0–100) and ``segment`` of leads scored by ``model``."""
    p = model.predict_proba(features)[:, 1] if len(features) else np.zeros(0)
    return pd.DataFrame(
        {
            "lead_id": np.asarray(ids, dtype=object).astype(str),
            "score": p * 100,
            "segment": model.cutoffs_.segment(p) if len(p) else np.zeros(0, dtype=object),
        }
    )


def store_report(
    model: LeadModel, store: Store, *, version: int | None = None, top: int = TOP_MOVES
) -> ChangeReport:
    """The change report of the store's open leads (scored, no outcome recorded): their
    latest stored score against ``model``'s score of their stored attributes, or of their
    stored events for a model trained on event features.

    Example (it reads the whole work queue)::

        store_report(LeadModel.load("model/"), Store("sqlite:///leadscore.db")).summary()
    """
    closed = {o.lead_id for o in store.outcomes.all()}
    entries = [e for e in store.scores.queue() if e.lead_id not in closed]
    old = pd.DataFrame(
        {
            "lead_id": [e.lead_id for e in entries],
            "score": [e.score * 100 for e in entries],
            "segment": [e.segment for e in entries],
        }
    )
    rows = pd.DataFrame([e.attributes for e in entries], index=old["lead_id"].to_numpy())
    if getattr(model, "feature_builder_", None) is not None and entries:
        rows = _event_rows(model, store, list(old["lead_id"]), rows)
    for name in model.schema_.names:
        if name not in rows.columns:
            rows[name] = None  # a field the lead never had: scored as missing
    new = model_scores(model, rows.reset_index(drop=True), rows.index)
    versions = sorted({e.model_version for e in entries})
    previous = "stored scores" + (f" (model {', '.join(versions[:3])})" if versions else "")
    return compare_scores(
        old, new, previous=previous, source="open leads", version=version, top=top
    )


def _event_rows(
    model: LeadModel, store: Store, lead_ids: list[str], attributes: pd.DataFrame
) -> pd.DataFrame:
    """Features from each lead's stored events (as the live scorer computes them, as of
    now), its stored attributes filling the fields events do not give."""
    chunks = [stored_events_frame(chunk) for chunk in store.events.for_leads(lead_ids)]
    if not chunks:
        return attributes
    events = pd.concat(chunks, ignore_index=True)
    now = pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))
    features = model.event_features(events, as_of=max(now, events["timestamp"].max()))
    features.index = pd.Index(features["lead_id"].astype(str))  # one row per lead, by id
    return features.reindex(attributes.index).combine_first(attributes)


def save_change_report(registry: Registry, version: int, report: ChangeReport) -> None:
    """Keep the report with a registry version: an artifact on its run, a summary tag.

    Example (it needs the registry's MLflow store)::

        save_change_report(Registry(settings), 4, report)
    """
    client = registry.client
    run_id = client.get_model_version(registry.name, str(version)).run_id
    with tempfile.TemporaryDirectory() as tmp:
        client.log_artifact(run_id, str(write_json(report.to_dict(), Path(tmp) / ARTIFACT)))
    client.set_model_version_tag(registry.name, str(version), TAG, report.summary()[:5000])


def read_change_report(registry: Registry, version: int) -> ChangeReport | None:
    """The change report kept with a version, or ``None`` (no promotion by retraining).

    Example (it needs the registry's MLflow store)::

        report = read_change_report(Registry(settings), 4)
        print(report.text() if report else "no change report")
    """
    client = registry.client
    try:
        run_id = client.get_model_version(registry.name, str(version)).run_id
    except Exception:  # MLflow raises its own types for an unknown version
        raise LeadscoreError(f"{registry.name} has no version {version}") from None
    if not run_id or ARTIFACT not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, ARTIFACT, tmp)
        return ChangeReport.from_dict(json.loads(Path(local).read_text()))
