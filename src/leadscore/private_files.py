"""Files only their owner may read: the store's databases, webhook secrets, signing keys.

Kept apart from the store so that what writes such a file (the model signer, the secrets
store, the store's engine) needs only this, not the database layer's imports.
"""

from __future__ import annotations

import os


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty and readable and writable by its owner only (mode 0600),
    unless it exists (then it is left as it is); True when this call created it.

    For the files that hold scores, webhook secrets, models' history or keys: made 0600
    from the start (never readable by others for an instant, whatever the umask). SQLite
    gives the ``-wal``, ``-shm`` and ``-journal`` files of a database the mode of the
    database file, so they are 0600 too.

    Example
    -------
    >>> create_private_file("private.db"), oct(os.stat("private.db").st_mode & 0o777)
    (True, '0o600')
    >>> create_private_file("private.db")
    False
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        if hasattr(os, "fchmod"):  # a umask can only take bits away; make it exactly 0600
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return True
