"""Who vouches for a model folder: its metadata signed with a key kept outside it.

Loading a model unpickles ``model.joblib`` and ``scorer.bin``, and unpickling runs code.
The SHA-256 checksums in ``metadata.json`` prove the files are the ones saved with it, not
who saved them: anyone who can write the folder (or the registry's artefact store) can
write a matching checksum. So the metadata — checksums included — is signed with HMAC-SHA256
under a key that is not in the folder or the registry, and a model whose signature does not
verify is refused before anything is unpickled.

The key, first found wins:

1. ``LEADSCORE_SIGNING_KEY``: the key itself (at least 32 characters); several separated by
   commas to rotate (the first signs, all verify);
2. ``LEADSCORE_SIGNING_KEY_FILE``: a file holding one, made (mode 0600) on first signing;
3. ``$XDG_CONFIG_HOME/leadscore/signing.key`` (default ``~/.config``), made on first signing.

Machines that train and machines that serve share the key (the environment variable, or the
file copied with mode 0600). ``LEADSCORE_VERIFY_SIGNATURES=false`` turns the check off, for
an operator who vouches for the folders another way; ``leadscore models sign FOLDER`` signs
a folder saved by an earlier version or under another key, after checking its checksums.

Example
-------
>>> meta = {"format": 1, "sha256": "ab" * 32}
>>> meta["signature"] = sign(meta)
>>> check_signature(Path("model"), meta)  # no error: signed under this process's key
>>> meta["sha256"] = "cd" * 32
>>> check_signature(Path("model"), meta)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
leadscore.errors.ArtifactError: model fails its signature check: its metadata was changed...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from leadscore.errors import ArtifactError
from leadscore.jsonutil import jsonable
from leadscore.private_files import create_private_file

KEY_ENV = "LEADSCORE_SIGNING_KEY"
KEY_FILE_ENV = "LEADSCORE_SIGNING_KEY_FILE"
VERIFY_ENV = "LEADSCORE_VERIFY_SIGNATURES"
ALGORITHM = "hmac-sha256"
#: shortest key text accepted: an HMAC key shorter than its hash's block gives away strength
MIN_KEY_CHARS = 32


def default_key_file() -> Path:
    """``$XDG_CONFIG_HOME/leadscore/signing.key``, else ``~/.config/leadscore/signing.key``."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "leadscore" / "signing.key"


def _key_file() -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or default_key_file()).expanduser()


def _read_key_file(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ArtifactError(f"cannot read the model signing key {path}: {exc}") from None
    if len(text) < MIN_KEY_CHARS:
        raise ArtifactError(
            f"the model signing key in {path} is shorter than {MIN_KEY_CHARS} characters"
        )
    return text.encode()


def signing_keys(*, create: bool = False) -> list[bytes]:
    """The keys this process signs with (the first) and verifies with (all); with
    ``create``, the key file is made when no key exists yet."""
    configured = os.environ.get(KEY_ENV, "").strip()
    if configured:
        keys = [k.strip() for k in configured.split(",") if k.strip()]
        short = [k for k in keys if len(k) < MIN_KEY_CHARS]
        if short:
            raise ArtifactError(
                f"{KEY_ENV} holds a key shorter than {MIN_KEY_CHARS} characters; make one "
                'with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return [k.encode() for k in keys]
    path = _key_file()
    key = _read_key_file(path)
    if key is None and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not create_private_file(path):  # another process made it first: its key
            return signing_keys()
        text = secrets.token_urlsafe(48)
        path.write_text(text + "\n", encoding="utf-8")
        key = text.encode()
    return [key] if key is not None else []


def key_id(key: bytes) -> str:
    """A short public name of a key (not the key): which key signed a folder."""
    return hashlib.sha256(b"leadscore-signing-key:" + key).hexdigest()[:12]


def _payload(meta: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in meta.items() if k != "signature"}
    return json.dumps(jsonable(unsigned), sort_keys=True, separators=(",", ":")).encode()


def sign(meta: dict[str, Any]) -> dict[str, str]:
    """The ``signature`` entry of ``meta`` (everything in it but a previous signature),
    under this process's signing key (made on first use)."""
    key = signing_keys(create=True)[0]
    value = hmac.new(key, _payload(meta), hashlib.sha256).hexdigest()
    return {"algorithm": ALGORITHM, "key_id": key_id(key), "value": value}


def verification_on() -> bool:
    """False only when the operator turned it off (``LEADSCORE_VERIFY_SIGNATURES=false``)."""
    return os.environ.get(VERIFY_ENV, "true").strip().lower() not in ("0", "false", "no", "off")


def check_signature(directory: Path, meta: dict[str, Any]) -> None:
    """Refuse ``directory`` unless ``meta`` is signed under a key this process holds."""
    if not verification_on():
        return
    how = (
        f"sign it with `leadscore models sign {directory}` if you trust it, share the signing "
        f"key of the machine that trained it ({KEY_ENV} or {KEY_FILE_ENV}), or set "
        f"{VERIFY_ENV}=false to load models without this check"
    )
    signature = meta.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise ArtifactError(f"{directory} is not a signed leadscore model: {how}.")
    keys = signing_keys()
    if not keys:
        raise ArtifactError(f"{directory} is signed, but this machine has no signing key: {how}.")
    payload = _payload(meta)
    for key in keys:
        expected = hmac.new(key, payload, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, str(signature.get("value", ""))):
            return
    known = {key_id(k) for k in keys}
    reason = (
        "its metadata was changed after signing"
        if signature.get("key_id") in known
        else f"it was signed with another key ({signature.get('key_id')})"
    )
    raise ArtifactError(
        f"{directory} fails its signature check: {reason}. Refusing to load it; {how}."
    )
