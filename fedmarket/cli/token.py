"""``fedmarket token``: balances, transfers and, on development chains, a faucet.

Amounts are typed as tokens (or ether) with up to 18 decimals, ``5`` or ``2.5``, or as wei with a
``wei`` suffix, ``1500wei`` (:func:`chain.units.parse_amount`); anything else, a negative or zero
amount or too many decimals is refused naming the flag (exit 2). Every check that can be made
before sending is made first: a transfer larger than the balance, a faucet on a chain that is not
a development chain, a minter without ``MINTER_ROLE`` and a mint above the token's cap are each
one line and exit 5, and nothing is sent (:mod:`chain.wallet`).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fedmarket.cli._checks import address
from fedmarket.cli._common import DeploymentOpt, RpcOpt, connect_deployment, out
from kernel.errors import InvalidInputError

token_app = typer.Typer(
    help="Token balances and transfers; a faucet on development chains.", no_args_is_help=True
)

_ZERO = "0x" + "00" * 20
_AMOUNTS = "tokens such as 5 or 2.5 (at most 18 decimals), or wei such as 1500wei"

ToOpt = Annotated[str, typer.Option("--to", metavar="ADDRESS", help="The recipient.")]


def _recipient(value: str) -> str:
    """``--to`` checked: an address, not the zero address (tokens sent there are lost)."""
    checked = address("--to", value)
    if checked.lower() == _ZERO:
        raise InvalidInputError("--to must not be the zero address: tokens sent there are lost")
    return checked


@token_app.command("balance")
def token_balance(
    account: Annotated[str, typer.Argument(metavar="ADDRESS", help="The account.")],
    rpc: RpcOpt,
    deployment: DeploymentOpt,
) -> None:
    """Print ADDRESS's ether and FMT balances as JSON (wei and whole units)."""
    from chain import balances_of

    who = address("ADDRESS", account)
    backend, dep = connect_deployment(rpc, deployment)
    held = balances_of(backend, dep.token_client(backend), who)
    out.print_json(json.dumps({"chain_id": backend.chain_id, **held.to_dict()}))


@token_app.command("transfer")
def token_transfer(
    to: ToOpt,
    amount: Annotated[str, typer.Option("--amount", help=f"How much: {_AMOUNTS}.")],
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    key_env: Annotated[
        str,
        typer.Option("--key-env", help="Environment variable holding the payer's hex key."),
    ],
) -> None:
    """Send FMT from the key's account to --to (refused before sending if it holds too little)."""
    from chain import account_from_env, balances_of, parse_amount, send_tokens, signer_for

    recipient = _recipient(to)
    wei = parse_amount(amount, field="--amount")
    account = account_from_env(key_env)
    backend, dep = connect_deployment(rpc, deployment)
    token = dep.token_client(backend, signer_for(backend, account))
    sent = send_tokens(token, recipient, wei)
    left = balances_of(backend, token, account.address)
    out.print_json(json.dumps({**sent.to_dict(), "balance_after_wei": str(left.tokens)}))


@token_app.command("faucet")
def token_faucet(
    to: ToOpt,
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    eth: Annotated[
        str, typer.Option("--eth", help="Ether for gas, from the node's funded account (0: none).")
    ] = "1",
    tokens: Annotated[
        str, typer.Option("--tokens", help=f"FMT to mint: {_AMOUNTS} (0: none).")
    ] = "1000",
    key_env: Annotated[
        str | None,
        typer.Option(
            "--key-env",
            help="Variable holding the minter's key (default: the node's funded account, the "
            "deployer of `chain deploy` on a dev chain).",
        ),
    ] = None,
) -> None:
    """Development chains only: send --to ether for gas and mint it FMT.

    Refused, with nothing sent, on any chain that is not a development chain (in-process, or a
    node with a funded account and chain id 31337 or 1337), when the minter lacks MINTER_ROLE
    and when the mint would pass the token's cap.
    """
    from chain import account_from_env, faucet, parse_amount

    recipient = _recipient(to)
    eth_wei = parse_amount(eth, field="--eth", allow_zero=True)
    token_wei = parse_amount(tokens, field="--tokens", allow_zero=True)
    if not eth_wei and not token_wei:
        raise InvalidInputError("--eth and --tokens are both 0: nothing to send")
    minter = account_from_env(key_env) if key_env else None
    backend, dep = connect_deployment(rpc, deployment)
    token = dep.token_client(backend)
    sent = faucet(token, recipient, eth=eth_wei, tokens=token_wei, minter=minter)
    out.print_json(json.dumps({"to": recipient, "sent": [s.to_dict() for s in sent]}))
