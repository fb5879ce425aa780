"""``/docs`` (Swagger UI) and ``/redoc`` served from this service: no CDN, they render offline.

The pages' scripts and styles are the ones the ``fastapi-offline`` package ships (Swagger UI's
``swagger-ui-bundle.js`` and ``swagger-ui.css``, ReDoc's ``redoc.standalone.js``); it is a
dependency of the project, so a clean clone has them after ``scripts/setup``. They are mounted
under :data:`ASSETS_URL`; the pages name only same-origin URLs (no web fonts, no validator
badge). Create the app with ``docs_url=None, redoc_url=None`` and call :func:`install`.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from kernel.errors import ConfigurationError

ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI and ReDoc, as the installed ``fastapi-offline`` ships them."""
ASSETS_URL = "/docs-assets"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def check_assets(directory: Path = ASSETS) -> None:
    """Raise when an asset of the docs pages is missing.

    Raises
    ------
    ConfigurationError
        When a file of :data:`ASSET_FILES` is not in ``directory``.
    """
    missing = [name for name in ASSET_FILES if not (directory / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"docs: {', '.join(missing)} missing from {directory} (reinstall fastapi-offline)"
        )


def install(app: FastAPI) -> None:
    """Mount the assets and serve ``/docs``, its OAuth2 redirect and ``/redoc`` from them."""
    check_assets()
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}/{name}"

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def read_swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset(request, "swagger-ui.css"),
            swagger_favicon_url=asset(request, "favicon.png"),
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def read_swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def read_redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, "redoc.standalone.js"),
            redoc_favicon_url=asset(request, "favicon.png"),
            with_google_fonts=False,
        )


__all__ = [
    "ASSETS",
    "ASSETS_URL",
    "ASSET_FILES",
    "DOCS_URL",
    "REDOC_URL",
    "check_assets",
    "install",
]
