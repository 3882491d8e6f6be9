"""Settings changed on the dashboard: :class:`SettingRepository` (``store.settings``).

Each setting is a JSON object under a key (``business``, ``segments``, …), with when and
by whom it was last changed. The values the settings resolver takes from here are read by
:mod:`leadscore.store.saved`. Each call is one transaction.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete as delete_rows
from sqlalchemy import select

from leadscore.store.errors import StoreError
from leadscore.store.json_columns import dumps_json
from leadscore.store.session import Repository
from leadscore.store.tables import AppSetting, utcnow


class SettingRepository(Repository):
    """The dashboard's saved settings (``store.settings``).

    Example
    -------
    >>> store.settings.set("business", {"cost_per_contact": 30.0}, by="maria")
    >>> store.settings.get("business")
    {'cost_per_contact': 30.0}
    """

    def get(self, key: str) -> dict[str, Any] | None:
        """A dashboard setting (a JSON object), or ``None`` when never set."""
        with self._read() as session:
            row = session.get(AppSetting, key)
            return None if row is None else dict(row.value)

    def changed(self) -> dict[str, dict[str, Any]]:
        """Every dashboard setting with when and by whom it was last changed."""
        with self._read() as session:
            return {
                row.key: {"value": dict(row.value), "updated_at": row.updated_at,
                          "updated_by": row.updated_by}
                for row in session.scalars(select(AppSetting).order_by(AppSetting.key))
            }  # fmt: skip

    def set(self, key: str, value: dict[str, Any], by: str | None = None) -> None:
        """Set (or replace) a dashboard setting."""
        if not isinstance(value, dict):
            raise StoreError(f"setting {key!r} must be a JSON object")
        plain = json.loads(dumps_json(value))
        insert = self._db.insert(AppSetting)
        stmt = insert.values(key=key, value=plain, updated_at=utcnow(), updated_by=by)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at,
                  "updated_by": stmt.excluded.updated_by},
        )  # fmt: skip
        with self._write() as session:
            session.execute(stmt)

    def delete(self, key: str) -> None:
        """Forget a dashboard setting (the configured default applies again)."""
        with self._write() as session:
            session.execute(delete_rows(AppSetting).where(AppSetting.key == key))
