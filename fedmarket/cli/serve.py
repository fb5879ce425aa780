"""``fedmarket serve``: the marketplace API as a service.

With ``--workers N`` (N > 1) uvicorn runs N processes, each building the app from the environment
(``marketplace_api.main:create_app`` as a factory); the database is brought to the latest schema
once, here, before they start, so they never migrate it concurrently. uvicorn takes httptools and
uvloop when they are installed.

TLS: ``--tls-cert`` and ``--tls-key`` serve https; ``--tls-ca`` also requires every client to
present a certificate signed by that CA (mutual TLS). The files are checked before the server
starts. Without them the API is plain http: the development default on 127.0.0.1, and a warning
(logged once) when another interface is bound.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Annotated, Any

import typer

from kernel.tls import TlsConfig, is_loopback

log = logging.getLogger(__name__)

_FILE = {"exists": True, "dir_okay": False, "readable": True}


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (about one per core).")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs CPU).")] = True,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="Server certificate chain (PEM): serve https.", **_FILE),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="Private key of --tls-cert (PEM).", **_FILE)
    ] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option(help="Require client certificates signed by this CA (PEM).", **_FILE),
    ] = None,
) -> None:
    """Serve the marketplace API (configuration from FEDMARKET_API_* variables).

    Plain http without --tls-cert/--tls-key: fine on 127.0.0.1, UNENCRYPTED elsewhere (warned).

    Its chain and IPFS channels take FEDMARKET_TLS_CA, FEDMARKET_TLS_CERT, FEDMARKET_TLS_KEY.
    """
    import uvicorn

    from marketplace_api import Settings, create_app
    from marketplace_api.core.db import Database
    from marketplace_api.services import prepare_database

    options: dict[str, Any] = {"host": host, "port": port, "access_log": access_log}
    options.update(_tls_options(host, tls_cert, tls_key, tls_ca))
    if workers == 1:
        uvicorn.run(create_app(), **options)
        return
    database = Database.from_url(Settings.from_env().database_url)
    try:
        prepare_database(database)
    finally:
        database.dispose()
    uvicorn.run("marketplace_api.main:create_app", factory=True, workers=workers, **options)


def _tls_options(host: str, cert: Path | None, key: Path | None, ca: Path | None) -> dict[str, Any]:
    """The TLS settings of uvicorn, checked now; a warning when plain http leaves the machine.

    Raises
    ------
    ConfigurationError
        When only one of the certificate and key is given, ``--tls-ca`` comes without them, or
        a file is not valid PEM.
    """
    tls = TlsConfig(ca_file=ca, cert_file=cert, key_file=key)
    if tls.is_empty:
        if not is_loopback(host):
            log.warning(
                "serve: binding %s without --tls-cert/--tls-key: the marketplace API is plain "
                "http, UNENCRYPTED to every client (see docs/privacy.md, Channels)",
                host,
            )
        return {}
    tls.server_context()  # every file loads, or a ConfigurationError now
    options: dict[str, Any] = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if ca is not None:
        options.update(ssl_ca_certs=str(ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    log.info("serve: https%s", " with client certificates" if ca is not None else "")
    return options
