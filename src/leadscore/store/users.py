"""Dashboard users and sign-in throttling: :class:`UserRepository` (``store.users``).

Passwords are hashed with argon2id (:mod:`argon2`, the OWASP recommendation); only the
hash is stored. A sign-in that fails says the same thing whether the name exists or not,
and takes the same time: an unknown name is checked against a dummy hash. Repeated
failures are slowed down per user name and per client address, in the database (so the
backoff holds across processes and restarts): after :data:`USER_FREE_FAILURES` failures
for a name (:data:`CLIENT_FREE_FAILURES` from one address) each further failure blocks
sign-ins for twice as long as the previous one, up to :data:`MAX_BLOCK_S`.

Transactions: each change is one write transaction; the last admin cannot be demoted or
removed (checked in that transaction). A sign-in first takes its attempt in one write
transaction: the counters of the name and the address are locked (row by row, in a
sorted order), a blocked sign-in stops there, and any other counts as a failure *before*
the password is checked; the password is then checked outside any transaction, and a
success clears the counters (and records the sign-in) in a second one. So parallel
guesses cannot all be checked before the first failure is counted: however many arrive
at once, at most :data:`USER_FREE_FAILURES` passwords of one name (and
:data:`CLIENT_FREE_FAILURES` from one address) are verified before the block starts.

Example
-------
>>> from leadscore.store import Store
>>> store = Store("sqlite://")
>>> _ = store.users.add("alice", "correct horse", "admin")
>>> store.users.login("alice", "wrong password").message
'Wrong user name or password.'
>>> store.users.login("Alice", "correct horse").user.role
'admin'
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from leadscore.store.errors import NotFoundError, StoreError
from leadscore.store.records import ROLES, LoginResult, UserRecord
from leadscore.store.session import Repository
from leadscore.store.tables import LoginThrottle, User, as_utc, utcnow

if TYPE_CHECKING:
    from argon2 import PasswordHasher

#: failed sign-ins for one name before the backoff starts
USER_FREE_FAILURES = 3
#: failed sign-ins from one client address before the backoff starts (several people may
#: share an address, so it is more lenient)
CLIENT_FREE_FAILURES = 10
#: the longest a name or an address is blocked after a failure
MAX_BLOCK_S = 300.0
#: failures older than this are forgotten
FORGET_AFTER = timedelta(minutes=15)
#: shortest password accepted when setting one
MIN_PASSWORD_LENGTH = 8

WRONG_CREDENTIALS = "Wrong user name or password."
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # unknown names are verified against this, so they cost as much time as known ones
    return _hasher().hash("not a password of anyone")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (refused when shorter than 8 characters)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise StoreError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def clean_name(name: Any) -> str:
    """A user name as stored: trimmed and lower-case; refused unless it is 1–64 letters,
    digits or ``. _ @ -`` starting with a letter or digit.

    Example
    -------
    >>> clean_name(" Alice ")
    'alice'
    """
    text = name.strip().lower() if isinstance(name, str) else ""
    if not _NAME.match(text):
        raise StoreError(
            f"a user name is 1–64 letters, digits or . _ @ - (starting with a letter or "
            f"digit), not {name!r}"
        )
    return text


def check_role(role: Any) -> str:
    """``role`` if it is one of :data:`~leadscore.store.records.ROLES`."""
    text = role.strip().lower() if isinstance(role, str) else ""
    if text not in ROLES:
        raise StoreError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return text


def block_seconds(failures: int, free: int) -> float:
    """How long sign-ins are refused after the ``failures``-th failure in a row.

    Example
    -------
    >>> [block_seconds(n, 3) for n in (1, 2, 3, 4, 5, 20)]
    [0.0, 0.0, 1.0, 2.0, 4.0, 300.0]
    """
    if failures < free:
        return 0.0
    return float(min(2.0 ** (failures - free), MAX_BLOCK_S))


def _blocked_message(seconds: float) -> str:
    return (
        "Too many failed sign-ins for this name or from this address: "
        f"try again in {max(1, round(seconds))} s."
    )


class UserRepository(Repository):
    """Dashboard users, their roles and sign-ins (``store.users``).

    Example
    -------
    >>> store.users.add("bob", "s3cret-pass", "viewer").role
    'viewer'
    """

    def add(self, name: str, password: str, role: str = "viewer") -> UserRecord:
        """Create a dashboard user; refused when the name is taken.

        Example
        -------
        >>> store.users.add("bob", "s3cret-pass", "viewer").role
        'viewer'
        """
        name, role = clean_name(name), check_role(role)
        password_hash = hash_password(password)
        now = utcnow()
        with self._write() as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise StoreError(f"there is already a user {name!r}")
            row = User(
                name=name, password_hash=password_hash, role=role, created_at=now, updated_at=now
            )
            session.add(row)
            session.flush()
            return _user(row)

    def get(self, name: str) -> UserRecord | None:
        """The user, or ``None``."""
        try:
            name = clean_name(name)
        except StoreError:
            return None
        with self._read() as session:
            row = session.scalar(select(User).where(User.name == name))
            return None if row is None else _user(row)

    def all(self) -> list[UserRecord]:
        """Every user, by name."""
        with self._read() as session:
            return [_user(row) for row in session.scalars(select(User).order_by(User.name))]

    def _user_row(self, session: Session, name: str) -> User:
        row = session.scalar(select(User).where(User.name == clean_name(name)))
        if row is None:
            raise NotFoundError(f"no user {name!r}")
        return row

    def _check_admin_left(self, session: Session, leaving: User) -> None:
        if leaving.role != "admin":
            return
        admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))
        if (admins or 0) <= 1:
            raise StoreError(f"{leaving.name!r} is the last admin: make another user admin first")

    def set_role(self, name: str, role: str) -> UserRecord:
        """Change a user's role; the last admin cannot be demoted."""
        role = check_role(role)
        with self._write() as session:
            row = self._user_row(session, name)
            if role != row.role:
                self._check_admin_left(session, row)
                row.role, row.updated_at = role, utcnow()
                session.flush()
            return _user(row)

    def set_password(self, name: str, password: str) -> UserRecord:
        """Give a user a new password."""
        password_hash = hash_password(password)
        with self._write() as session:
            row = self._user_row(session, name)
            row.password_hash, row.updated_at = password_hash, utcnow()
            session.flush()
            return _user(row)

    def remove(self, name: str) -> UserRecord:
        """Delete a user; the last admin cannot be removed."""
        with self._write() as session:
            row = self._user_row(session, name)
            self._check_admin_left(session, row)
            record = _user(row)
            session.delete(row)
            return record

    def login(
        self, name: str, password: str, client: str | None = None, now: datetime | None = None
    ) -> LoginResult:
        """Check a sign-in, slowing down repeated failures (see the module docstring).

        ``client`` is the caller's address, when known. While the name or the address is
        blocked the password is not even checked. The attempt is counted as a failure
        before the password is checked, and cleared when it was right.
        """
        now = as_utc(now) if now else utcnow()
        try:
            key_name = clean_name(name)
        except StoreError:
            key_name = str(name).strip().lower()[:64] or "(empty)"
        keys = {f"user:{key_name}": USER_FREE_FAILURES}
        if client:
            keys[f"ip:{client}"] = CLIENT_FREE_FAILURES
        with self._write() as session:
            blocked, wait = self._take_attempt(session, keys, now)
            if blocked:
                return LoginResult(None, _blocked_message(wait), wait)
            user = session.scalar(select(User).where(User.name == key_name))
            user_id = None if user is None else user.id
            password_hash = _dummy_hash() if user is None else user.password_hash
        valid = _verify(password_hash, password if isinstance(password, str) else "")
        if user_id is not None and valid:
            with self._write() as session:
                row = session.get(User, user_id)
                if row is None:  # removed meanwhile
                    return LoginResult(None, WRONG_CREDENTIALS)
                row.last_login_at = now
                if _hasher().check_needs_rehash(row.password_hash):
                    row.password_hash = _hasher().hash(password)
                session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
                session.flush()
                return LoginResult(_user(row))
        message = WRONG_CREDENTIALS
        if wait > 0:
            message += " " + _blocked_message(wait)
        return LoginResult(None, message, wait)

    def _take_attempt(
        self, session: Session, keys: dict[str, int], now: datetime
    ) -> tuple[bool, float]:
        """Lock the counters of ``keys`` and take one attempt, in ``session``'s write
        transaction: ``(True, seconds left)`` when a key is blocked (nothing is counted),
        else ``(False, longest block)`` after counting the attempt as a failure against
        every key (the block it starts holds from now, while the password is checked)."""
        insert = self._db.insert(LoginThrottle).on_conflict_do_nothing(index_elements=["key"])
        session.execute(
            insert, [{"key": k, "failures": 0, "last_failure_at": now} for k in sorted(keys)]
        )
        # sorted: concurrent attempts lock in the same order; FOR UPDATE on PostgreSQL (a
        # SQLite write transaction holds the file lock from its BEGIN IMMEDIATE)
        rows = [session.get(LoginThrottle, k, with_for_update=True) for k in sorted(keys)]
        waits = [
            (row.blocked_until - now).total_seconds()
            for row in rows
            if row is not None and row.blocked_until is not None and row.blocked_until > now
        ]
        if waits:
            return True, max(waits)
        longest = 0.0
        for row in rows:
            assert row is not None
            fresh = row.failures == 0 or now - row.last_failure_at > FORGET_AFTER
            row.failures = 1 if fresh else row.failures + 1
            row.last_failure_at = now
            seconds = block_seconds(row.failures, keys[row.key])
            row.blocked_until = now + timedelta(seconds=seconds) if seconds else None
            longest = max(longest, seconds)
        session.flush()
        return False, longest


def _user(row: User) -> UserRecord:
    return UserRecord(row.id, row.name, row.role, row.created_at, row.last_login_at)
