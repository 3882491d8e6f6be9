"""The app uvicorn imports (``leadscore.service.server:app``), configured from the
environment and ``LEADSCORE_CONFIG`` (where ``leadscore serve`` puts its flags) and the
values saved from the dashboard; one per worker process."""

from __future__ import annotations

import os

from leadscore.service.app import create_app, service_settings

app = create_app(service_settings(os.environ.get("LEADSCORE_CONFIG")))
