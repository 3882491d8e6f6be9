"""The app uvicorn imports (``leadscore.service.server:app``), configured from the
environment and ``LEADSCORE_CONFIG``; one per worker process."""

from __future__ import annotations

import os

from leadscore.config import load_settings
from leadscore.service.app import create_app

app = create_app(load_settings(os.environ.get("LEADSCORE_CONFIG")))
