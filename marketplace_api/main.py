"""The FastAPI application of the marketplace: :func:`create_app`.

Serve it with ``fedmarket serve`` (configuration from ``FEDMARKET_API_*``, see
:mod:`marketplace_api.core.config`), or embed it with injected services and
:func:`marketplace_api.serve_in_thread` as the demo does. The database schema is brought to the
latest migration when the application starts, and the chain indexer follows the chain in the
background from start-up to shutdown (see :mod:`marketplace_api.indexer`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.runtime import pin_recursion_limit
from marketplace_api.api import deps, docs, errors, metrics, responses
from marketplace_api.api.guard import JsonGuard
from marketplace_api.api.methods import AllowedMethods, RouteTable
from marketplace_api.api.routes import (
    auth,
    content,
    datasets,
    health,
    listing_edits,
    models,
    participants,
    tasks,
    transactions,
)
from marketplace_api.core.config import Settings
from marketplace_api.services import Services
from marketplace_api.web import install as install_pages

log = logging.getLogger(__name__)

responses.declare_dependency(deps.get_services, 503)  # the database, chain, store behind it
CHAIN_ERROR = (502, "The chain answered wrongly or refused the transaction.")
for _chain_client in (deps.get_registry, deps.get_fed_task, deps.get_market, deps.get_content):
    # every route that talks to the chain can get an answer it cannot use (see api.errors)
    responses.declare_dependency(_chain_client, CHAIN_ERROR)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_CONTENT_BYTES = 64 * 1024 * 1024
CONTENT_UPLOADS = re.compile(r"^/(models|datasets)/[0-9]+/content$")
"""Paths of the uploads of paid content (``PUT``), which may exceed the body limit."""


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not they declare a length.

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    max_bytes : int
        Largest body accepted.
    uploads : re.Pattern or None, default None
        Paths whose ``PUT`` bodies may reach ``max_upload_bytes`` instead.
    max_upload_bytes : int, default 0
        Largest upload accepted on those paths.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        uploads: re.Pattern[str] | None = None,
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads
        self.max_upload_bytes = max_upload_bytes

    def limit(self, scope: Scope) -> int:
        """The largest body accepted for the request ``scope``."""
        upload = scope.get("method") == "PUT" and self.uploads is not None
        if upload and self.uploads is not None and self.uploads.match(scope.get("path", "")):
            return self.max_upload_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the bytes as they arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope)
        too_large = HTTPException(413, f"request body larger than {max_bytes} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > max_bytes:
                    await _send_413(send, str(too_large.detail))
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited, send)


async def _send_413(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the marketplace API.

    Parameters
    ----------
    settings : Settings or None, default None
        Configuration; read from the environment when ``None`` and no services are injected.
        With injected services it only contributes CORS origins and the body size limit.
    services : Services or None, default None
        Collaborators to use as they are (the caller keeps ownership). ``None`` builds them from
        ``settings`` (and closes them at shutdown).

    Raises
    ------
    ConfigurationError
        When the settings are incomplete or invalid.
    ChainConnectionError
        When the configured chain node cannot be reached.
    """
    pin_recursion_limit()  # web3 is imported by now, and with it py_ecc, which raises it
    owned = services is None
    if services is None:
        settings = settings or Settings.from_env()
        services = Services.from_settings(settings)
    app = FastAPI(
        title="fedmarket marketplace API",
        summary="Dataset listings signed by their owners, federated tasks read from the chain, "
        "and trained models with their contributors' shares.",
        version="0.2.0",
        lifespan=_lifespan(services, owned=owned),
        docs_url=None,  # served from local assets by docs.install
        redoc_url=None,
    )
    app.state.services = services
    errors.install(app)
    for router in (
        health.router,
        auth.router,
        datasets.router,
        listing_edits.router,
        tasks.router,
        participants.router,
        models.router,
        content.router,
        transactions.router,
    ):
        app.include_router(router)
    docs.install(app)
    install_pages(app)
    responses.install(app)
    _add_middleware(app, settings, services)
    return app


def _lifespan(
    services: Services, *, owned: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start ``services`` with the app and stop them with it (closing them when ``owned``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start()
        log.info(
            "startup: marketplace API on %s, relayer %s",
            services.backend.describe(),
            services.relayer.address,
        )
        try:
            yield
        finally:
            services.stop_indexing()
            if owned:
                services.close()

    return lifespan


def _add_middleware(app: FastAPI, settings: Settings | None, services: Services) -> None:
    """The middleware, innermost first (each one added wraps the ones before)."""
    # inside the size limit (added later, so outer), which bounds the bodies the guard reads
    app.add_middleware(JsonGuard)
    app.add_middleware(AllowedMethods, routes=RouteTable(app))  # inside CORS: preflights pass
    if settings is not None and settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["content-type", "authorization"],
        )
    max_body = settings.max_body_bytes if settings is not None else DEFAULT_MAX_BODY_BYTES
    max_upload = settings.max_content_bytes if settings is not None else DEFAULT_MAX_CONTENT_BYTES
    app.add_middleware(
        BodySizeLimit, max_bytes=max_body, uploads=CONTENT_UPLOADS, max_upload_bytes=max_upload
    )
    metrics.install(app, services)  # outermost: every answer is counted


__all__ = ["BodySizeLimit", "create_app"]
