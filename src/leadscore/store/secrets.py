"""Secrets the store keeps, encrypted at rest: :func:`seal` before writing, :func:`reveal`
after reading (the webhooks' signing secrets, :mod:`leadscore.store.webhooks`).

A sealed secret is ``fernet:`` and a Fernet token (AES-128-CBC and HMAC-SHA256, from
:mod:`cryptography`): the database alone, a copy or a backup of it, or a dashboard user
reading its tables, does not give the secret away. Text without that prefix is a secret
stored in plain text before secrets were sealed, and is read as it is.

The key, first found wins:

1. ``LEADSCORE_SECRET_KEY``: a Fernet key (``leadscore.store.secrets.new_key()`` makes
   one), or any text of at least 32 characters (hashed into one). Several, separated by
   commas, rotate keys: the first seals, every one opens. Every process of a deployment
   on PostgreSQL, or on several hosts, needs the same.
2. ``LEADSCORE_SECRET_KEY_FILE``: a file holding such a key, created on first use.
3. A key file made on first use, mode 0600: beside a SQLite store, its name and ``.key``
   (``leadscore.db`` → ``leadscore.db.key``); for PostgreSQL
   ``$XDG_CONFIG_HOME/leadscore/secret.key`` (default ``~/.config``) of the user running
   the process; an in-memory store uses a key that lives as long as the process.

:func:`reveal` tries every key this process knows (the ones above, and the key files
beside every SQLite store it opened). A secret none of them opens is logged once and
revealed as a random value, so deliveries are signed with a key no receiver accepts
rather than scoring failing: set the key it was sealed with, or add the webhook again.

Example
-------
>>> sealed = seal("s3cret", "sqlite://")
>>> sealed.startswith("fernet:"), "s3cret" in sealed
(True, False)
>>> reveal(sealed), reveal("an old plain-text secret")
('s3cret', 'an old plain-text secret')
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets as random_secrets
import threading
from functools import lru_cache
from pathlib import Path

from leadscore.private_files import create_private_file
from leadscore.store.db import STORE_FILES, is_memory_url, parse_url
from leadscore.store.errors import StoreError

#: what a sealed secret starts with
PREFIX = "fernet:"
#: the key(s), comma-separated (the first seals)
KEY_ENV = "LEADSCORE_SECRET_KEY"
#: a file holding the key, created on first use
KEY_FILE_ENV = "LEADSCORE_SECRET_KEY_FILE"
#: shortest text accepted as a key that is not a Fernet key
MIN_KEY_TEXT = 32

log = logging.getLogger(__name__)
_lock = threading.Lock()
_memory_key: list[bytes] = []  # the in-memory stores' key, made on first use
_unreadable: set[str] = set()  # sealed secrets already logged as unreadable
_opened: dict[str, str] = {}  # sealed → plain text: the scoring path decrypts a secret once


def new_key() -> str:
    """A new random key, as ``LEADSCORE_SECRET_KEY`` or a key file holds it.

    Example
    -------
    >>> len(new_key())
    44
    """
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def seal(secret: str, url: str) -> str:
    """``secret`` encrypted with the key of the store at ``url`` (see the module
    docstring); the key file is created if it is the one and missing."""
    from cryptography.fernet import Fernet

    key = _keys_from_env(os.environ.get(KEY_ENV, ""))
    fernet = Fernet(key[0] if key else _own_key(url))
    return PREFIX + fernet.encrypt(secret.encode("utf-8")).decode("ascii")


def reveal(stored: str) -> str:
    """The secret ``stored`` holds: opened with a key of this process if sealed, as it is
    if not. Never raises (see the module docstring for a secret no key opens)."""
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        return stored
    try:
        return _open(stored)
    except ValueError:
        if stored not in _unreadable:
            _unreadable.add(stored)
            log.error(
                "a webhook secret cannot be decrypted with the keys of this process "
                "(%s, %s, or the key files beside the stores it opened): its deliveries "
                "will not verify. Set the key it was sealed with, or add the webhook again.",
                KEY_ENV,
                KEY_FILE_ENV,
            )
        return random_secrets.token_urlsafe(32)


def key_file(url: str) -> Path | None:
    """Where the key of the store at ``url`` is kept when ``LEADSCORE_SECRET_KEY`` is not
    set (``None``: an in-memory store, whose key lives in the process).

    Example
    -------
    >>> key_file("sqlite:////srv/leadscore/leadscore.db")
    PosixPath('/srv/leadscore/leadscore.db.key')
    """
    if os.environ.get(KEY_FILE_ENV):
        return Path(os.environ[KEY_FILE_ENV]).expanduser().absolute()
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _user_key_file()
    if is_memory_url(parsed):
        return None
    return _beside(Path(str(parsed.database)).expanduser().absolute())


def _beside(database: Path) -> Path:
    return database.with_name(database.name + ".key")


def _user_key_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config).expanduser().absolute() / "leadscore" / "secret.key"


# ---------------------------------------------------------------------------- keys


@lru_cache(maxsize=8)
def _keys_from_env(text: str) -> tuple[bytes, ...]:
    return tuple(_as_key(part.strip(), KEY_ENV) for part in text.split(",") if part.strip())


def _as_key(text: str, where: str) -> bytes:
    """A Fernet key from ``text``: the key itself, or the hash of a long enough text."""
    from cryptography.fernet import Fernet

    try:
        Fernet(text.encode("ascii"))
        return text.encode("ascii")
    except (ValueError, UnicodeEncodeError):
        pass
    if len(text) < MIN_KEY_TEXT:
        raise StoreError(
            f'{where} must be a Fernet key (make one with `python -c "from '
            f'leadscore.store.secrets import new_key; print(new_key())"`) or a text of at '
            f"least {MIN_KEY_TEXT} characters"
        )
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("utf-8")).digest())


def _own_key(url: str) -> bytes:
    """The key of the store at ``url`` when none is configured: its key file (created
    if missing) or the process's in-memory key."""
    path = key_file(url)
    if path is None:
        with _lock:
            if not _memory_key:
                _memory_key.append(new_key().encode("ascii"))
            return _memory_key[0]
    key = _read_key(path)
    if key is None:
        _create_key_file(path)
        key = _read_key(path)
    if key is None:
        raise StoreError(f"cannot read the secret key file {path}")
    return key


