"""``fedmarket court``: a ChallengeCourt validator registers, votes after its own audit, resolves.

A validator stakes at least the court's minimum (``register``); on a challenge it audits the task
itself and votes its confidence with its audit report as public evidence (``vote``); anyone
resolves a challenge once its votes are in (``resolve``); payouts are pull balances
(``withdraw``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fedmarket.cli._checks import int_range
from fedmarket.cli._common import (
    DeploymentOpt,
    KeyEnvOpt,
    RpcOpt,
    StoreOpt,
    connect_deployment,
    out,
    plain_store,
)

court_app = typer.Typer(
    help="ChallengeCourt: validators register, vote after their own audit, resolve.",
    no_args_is_help=True,
)

ChallengeOpt = Annotated[
    int,
    typer.Option("--challenge", help="Challenge id.", callback=int_range("--challenge", 1)),
]
ValidatorKeyOpt = Annotated[
    str,
    typer.Option("--key-env", help="Environment variable holding the validator's hex key."),
]


@court_app.command("register")
def court_register(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    amount: Annotated[
        int,
        typer.Option(
            help="Stake in token wei (at least the court's minimum).",
            callback=int_range("--amount", 1),
        ),
    ],  # fmt: skip
    key_env: ValidatorKeyOpt = "FEDMARKET_VALIDATOR_KEY",
) -> None:
    """Register as a validator, staking AMOUNT (approved to the court first)."""
    from chain import account_from_env, signer_for

    backend, dep = connect_deployment(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    court = dep.court_client(backend, signer)
    dep.token_client(backend, signer).approve(court.address, amount)
    court.register_validator(amount)
    out.print_json(json.dumps({"validator": signer.address, "stake_wei": str(amount)}))


@court_app.command("vote")
def court_vote(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    store: StoreOpt,
    challenge_id: ChallengeOpt,
    key_env: ValidatorKeyOpt = "FEDMARKET_VALIDATOR_KEY",
) -> None:
    """Audit the challenged task, store the report, and vote the confidence it gives."""
    from chain import account_from_env, signer_for
    from fl_node.disputes import vote_on

    backend, dep = connect_deployment(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    vote = vote_on(
        dep.court_client(backend, signer),
        dep.fed_task_client(backend),
        plain_store(store),
        challenge_id,
    )
    out.print_json(
        json.dumps(
            {
                "challenge_id": challenge_id,
                "uphold_bps": vote.uphold_bps,
                "evidence_cid": vote.evidence_cid,
            }
        )
    )


@court_app.command("resolve")
def court_resolve(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    challenge_id: ChallengeOpt,
    key_env: KeyEnvOpt = "FEDMARKET_KEY",
) -> None:
    """Resolve a challenge (anyone, after its voting period or once every validator voted)."""
    from chain import account_from_env, signer_for

    backend, dep = connect_deployment(rpc, deployment)
    court = dep.court_client(backend, signer_for(backend, account_from_env(key_env)))
    court.resolve(challenge_id)
    info = court.challenge_info(challenge_id)
    out.print_json(
        json.dumps(
            {
                "challenge_id": challenge_id,
                "status": info.status.name.lower(),
                "consensus_bps": info.consensus_bps,
            }
        )
    )


@court_app.command("withdraw")
def court_withdraw(
    rpc: RpcOpt, deployment: DeploymentOpt, key_env: KeyEnvOpt = "FEDMARKET_KEY"
) -> None:
    """Withdraw the key's court balance (rewards, a bond back)."""
    from chain import account_from_env, signer_for

    backend, dep = connect_deployment(rpc, deployment)
    signer = signer_for(backend, account_from_env(key_env))
    court = dep.court_client(backend, signer)
    owed = court.balance_of(signer.address)
    if owed:
        court.withdraw()
    out.print_json(json.dumps({"account": signer.address, "withdrawn_wei": str(owed)}))
