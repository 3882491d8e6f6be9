"""``/docs`` (Swagger UI) served from packaged assets, so that it works without the
internet (FastAPI's own page loads its script and styles from a CDN).

The script and styles are those the ``fastapi-offline`` package ships (Swagger UI 5,
which reads FastAPI's OpenAPI 3.1 document), mounted under :data:`STATIC`. The page
holds no inline script: Swagger UI is started by ``/docs/swagger-init.js``, which reads
the OpenAPI document's address from the page, so the documentation's
Content-Security-Policy (:mod:`leadscore.service.edge`) allows scripts from this origin
only. There is no ``/redoc``: ReDoc's page loads its logo from its maker's site.
"""

from __future__ import annotations

import html
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: where the packaged Swagger UI and ReDoc files are served
STATIC = "/static-docs"
#: the packaged files: swagger-ui-bundle.js, swagger-ui.css, favicon.png (and ReDoc's)
ASSETS = Path(fastapi_offline.__file__).parent / "static"
#: the paths that answer with the documentation's Content-Security-Policy
DOCS_PATHS = ("/docs", STATIC + "/")

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{root}{static}/swagger-ui.css">
<link rel="icon" href="{root}{static}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}{openapi}"></div>
<script src="{root}{static}/swagger-ui-bundle.js"></script>
<script src="{root}/docs/swagger-init.js"></script>
</body>
</html>
"""

#: starts Swagger UI as FastAPI's page does, without the validator badge (an image from
#: the validator's site)
SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets (under :data:`STATIC`) for ``app``, made with
    ``FastAPI(docs_url=None, redoc_url=None)``."""
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="static-docs")

    def page(template: str, request: Request, title: str) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return HTMLResponse(
            template.format(
                title=html.escape(f"{app.title} – {title}"),
                root=html.escape(root),
                static=STATIC,
                openapi=html.escape(app.openapi_url or "/openapi.json"),
            )
        )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return page(SWAGGER_PAGE, request, "Swagger UI")

    @app.get("/docs/swagger-init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(SWAGGER_INIT, media_type="text/javascript")