def _read_key(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the secret key file {path}: {exc.strerror}") from None
    return _as_key(text, f"the key in {path}") if text else None


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` (mode 0600) unless another process does first: the key
    goes to a private temporary file that is then linked into place, so a reader never
    sees a half-written key and two writers never replace each other's."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{random_secrets.token_hex(4)}")
        create_private_file(temporary)
        try:
            temporary.write_text(new_key() + "\n", encoding="ascii")
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process made it: use theirs
            except OSError:  # a file system without hard links
                if not path.exists():
                    os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the secret key file {path}: {exc}") from None


def _known_keys() -> list[bytes]:
    """Every key this process can use to open a secret, the configured ones first."""
    try:
        keys = list(_keys_from_env(os.environ.get(KEY_ENV, "")))
    except StoreError:
        keys = []  # a malformed key seals nothing either (seal says why)
    paths = [_beside(p) for p in sorted(STORE_FILES)] + [_user_key_file()]
    if os.environ.get(KEY_FILE_ENV):
        paths.insert(0, Path(os.environ[KEY_FILE_ENV]).expanduser().absolute())
    for path in dict.fromkeys(paths):
        key = _cached_key(path)
        if key is not None:
            keys.append(key)
    keys.extend(_memory_key)
    return keys


def _cached_key(path: Path) -> bytes | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    try:
        return _key_at(path, stat.st_mtime_ns, stat.st_size)
    except StoreError:
        return None


@lru_cache(maxsize=64)
def _key_at(path: Path, _mtime_ns: int, _size: int) -> bytes | None:
    return _read_key(path)


def _open(stored: str) -> str:
    """The plain text of a sealed secret; ValueError when no known key opens it."""
    if stored in _opened:
        return _opened[stored]
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet

    keys = _known_keys()
    if not keys:
        raise ValueError("no key")
    try:
        plain = MultiFernet([Fernet(k) for k in keys]).decrypt(stored[len(PREFIX) :])
    except InvalidToken:
        raise ValueError("no key opens it") from None
    text = plain.decode("utf-8")
    with _lock:
        if len(_opened) > 4096:
            _opened.clear()
        _opened[stored] = text
    return text
