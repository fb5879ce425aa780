"""``fedmarket serve``: the marketplace API as a service.

With ``--workers N`` (N > 1) uvicorn runs N processes, each building the app from the environment
(``marketplace_api.main:create_app`` as a factory); the database is brought to the latest schema
once, here, before they start, so they never migrate it concurrently. uvicorn takes httptools and
uvloop when they are installed.
"""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (about one per core).")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs CPU).")] = True,
) -> None:
    """Serve the marketplace API (configuration from FEDMARKET_API_* variables)."""
    import uvicorn

    from marketplace_api import Settings, create_app
    from marketplace_api.core.db import Database
    from marketplace_api.services import prepare_database

    if workers == 1:
        uvicorn.run(create_app(), host=host, port=port, access_log=access_log)
        return
    database = Database.from_url(Settings.from_env().database_url)
    try:
        prepare_database(database)
    finally:
        database.dispose()
    uvicorn.run(
        "marketplace_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )
