"""``fedmarket serve``: the marketplace API as a service."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the marketplace API (configuration from FEDMARKET_API_* variables)."""
    import uvicorn

    from marketplace_api import create_app

    uvicorn.run(create_app(), host=host, port=port)
