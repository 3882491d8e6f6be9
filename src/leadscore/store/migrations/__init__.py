"""Alembic migrations of the score store (run by :func:`leadscore.store.db.upgrade`)."""
