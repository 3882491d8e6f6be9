"""The compiled scorer saved beside a model, so that a service swaps models in milliseconds.

Loading ``model.joblib`` and compiling its :class:`~leadscore.scoring.realtime.scorer.FastScorer`
is work in the interpreter (LightGBM parsing the boosters on every core, then the
compilation; a linear model's compilation is mostly pandas). In a service answering
requests, that work competes with them for the interpreter and the cores, and slows the
requests answered during a swap.

So :meth:`~leadscore.modeling.model.LeadModel.save` compiles the scorer once and writes it
as ``scorer.bin``: the scorer without the fitted estimators it never calls
(:meth:`FastScorer.detached`), pickled with its arrays out of band. Reading it back is
one read into a buffer and an unpickling that wraps the arrays in place, without copying
them: a few milliseconds, most of it outside the interpreter lock.

The file is used only by the code that wrote it (a fingerprint of the scorer's modules)
and only if its checksum, recorded in ``metadata.json``, matches; otherwise the model is
loaded and compiled as before. Families the scorer cannot compile (it calls their
estimators) get no file.

Layout: ``LSCORER1``, an 8-byte little-endian header length, a JSON header (the pickle's
and each buffer's offset and length), then the pickle and the buffers, each at a multiple
of 64 bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import mmap
import pickle
from functools import cache
from pathlib import Path
from typing import Any

from leadscore.errors import ArtifactError
from leadscore.modeling.folder import tampered
from leadscore.modeling.model import LeadModel
from leadscore.scoring.realtime.scorer import FastScorer

SCORER_FILE = "scorer.bin"
MAGIC = b"LSCORER1"
ALIGN = 64
#: the modules whose classes and layout a saved scorer holds: a change in any of them
#: makes older files unusable (they are then compiled again from the model)
SCORER_MODULES = (
    "leadscore.scoring.realtime.scorer",
    "leadscore.scoring.realtime.cleaning",
    "leadscore.scoring.realtime.boosters",
    "leadscore.scoring.realtime.terms",
    "leadscore.scoring.phrases",
    "leadscore.scoring.labels",
    "leadscore.scoring.field_facts",
    "leadscore.scoring.dense",
    "leadscore.scoring.occlusion",
    "leadscore.scoring.bundle",
    "leadscore.scoring.treeshap",
    "leadscore.scoring.treeshap.parse",
    "leadscore.scoring.treeshap.flat",
    "leadscore.scoring.treeshap.blocks",
    "leadscore.scoring.treeshap.kernels",
    "leadscore.scoring.treeshap.pool",
    "leadscore.scoring.treeshap.forest",
    "leadscore.scoring.sweeps",
    "leadscore.scoring.reasons",
    "leadscore.modeling.thresholds",
)


@cache
def code_fingerprint() -> str:
    """A hash of the scorer's modules' source: which code a saved scorer belongs to."""
    digest = hashlib.sha256()
    for name in SCORER_MODULES:
        source = importlib.import_module(name).__file__
        digest.update(Path(str(source)).read_bytes())
    return digest.hexdigest()[:16]


def _padded(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def write_scorer(model: LeadModel, directory: Path, model_sha256: str) -> dict[str, str] | None:
    """Compile ``model``'s scorer and write it to ``directory/scorer.bin``; returns what
    ``metadata.json`` records of it (with the checksum of the ``model.joblib`` it was
    compiled from), or None (and no file) for a family whose scorer calls the estimators
    anyway."""
    target = directory / SCORER_FILE
    scorer = FastScorer(model, warm=False)
    if scorer.needs_estimators:
        target.unlink(missing_ok=True)
        return None
    buffers: list[pickle.PickleBuffer] = []
    pickled = pickle.dumps(scorer.detached(), protocol=5, buffer_callback=buffers.append)
    parts = [memoryview(pickled), *(buffer.raw() for buffer in buffers)]
    spans, offset = [], 0
    for part in parts:
        offset = _padded(offset)
        spans.append((offset, part.nbytes))
        offset += part.nbytes
    header = json.dumps({"spans": spans}).encode()
    start = _padded(len(MAGIC) + 8 + len(header))
    digest = hashlib.sha256()
    partial = directory / f".{SCORER_FILE}.partial"
    try:
        with partial.open("wb") as out:

            def put(chunk: bytes | memoryview) -> None:
                out.write(chunk)
                digest.update(chunk)

            head = MAGIC + len(header).to_bytes(8, "little") + header
            put(head + b"\0" * (start - len(head)))
            position = start
            for (at, length), part in zip(spans, parts, strict=True):
                put(b"\0" * (start + at - position))
                put(part)
                position = start + at + length
        partial.replace(target)  # whole or not at all (a service may be mapping the old one)
    finally:
        partial.unlink(missing_ok=True)
    return {
        "file": SCORER_FILE,
        "sha256": digest.hexdigest(),
        "code": code_fingerprint(),
        "model": model_sha256,
    }


def read_scorer(directory: Path, meta: dict[str, Any]) -> FastScorer | None:
    """The scorer saved in ``directory`` (whose ``metadata.json`` is ``meta``), or None
    where there is none this code can use: none saved, saved by other code, or compiled
    from another ``model.joblib`` than the one the metadata names (then loading the model
    itself checks it). A file that does not match its recorded checksum raises
    :class:`ArtifactError`: the folder was changed after saving."""
    recorded = meta.get("scorer")
    if not isinstance(recorded, dict) or recorded.get("code") != code_fingerprint():
        return None
    if recorded.get("model") != meta.get("sha256"):
        return None
    path = directory / SCORER_FILE
    try:
        with path.open("rb") as handle:
            # mapped copy-on-write: the arrays are wrapped where they lie, writable (as
            # numba's compiled kernels expect), and read from disk outside the lock
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError) as exc:  # (an empty file cannot be mapped: ValueError)
        raise ArtifactError(f"cannot read the compiled scorer {path}: {exc}") from None
    if hashlib.sha256(data).hexdigest() != recorded.get("sha256"):
        raise tampered(path)
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise ArtifactError(f"{path} is not a leadscore compiled scorer")
    size = int.from_bytes(view[len(MAGIC) : len(MAGIC) + 8], "little")
    header = json.loads(bytes(view[len(MAGIC) + 8 : len(MAGIC) + 8 + size]))
    start = _padded(len(MAGIC) + 8 + size)
    (first, length), *rest = header["spans"]
    scorer = pickle.loads(
        view[start + first : start + first + length],
        buffers=[view[start + o : start + o + n] for o, n in rest],
    )
    if not isinstance(scorer, FastScorer):
        raise ArtifactError(f"{path} does not hold a compiled scorer")
    return scorer
