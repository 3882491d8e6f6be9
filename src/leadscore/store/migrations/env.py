"""Alembic environment of the score store.

:func:`leadscore.store.db.upgrade` runs the migrations on a connection it has already
locked and passes it in ``config.attributes["connection"]``. Run by hand (an
``alembic.ini`` with ``script_location = leadscore.store:migrations``), Alembic connects to
``-x url=…`` or ``sqlalchemy.url`` with the store's engine settings, e.g.::

    alembic -x url=sqlite:///leadscore.db upgrade head
"""

from __future__ import annotations

from alembic import context

from leadscore.store.db import make_engine, normalise_url, write_engine
from leadscore.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=… or set sqlalchemy.url")
    return normalise_url(url)


def run_offline() -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the given connection, or on a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        # already in the caller's (locked) transaction: Alembic neither begins nor commits
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with write_engine(engine).begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
