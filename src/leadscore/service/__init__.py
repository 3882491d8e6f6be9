"""The real-time scoring API (FastAPI): ``leadscore serve``.

One router per resource under :mod:`leadscore.service.routers`; request and response
bodies in :mod:`.schemas`; the work itself in :mod:`leadscore.live`.
"""

from leadscore.service.app import create_app

__all__ = ["create_app"]
