"""``fedmarket chain``: local development chains and contract deployment."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from fedmarket.cli._common import RpcOpt, console, out
from kernel.errors import ConfigurationError

chain_app = typer.Typer(help="Local chain nodes and contract deployment.", no_args_is_help=True)


@chain_app.command("node")
def chain_node(
    kind: Annotated[str, typer.Option(help="anvil or hardhat.")] = "anvil",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8545,
) -> None:
    """Run a local development chain in the foreground until interrupted."""
    from chain import DevNode

    with DevNode(kind, port=port) as node:
        console.print(f"{kind} listening on {node.url} (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


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
