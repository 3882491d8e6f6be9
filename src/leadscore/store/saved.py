"""The settings saved from the dashboard's Settings page, as the settings resolver takes
them (:func:`leadscore.config.resolve_settings`, its ``saved`` argument).

:func:`saved_settings` reads them from an open store; :func:`read_saved_settings` from the
store a URL (or the settings) names, without creating or migrating it: a command that
only needs the values must not leave a ``leadscore.db`` behind, nor upgrade a schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.config import DASHBOARD_SECTIONS, Settings
from leadscore.store.db import mask, normalise_url
from leadscore.store.errors import StoreError
from leadscore.store.tables import AppSetting

if TYPE_CHECKING:
    from leadscore.store.store import Store


def saved_settings(store: Store) -> dict[str, dict[str, Any]]:
    """The dashboard's saved sections (``business``, ``segments``) in ``store``.

    Parameters
    ----------
    store:
        An open score store.

    Example
    -------
    >>> store.settings.set("business", {"cost_per_contact": 30.0}, by="maria")
    >>> saved_settings(store)
    {'business': {'cost_per_contact': 30.0}}
    """
    found = {key: store.settings.get(key) for key in DASHBOARD_SECTIONS}
    return {key: value for key, value in found.items() if value}


def read_saved_settings(source: str | Settings) -> dict[str, dict[str, Any]]:
    """The dashboard's saved sections in the store at ``source``, read without creating
    or migrating it: a SQLite file that does not exist, or a database without the
    settings table, has none.

    Parameters
    ----------
    source:
        The store's URL, or settings naming it (``database_url``).

    Raises :class:`~leadscore.store.errors.StoreError` naming the (password-masked) URL
    when the database cannot be reached.

    Example
    -------
    >>> store.settings.set("business", {"cost_per_contact": 30.0}, by="maria")
    >>> read_saved_settings("sqlite:///scores.db"), read_saved_settings("sqlite:///none.db")
    ({'business': {'cost_per_contact': 30.0}}, {})
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from leadscore.store.store import Store

    url = normalise_url(source.database_url if isinstance(source, Settings) else source)
    if url.startswith("sqlite"):
        database = url.partition(":///")[2].partition("?")[0]
        if database in ("", ":memory:") or not Path(database).is_file():
            return {}
    store = Store(url, migrate=False)
    try:
        if not inspect(store.engine).has_table(AppSetting.__tablename__):
            return {}
        return saved_settings(store)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(f"cannot read the score store at {mask(url)}: {reason}") from None
    finally:
        store.close()
