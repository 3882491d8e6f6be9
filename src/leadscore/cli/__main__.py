"""``python -m leadscore.cli``: the ``leadscore`` command."""

from leadscore.cli import app

app()
