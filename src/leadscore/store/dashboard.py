"""What the dashboard needs from the score store: users, sign-in throttling, settings
changed in the app, and bulk reads for charts.

:class:`DashboardStore` is a mixin of :class:`~leadscore.store.repository.Store`, kept in
its own module so the API's repository code stays as it was.

Passwords are hashed with argon2id (:mod:`argon2`, the OWASP recommendation); only the
hash is stored. A sign-in that fails says the same thing whether the name exists or not,
and takes the same time: an unknown name is checked against a dummy hash. Repeated
failures are slowed down per user name and per client address, in the database (so the
backoff holds across processes and restarts): after :data:`USER_FREE_FAILURES` failures
for a name (:data:`CLIENT_FREE_FAILURES` from one address) each further failure blocks
sign-ins for twice as long as the previous one, up to :data:`MAX_BLOCK_S`.

Example
-------
>>> store = Store("sqlite://")
>>> _ = store.add_user("alice", "correct horse", "admin")
>>> store.login("alice", "wrong password").message
'Wrong user name or password.'
>>> store.login("Alice", "correct horse").user.role
'admin'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from leadscore.store.db import dumps_json
from leadscore.store.errors import NotFoundError, StoreError
from leadscore.store.models import (
    AppSetting,
    Event,
    LatestScore,
    Lead,
    LoginThrottle,
    Outcome,
    Score,
    User,
    as_utc,
    utcnow,
)
from leadscore.store.records import (
    ROLES,
    LoginResult,
    QueueEntry,
    ScorePoint,
    UserRecord,
)

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


def _user(row: User) -> UserRecord:
    return UserRecord(row.id, row.name, row.role, row.created_at, row.last_login_at)


class DashboardStore:
    """Users, sign-in throttling, dashboard settings and bulk reads (a mixin of Store)."""

    if TYPE_CHECKING:  # provided by Store

        def _read(self) -> AbstractContextManager[Session]: ...
        def _write(self) -> AbstractContextManager[Session]: ...
        def _insert(self, model: Any) -> Any: ...

        dialect: str

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, password: str, role: str = "viewer") -> UserRecord:
        """Create a dashboard user; refused when the name is taken.

        Example
        -------
        >>> store.add_user("bob", "s3cret-pass", "viewer").role
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

    def get_user(self, name: str) -> UserRecord | None:
        """The user, or ``None``."""
        try:
            name = clean_name(name)
        except StoreError:
            return None
        with self._read() as session:
            row = session.scalar(select(User).where(User.name == name))
            return None if row is None else _user(row)

    def list_users(self) -> list[UserRecord]:
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

    def remove_user(self, name: str) -> UserRecord:
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
        blocked the password is not even checked.
        """
        now = as_utc(now) if now else utcnow()
        try:
            key_name = clean_name(name)
        except StoreError:
            key_name = str(name).strip().lower()[:64] or "(empty)"
        keys = {f"user:{key_name}": USER_FREE_FAILURES}
        if client:
            keys[f"ip:{client}"] = CLIENT_FREE_FAILURES
        with self._read() as session:
            rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
            waits = [
                (row.blocked_until - now).total_seconds()
                for row in rows
                if row.blocked_until is not None and row.blocked_until > now
            ]
            if waits:
                return LoginResult(None, _blocked_message(max(waits)), max(waits))
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
        wait = self._record_failure(keys, now)
        message = WRONG_CREDENTIALS
        if wait > 0:
            message += " " + _blocked_message(wait)
        return LoginResult(None, message, wait)

    def _record_failure(self, keys: dict[str, int], now: datetime) -> float:
        """Count a failure against every key; returns the longest block it starts."""
        longest = 0.0
        with self._write() as session:
            insert = self._insert(LoginThrottle).on_conflict_do_nothing(index_elements=["key"])
            session.execute(
                insert,
                [{"key": k, "failures": 0, "last_failure_at": now} for k in sorted(keys)],
            )
            for key in sorted(keys):  # sorted: concurrent attempts lock in the same order
                row = session.get(LoginThrottle, key, with_for_update=True)
                assert row is not None
                fresh = row.failures == 0 or now - row.last_failure_at > FORGET_AFTER
                row.failures = 1 if fresh else row.failures + 1
                row.last_failure_at = now
                seconds = block_seconds(row.failures, keys[key])
                row.blocked_until = now + timedelta(seconds=seconds) if seconds else None
                longest = max(longest, seconds)
            session.flush()
        return longest

    # ------------------------------------------------------------------ settings

    def get_setting(self, key: str) -> dict[str, Any] | None:
        """A dashboard setting (a JSON object), or ``None`` when never set."""
        with self._read() as session:
            row = session.get(AppSetting, key)
            return None if row is None else dict(row.value)

    def settings_changed(self) -> dict[str, dict[str, Any]]:
        """Every dashboard setting with when and by whom it was last changed."""
        with self._read() as session:
            return {
                row.key: {"value": dict(row.value), "updated_at": row.updated_at,
                          "updated_by": row.updated_by}
                for row in session.scalars(select(AppSetting).order_by(AppSetting.key))
            }  # fmt: skip

    def set_setting(self, key: str, value: dict[str, Any], by: str | None = None) -> None:
        """Set (or replace) a dashboard setting."""
        if not isinstance(value, dict):
            raise StoreError(f"setting {key!r} must be a JSON object")
        plain = json.loads(dumps_json(value))
        insert = self._insert(AppSetting)
        stmt = insert.values(key=key, value=plain, updated_at=utcnow(), updated_by=by)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at,
                  "updated_by": stmt.excluded.updated_by},
        )  # fmt: skip
        with self._write() as session:
            session.execute(stmt)

    def delete_setting(self, key: str) -> None:
        """Forget a dashboard setting (the configured default applies again)."""
        with self._write() as session:
            session.execute(delete(AppSetting).where(AppSetting.key == key))

    # ------------------------------------------------------------------ bulk reads

    def queue(self, limit: int | None = None) -> list[QueueEntry]:
        """Every lead's latest score with its attributes, best first (ties by lead id).

        One query for the whole work queue: what the dashboard filters and charts.
        """
        query = (
            select(
                Score.lead_id, Score.score, Score.score_100, Score.segment, Score.contact,
                Score.reasons, Score.scored_at, Score.model_version, Lead.attributes,
                Lead.created_at,
            )
            .join(LatestScore, LatestScore.score_id == Score.id)
            .join(Lead, Lead.id == Score.lead_id)
            .order_by(LatestScore.score.desc(), LatestScore.lead_id)
        )  # fmt: skip
        if limit is not None:
            query = query.limit(max(0, int(limit)))
        with self._read() as session:
            return [
                QueueEntry(
                    lead_id=r[0], score=r[1], score_100=r[2], segment=r[3], contact=r[4],
                    reasons=r[5], scored_at=r[6], model_version=r[7],
                    attributes=dict(r[8] or {}), lead_created_at=r[9],
                )
                for r in session.execute(query)
            ]  # fmt: skip

    def score_points(self, since: datetime | None = None) -> list[ScorePoint]:
        """The score history (every score, oldest first) without reasons, optionally only
        scores at or after ``since``."""
        query = select(
            Score.lead_id, Score.score_100, Score.segment, Score.scored_at, Score.model_version
        ).order_by(Score.scored_at, Score.id)
        if since is not None:
            query = query.where(Score.scored_at >= as_utc(since))
        with self._read() as session:
            return [ScorePoint(*row) for row in session.execute(query)]

    def change_token(self) -> tuple[Any, ...]:
        """A value that changes whenever scores, outcomes, events or leads change: a cheap
        cache key for what is read from the store."""
        query = select(
            select(func.max(Score.id)).scalar_subquery(),
            select(func.count()).select_from(LatestScore).scalar_subquery(),
            select(func.max(Outcome.id)).scalar_subquery(),
            select(func.max(Event.id)).scalar_subquery(),
            select(func.max(Lead.updated_at)).scalar_subquery(),
        )
        with self._read() as session:
            row = session.execute(query).one()
            return tuple(str(v) for v in row)

    def iter_leads(self, chunk: int = 1000) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Every stored lead's id and attributes, in chunks (for re-scoring)."""
        last = ""
        while True:
            with self._read() as session:
                rows = session.execute(
                    select(Lead.id, Lead.attributes)
                    .where(Lead.id > last)
                    .order_by(Lead.id)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            yield [(r[0], dict(r[1] or {})) for r in rows]
            last = rows[-1][0]
