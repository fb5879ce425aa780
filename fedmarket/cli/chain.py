"""``fedmarket chain``: local development chains and contract deployment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fedmarket.cli._common import RpcOpt, console, out, stop_signals
from kernel.errors import ConfigurationError

chain_app = typer.Typer(help="Local chain nodes and contract deployment.", no_args_is_help=True)


@chain_app.command("node")
def chain_node(
    kind: Annotated[str, typer.Option(help="anvil or hardhat.")] = "anvil",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8545,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    state: Annotated[
        Path | None,
        typer.Option(
            help="anvil: state file, loaded when present and written every second and on exit "
            "(the chain survives a restart)."
        ),
    ] = None,
) -> None:
    """Run a local development chain in the foreground until Ctrl-C or SIGTERM; stop it then."""
    from chain import DevNode
    from chain.errors import ChainConnectionError

    with stop_signals() as stop, DevNode(kind, port=port, host=host, state=state) as node:
        console.print(f"{kind} listening on {node.url} (Ctrl-C to stop)")
        while not stop.wait(1.0):
            if not node.running:
                raise ChainConnectionError(f"chain node: {kind} exited on its own")
    console.print(f"{kind} stopped")


@chain_app.command("deploy")
def chain_deploy(
    rpc: RpcOpt,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the deployment JSON.")],
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="Variable with the deployer key (dev chains: the faucet)."),
    ] = None,
) -> None:
    """Deploy the five contracts (token, registry, FedTask, court, market); write the addresses."""
    from chain import account_from_env, connect, deploy, signer_for

    backend = connect(rpc)
    account = account_from_env(key_env) if key_env else backend.faucet_account()
    if account is None:
        raise ConfigurationError("chain deploy: no deployer key (use --key-env)")
    deployment = deploy(signer_for(backend, account))
    deployment.save(out_file)
    out.print_json(json.dumps(deployment.to_dict()))
