"""The marketplace in a browser: server-rendered pages over the same index the JSON API reads.

``fedmarket serve`` answers HTML at ``/`` (the dataset catalogue) and under ``/ui/`` (a dataset,
the listing form, tasks, models, an account), with every asset served from ``/static``: no CDN,
so the pages work offline. Pages read the chain index (never the chain itself, except a
transaction's receipt), and a little JavaScript does what only the user's wallet may do: sign in
(EIP-4361), sign a listing (EIP-712) and send transactions (buy, claim, stake), all through
the EIP-1193 provider the browser injects (``window.ethereum``). The server never holds a user's
key; it builds unsigned transactions the wallet shows before sending
(:mod:`marketplace_api.api.routes.transactions`).

:func:`install` adds the pages and the static files to an application.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from marketplace_api.web.pages import router

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Serve the pages and ``/static`` from ``app`` (the pages stay out of the OpenAPI)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["STATIC_DIR", "install", "router"]
