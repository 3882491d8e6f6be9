"""Signing in and out of the dashboard, and what each role may do (no Streamlit here).

The signed-in user lives in the browser session's state (``st.session_state``, passed in
as a plain mapping), as a :class:`SessionUser`. Passwords are checked by the store
(:meth:`~leadscore.store.Store.login`: argon2, the same message for an unknown name and a
wrong password, repeated failures slowed down); the user is looked up again on every page
so a removed user or a changed role takes effect at once.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from leadscore.store import LoginResult, Store

SESSION_KEY = "leadscore_user"


@dataclass(frozen=True)
class SessionUser:
    """Who is signed in."""

    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def sign_in(
    store: Store,
    state: MutableMapping[str, Any],
    name: str,
    password: str,
    client: str | None = None,
) -> LoginResult:
    """Check the credentials; on success remember the user in ``state``."""
    result = store.users.login(name, password, client=client)
    if result.user is not None:
        state[SESSION_KEY] = SessionUser(result.user.name, result.user.role)
    return result


def sign_out(state: MutableMapping[str, Any]) -> None:
    """Forget the signed-in user (and everything else of the session)."""
    for key in list(state.keys()):
        del state[key]


def current_user(state: MutableMapping[str, Any], store: Store) -> SessionUser | None:
    """The signed-in user as the store knows them now (``None``: signed out, or removed
    since signing in)."""
    remembered = state.get(SESSION_KEY)
    if not isinstance(remembered, SessionUser):
        return None
    stored = store.users.get(remembered.name)
    if stored is None:
        state.pop(SESSION_KEY, None)
        return None
    if stored.role != remembered.role:
        remembered = SessionUser(stored.name, stored.role)
        state[SESSION_KEY] = remembered
    return remembered


def random_password() -> str:
    """A random password (16 URL-safe characters, 96 bits) for a new user.

    Example
    -------
    >>> len(random_password())
    16
    """
    return secrets.token_urlsafe(12)
