"""Schema revisions of the score store, oldest first (``0001_initial`` …)."""
