"""A fresh protocol v2 deployment with funded parties, shared by the FedTask and court tests."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from chain.backends import ChainBackend
from chain.commitments import (
    CommitmentBatch,
    RewardTree,
    UpdateCommitment,
    encode_shares,
    sign_commitment,
)
from chain.court import ChallengeCourtClient
from chain.deployment import Deployment, DeploymentParams, deploy
from chain.fed_task import FedTaskClient, Finalization, RoundInfo, Schedule, TaskConfig
from chain.keys import new_account
from chain.signer import Signer, fund, signer_for
from chain.token import RewardTokenClient

TOKEN = 10**18
POOL = 900 * TOKEN
STAKE = 10 * TOKEN
PERIOD = 600
"""Every period of the test schedules, in seconds: long enough for a node's clock to move on
between two transactions, and nothing waits for it (the tests travel)."""

PARAMS = DeploymentParams(
    min_validator_stake=100 * TOKEN,
    challenge_bond=10 * TOKEN,
    voting_period=PERIOD,
    exit_cooldown=PERIOD,
)
ROLES = ("sponsor", "coordinator", "p1", "p2", "p3", "outsider", "v1", "v2", "successor")


def model_hash(label: str) -> bytes:
    return keccak(text=f"model {label}")


def update_hash(task_id: int, round_: int, who: str) -> bytes:
    return keccak(text=f"update {task_id} {round_} {who}")


@dataclass
class World:
    backend: ChainBackend
    deployment: Deployment
    deployer: Signer
    accounts: dict[str, LocalAccount]
    signers: dict[str, Signer]

    def ft(self, role: str | None = None) -> FedTaskClient:
        return self.deployment.fed_task_client(self.backend, self.signers[role] if role else None)

    def court(self, role: str | None = None) -> ChallengeCourtClient:
        return self.deployment.court_client(self.backend, self.signers[role] if role else None)

    def token(self) -> RewardTokenClient:
        return self.deployment.token_client(self.backend)

    def address(self, role: str) -> str:
        return self.signers[role].address

    def config(self, **overrides: object) -> TaskConfig:
        fields: dict[str, object] = {
            "spec_cid": "bafkreispec",
            "spec_hash": keccak(text="spec"),
            "coordinator": self.address("coordinator"),
            "pool": POOL,
            "total_rounds": 2,
            "max_participants": 3,
            "schedule": Schedule.uniform(PERIOD),
            "quorum": 2,
            "participant_stake": STAKE,
            "coordinator_stake": STAKE,
            "slash_bps": 5_000,
        }
        fields.update(overrides)
        return TaskConfig(**fields)

    def ready_task(self, **overrides: object) -> int:
        """A task whose three participants joined and whose coordinator staked."""
        task_id, _ = self.ft("sponsor").create_task(self.config(**overrides))
        for role in ("p1", "p2", "p3"):
            self.ft(role).join(task_id)
        self.ft("coordinator").stake_as_coordinator(task_id)
        return task_id

    def open(self, task_id: int, round_: int) -> RoundInfo:
        self.ft("coordinator").open_round(
            task_id, round_, f"bafkreimodel{round_}", model_hash(str(round_ - 1))
        )
        return self.ft().round(task_id, round_)

    def batch(self, task_id: int, round_: int, roles: tuple[str, ...]) -> CommitmentBatch:
        domain = self.ft().domain()
        signed = [
            sign_commitment(
                self.accounts[r],
                domain,
                UpdateCommitment(task_id, round_, update_hash(task_id, round_, r), 100),
            )
            for r in roles
        ]
        return CommitmentBatch.build(signed)

    def finalize(
        self,
        task_id: int,
        round_: int,
        amounts: dict[str, int],
        *,
        flagged: tuple[str, ...] = (),
        shares: list[int] | None = None,
    ) -> RewardTree:
        """Travel past the reveal deadline and finalise with a rewards tree of ``amounts``."""
        info = self.ft().round(task_id, round_)
        self.backend.wait_until(info.reveal_deadline, travel=True)
        tree = RewardTree.build(task_id, round_, {self.address(r): a for r, a in amounts.items()})
        finalization = Finalization(
            new_model_cid=f"bafkreimodel{round_}+",
            new_model_hash=model_hash(str(round_)),
            evidence_cid=f"bafkreievidence{round_}",
            rewards_root=tree.root,
            budget=tree.budget,
            accepted=info.commitments,
            flagged=tuple(self.address(r) for r in flagged),
            shares=encode_shares(shares) if shares else b"",
        )
        self.ft("coordinator").finalize_round(task_id, round_, finalization)
        return tree


def make_world(backend: ChainBackend) -> World:
    faucet = backend.faucet_account()
    assert faucet is not None
    deployer = signer_for(backend, faucet)
    deployment = deploy(deployer, PARAMS)
    token = deployment.token_client(backend, deployer)
    accounts = {role: new_account() for role in ROLES}
    signers = {}
    for role, account in accounts.items():
        fund(backend, account.address, 10**19)
        signers[role] = signer = signer_for(backend, account)
        token.mint(account.address, 10 * POOL)
        mine = deployment.token_client(backend, signer)
        mine.approve(deployment.fed_task, 10 * POOL)
        mine.approve(deployment.court, 10 * POOL)
    return World(backend, deployment, deployer, accounts, signers)
