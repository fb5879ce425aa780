"""The demo's parties on one chain: who they are, and the steps each takes in a task.

:func:`build_world` provisions the contracts and one funded signer per role
(:func:`chain.provision`) with keys derived from the seed (:func:`chain.demo_account`), so two
runs with the same seed send the same transactions and store the same bytes. The tests build
the same world to drive a task step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain import (
    DEPLOYER,
    ChainBackend,
    Deployment,
    FedTaskClient,
    InProcessBackend,
    Parties,
    RewardTokenClient,
    Signer,
    demo_account,
    provision,
)
from fl_node.coordinator import Coordinator
from fl_node.data import FederatedSplit, breast_cancer_hospitals
from fl_node.participant import ParticipantNode
from fl_node.task import TaskSpec
from storage import ContentStore, LocalCidStore, content_hash

TOKEN = 10**18
"""One whole reward token in wei (18 decimals)."""

SPONSOR = "sponsor"
COORDINATOR = "coordinator"
RELAYER = "relayer"


def hospital_roles(n_hospitals: int) -> list[str]:
    """The hospitals' roles: ``hospital-1`` ... ``hospital-N``."""
    return [f"hospital-{i + 1}" for i in range(n_hospitals)]


def demo_roles(n_hospitals: int) -> list[str]:
    """Every role but the deployer, in the order their keys are funded."""
    return [SPONSOR, COORDINATOR, RELAYER, *hospital_roles(n_hospitals)]


@dataclass
class World:
    """The parties of the story, the shared content store and the hospitals' data.

    Attributes
    ----------
    parties : Parties
        The contracts and a signer per role (the deployer, sponsor, coordinator, relayer and
        each hospital).
    store : ContentStore
        The shared content store.
    split : FederatedSplit
        Each hospital's rows, the coordinator's validation set and the held-out test set.
    names : dict of str to str
        ``address -> role`` of every party but the deployer (for logs and reports).
    """

    parties: Parties
    store: ContentStore
    split: FederatedSplit
    names: dict[str, str] = field(default_factory=dict)

    @property
    def backend(self) -> ChainBackend:
        """The chain."""
        return self.parties.backend

    @property
    def deployment(self) -> Deployment:
        """The contracts' addresses."""
        return self.parties.deployment

    @property
    def accounts(self) -> dict[str, LocalAccount]:
        """``role -> key`` (for off-chain signatures: listings)."""
        return self.parties.accounts

    @property
    def deployer(self) -> Signer:
        """The deployer, owner of the token (it mints the sponsor's pool)."""
        return self.parties.signer(DEPLOYER)

    @property
    def sponsor(self) -> Signer:
        """The task's sponsor."""
        return self.parties.signer(SPONSOR)

    @property
    def coordinator(self) -> Signer:
        """The task's coordinator."""
        return self.parties.signer(COORDINATOR)

    @property
    def relayer(self) -> Signer:
        """The marketplace API's relayer (pays the gas of listings)."""
        return self.parties.signer(RELAYER)

    @property
    def hospitals(self) -> list[Signer]:
        """The hospitals, in the order of :attr:`split`'s datasets."""
        return [self.parties.signer(r) for r in hospital_roles(len(self.split.hospitals))]

    def fed_task(self, signer: Signer | None = None) -> FedTaskClient:
        """The FedTask client, read-only or sending as ``signer``."""
        return self.deployment.fed_task_client(self.backend, signer)

    def token(self, signer: Signer | None = None) -> RewardTokenClient:
        """The reward token client, read-only or sending as ``signer``."""
        return self.deployment.token_client(self.backend, signer)


def build_world(
    store_dir: Path,
    *,
    backend: ChainBackend | None = None,
    n_hospitals: int = 4,
    seed: int = 2024,
) -> World:
    """Deploy the contracts and fund every party, each with its own key derived from ``seed``.

    Parameters
    ----------
    store_dir : Path
        Folder of the embedded content store.
    backend : ChainBackend or None, default None
        The chain (it needs a faucet); a fresh in-process chain when ``None``.
    n_hospitals : int, default 4
        Number of hospitals (participants).
    seed : int, default 2024
        Seed of the parties' keys and of the hospitals' data split.

    Raises
    ------
    FundingError
        The chain has no faucet to deploy the contracts and fund the parties.
    """
    roles = demo_roles(n_hospitals)
    parties = provision(
        backend or InProcessBackend(), roles, new_key=lambda role: demo_account(seed, role)
    )
    return World(
        parties=parties,
        store=LocalCidStore(store_dir),
        split=breast_cancer_hospitals(n_hospitals, seed=seed),
        names={parties.address(r): r for r in roles},
    )


def sponsor_task(world: World, spec: TaskSpec, *, pool: int, max_participants: int) -> int:
    """Store the spec, approve the escrow and create the task as the sponsor; return its id.

    Parameters
    ----------
    world : World
        The parties.
    spec : TaskSpec
        The task.
    pool : int
        Reward pool in token wei (the sponsor must hold it).
    max_participants : int
        Most participants the task admits.
    """
    spec_bytes = spec.to_bytes()
    spec_cid = world.store.put(spec_bytes)
    world.token(world.sponsor).approve(world.deployment.fed_task, pool)
    task_id, _ = world.fed_task(world.sponsor).create_task(
        spec_cid=spec_cid,
        spec_hash=content_hash(spec_bytes),
        coordinator=world.coordinator.address,
        pool=pool,
        total_rounds=spec.rounds,
        max_participants=max_participants,
    )
    return task_id


def make_participants(world: World, task_id: int, *, join: bool = True) -> list[ParticipantNode]:
    """One node per hospital, each with only its own rows; optionally joined to ``task_id``.

    Parameters
    ----------
    world : World
        The parties.
    task_id : int
        The task.
    join : bool, default True
        Join the task (each node checks the spec against its data first).
    """
    nodes = [
        ParticipantNode(signer=s, fed_task=world.fed_task(), store=world.store, data=d)
        for s, d in zip(world.hospitals, world.split.hospitals, strict=True)
    ]
    if join:
        for node in nodes:
            node.join(task_id)
    return nodes


def make_coordinator(world: World, task_id: int) -> Coordinator:
    """The coordinator of ``task_id``, with its own validation data and the held-out test set.

    Parameters
    ----------
    world : World
        The parties.
    task_id : int
        The task it coordinates.
    """
    coordinator = Coordinator(
        signer=world.coordinator,
        fed_task=world.fed_task(),
        store=world.store,
        validation=world.split.validation,
        test=world.split.test,
    )
    coordinator.attach(task_id)
    return coordinator


__all__ = [
    "COORDINATOR",
    "RELAYER",
    "SPONSOR",
    "TOKEN",
    "World",
    "build_world",
    "demo_roles",
    "hospital_roles",
    "make_coordinator",
    "make_participants",
    "sponsor_task",
]
