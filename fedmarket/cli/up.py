r"""``fedmarket up``: a local consortium (chain, IPFS, PostgreSQL, API) as child processes.

It starts the services in dependency order, each in its own process with its state and log in
the consortium's folder, waits for each health check, prints one JSON line with every endpoint
on stdout and runs until SIGINT (Ctrl-C), SIGTERM or SIGHUP, then stops them in reverse order::

    fedmarket up --dir consortium                      # everything on 127.0.0.1, default ports
    fedmarket up --dir chainhost --host 10.0.0.2 --only chain   # one service host of a network

Exit codes: 0 stopped on request; 2 bad options or a port in use; 3 a service could not start
or exited on its own (the others are stopped, nothing is restarted: its log is named);
4 the folder's deployment is not on the chain; 5 the folder is used by another ``up``;
8 a service was not healthy within ``--startup-timeout``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedmarket.cli._checks import float_range, int_range
from fedmarket.cli._common import console

if TYPE_CHECKING:
    from fedmarket.consortium import Endpoints


def _port(flag: str, what: str) -> Any:
    return typer.Option(flag, help=f"Port of {what}.", callback=int_range(flag, 1, 65535))


def _seconds(flag: str, what: str) -> Any:
    return typer.Option(flag, help=f"Seconds {what}.", callback=float_range(flag, 0, low_open=True))


def _print_ready(found: Endpoints) -> None:
    typer.echo(json.dumps(asdict(found), separators=(",", ":")))
    console.print(f"consortium ready in {found.dir} (Ctrl-C or SIGTERM stops it)")


def up(
    folder: Annotated[
        Path, typer.Option("--dir", help="The consortium's folder: each service's state and log.")
    ] = Path("consortium"),
    host: Annotated[str, typer.Option(help="Address every service listens on.")] = "127.0.0.1",
    chain_port: Annotated[int, _port("--chain-port", "the chain's JSON-RPC")] = 8545,
    ipfs_port: Annotated[int, _port("--ipfs-port", "the IPFS RPC API")] = 5001,
    postgres_port: Annotated[int, _port("--postgres-port", "PostgreSQL")] = 5432,
    api_port: Annotated[int, _port("--api-port", "the marketplace API")] = 8000,
    only: Annotated[
        str,
        typer.Option(help="Comma-separated services to run here (a service host runs its own)."),
    ] = "chain,ipfs,postgres,api",
    rpc: Annotated[
        str | None, typer.Option(help="The chain's JSON-RPC URL when it runs elsewhere.")
    ] = None,
    ipfs_api: Annotated[
        str | None, typer.Option(help="The IPFS RPC API's URL when it runs elsewhere.")
    ] = None,
    deployment: Annotated[
        Path | None,
        typer.Option(help="Deployment JSON to use instead of the folder's deployment.json."),
    ] = None,
    startup_timeout: Annotated[
        float, _seconds("--startup-timeout", "each service may take to become healthy")
    ] = 120.0,
    stop_timeout: Annotated[
        float, _seconds("--stop-timeout", "each service gets to stop before it is killed")
    ] = 10.0,
) -> None:
    """Run a local consortium: chain (anvil), IPFS (js-ipfs), PostgreSQL and the marketplace API.

    Services start in order, each health-checked; then one JSON line on stdout gives every endpoint.

    SIGINT, SIGTERM or SIGHUP stops them in reverse order (exit 0); one dying stops all (exit 3).

    A second `up` on the same --dir reuses its chain, deployment, database and IPFS repository.
    """
    from fedmarket.consortium import ConsortiumConfig, Ports, run_consortium

    config = ConsortiumConfig(
        root=folder,
        host=host,
        ports=Ports(chain=chain_port, ipfs=ipfs_port, postgres=postgres_port, api=api_port),
        only=tuple(part.strip() for part in only.split(",") if part.strip()),
        startup_timeout=startup_timeout,
        stop_timeout=stop_timeout,
        rpc_url=rpc,
        ipfs_url=ipfs_api,
        deployment_file=deployment,
    )
    signum = run_consortium(config, _print_ready)
    console.print(f"consortium stopped{f' (signal {signum})' if signum else ''}")
