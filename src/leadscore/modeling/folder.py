"""A saved model folder: its files, its metadata, and the checks that refuse to load one
that was tampered with or built by incompatible libraries.

:meth:`LeadModel.save <leadscore.modeling.model.LeadModel.save>` writes ``model.joblib``
(the pickle), ``evaluation.parquet`` and ``importance.csv`` (what reports read), then
``metadata.json`` last: the format, the model file's SHA-256, the versions of the
libraries its pickle depends on, and a signature over all of it
(:mod:`leadscore.modeling.signing`). :func:`read_trusted_metadata` is the gate every
loader passes before it unpickles anything.

Example
-------
>>> _ = model.save("model/")
>>> meta = read_metadata(Path("model/"))
>>> meta["format"] == ARTIFACT_FORMAT, meta["model"]
(True, 'logreg_l2')
"""

from __future__ import annotations

import hashlib
import json
import platform
from functools import cache
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from leadscore.errors import ArtifactError, LeadscoreError
from leadscore.jsonutil import jsonable
from leadscore.modeling.families import FAMILIES
from leadscore.modeling.signing import check_signature, sign

ARTIFACT_FORMAT = 1
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
#: out-of-fold scores of the training leads (y, raw, score), for evaluation reports
EVALUATION_FILE = "evaluation.parquet"
IMPORTANCE_FILE = "importance.csv"
#: libraries whose pickles must match on major.minor to load safely: the array and frame
#: libraries, scikit-learn, and each model family's own (``ModelFamily.library``)
PINNED_LIBRARIES = (
    "scikit-learn",
    *dict.fromkeys(f.library for f in FAMILIES.values() if f.library),
    "numpy",
    "pandas",
)


#: libraries published under more than one distribution name (the same package inside)
_DISTRIBUTIONS = {"xgboost": ("xgboost", "xgboost-cpu")}


def installed_distribution(library: str) -> tuple[str, str] | None:
    """The distribution that installed ``library`` and its version, e.g. ``("xgboost-cpu",
    "3.2.0")`` for ``xgboost`` (the CPU-only build: the same package, another name);
    None when it is not installed.

    Example
    -------
    >>> installed_distribution("numpy")[0]
    'numpy'
    """
    for name in _DISTRIBUTIONS.get(library, (library,)):
        try:
            return name, importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return None


@cache  # installed packages do not change under a running process; reading them is slow
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("leadscore", *PINNED_LIBRARIES):
        found = installed_distribution(name)
        versions[name] = found[1] if found else "not installed"
    return versions


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tampered(path: Path) -> ArtifactError:
    """The error for a saved file that no longer matches its checksum in the metadata."""
    return ArtifactError(
        f"{path} does not match the checksum in {METADATA_FILE}: the file was modified or "
        "corrupted after saving. Refusing to load it."
    )


def read_metadata(directory: Path) -> dict[str, Any]:
    """A saved model folder's ``metadata.json``, once the folder is known to be a model
    this leadscore can load (its format, and the libraries it was built with)."""
    meta_path, model_path = directory / METADATA_FILE, directory / MODEL_FILE
    if not directory.is_dir():
        raise ArtifactError(f"model directory not found: {directory}")
    if not meta_path.is_file() or not model_path.is_file():
        raise ArtifactError(
            f"{directory} is not a leadscore model: it needs {METADATA_FILE} and {MODEL_FILE}"
        )
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{meta_path} is not valid JSON: {exc}") from None
    if meta.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{directory} was saved in artifact format {meta.get('format')!r}; this leadscore "
            f"reads format {ARTIFACT_FORMAT}. Retrain the model."
        )
    saved = meta.get("libraries", {})
    current = library_versions()
    clashes = [
        f"{lib} {saved[lib]} (installed: {current[lib]})"
        for lib in PINNED_LIBRARIES
        if lib in saved and _major_minor(saved[lib]) != _major_minor(current[lib])
    ]
    if clashes:
        raise ArtifactError(
            f"{directory} was built with different library versions: {', '.join(clashes)}. "
            "Install those versions or retrain the model."
        )
    return meta


def read_trusted_metadata(directory: Path) -> dict[str, Any]:
    """:func:`read_metadata`, and the folder refused unless its metadata is signed under a
    key this process holds (:mod:`leadscore.modeling.signing`): what every loader that
    unpickles the folder's files reads first."""
    meta = read_metadata(directory)
    check_signature(directory, meta)
    return meta


def sign_folder(directory: Path) -> str:
    """Sign a saved model folder under this process's key, once its files match the
    checksums its metadata records (a folder from an earlier version, or signed under
    another key, that its operator vouches for); returns the signing key's id.

    Example
    -------
    >>> folder = model.save("model/")
    >>> len(sign_folder(folder))  # the key's public id
    12
    """
    meta = read_metadata(directory)
    files = [(directory / MODEL_FILE, meta.get("sha256"))]
    scorer = meta.get("scorer")
    if isinstance(scorer, dict) and scorer.get("file"):
        files.append((directory / str(scorer["file"]), scorer.get("sha256")))
    for path, recorded in files:
        if not path.is_file() or file_sha256(path) != recorded:
            raise tampered(path)
    return write_metadata(directory, meta)["key_id"]


def write_metadata(directory: Path, meta: dict[str, Any]) -> dict[str, str]:
    """Write ``metadata.json``, signed, and replaced whole: a service watching the folder
    never reads half of it. Returns the signature written."""
    signature = sign(meta)
    partial = directory / f".{METADATA_FILE}.partial"
    partial.write_text(json.dumps(jsonable({**meta, "signature": signature}), indent=2))
    partial.replace(directory / METADATA_FILE)
    return signature


class EstimatorsLeftOut:
    """In place of the fitted pipeline of a model sent to the scoring service without its
    estimators (:meth:`LeadModel.without_estimators`): any use says so by name."""

    def __init__(self, model: str) -> None:
        self.model = model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # pickle's and copy's probes: plain "not here"
            raise AttributeError(name)
        raise LeadscoreError(
            f"this copy of the {self.__dict__.get('model')} model serves through its compiled "
            f"scorer and was loaded without its fitted estimators (no {name!r}); load the "
            "model folder (LeadModel.load) to score in batch"
        )
