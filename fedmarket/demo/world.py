"""The demo's parties on one chain: who they are, and the steps each takes in a task.

:func:`build_world` provisions the contracts and one funded signer per role
(:func:`chain.provision`) with keys derived from the seed (:func:`chain.demo_account`), so two
runs with the same seed send the same transactions and store the same bytes. The tests build
the same world to drive a task step by step: the hospitals batch their signed commitments
through the world's in-memory mailbox, and the coordinator moves the in-process chain's clock
from deadline to deadline (:data:`DEMO_SCHEDULE`), the only party that does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
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
from chain.court import ChallengeCourtClient
from chain.fed_task import Schedule
from chain.market import ModelMarketClient
from fl_node.coordinator import BallotSource, Coordinator, Phase
from fl_node.data import FederatedSplit, breast_cancer_hospitals
from fl_node.evidence import BallotRecord
from fl_node.mailbox import InMemoryMailbox
from fl_node.models import build_model
from fl_node.participant import ParticipantNode
from fl_node.sponsor import TaskTerms, create_task
from fl_node.strategies import ClientUpdate
from fl_node.task import TaskSpec
from fl_node.training import SMALL_MODEL_PARAMS
from kernel.errors import FedmarketError
from storage import ContentStore, LocalCidStore

log = logging.getLogger(__name__)

TOKEN = 10**18
"""One whole reward token in wei (18 decimals)."""

HOUR = 3600
"""Seconds in an hour."""

DEMO_SCHEDULE = Schedule(
    join_period=24 * HOUR,
    commit_period=HOUR,
    inclusion_period=HOUR // 2,
    reveal_period=HOUR,
    finalize_period=HOUR,
    challenge_period=HOUR,
    open_period=24 * HOUR,
    abort_grace=24 * HOUR,
    stake_cooldown=HOUR,
)
"""The demo task's deadlines: hours on the chain's clock, crossed in an instant by time travel."""

DEMO_TERMS = TaskTerms(
    schedule=DEMO_SCHEDULE,
    quorum=3,
    participant_stake=10 * TOKEN,
    coordinator_stake=50 * TOKEN,
    slash_bps=5_000,
)
"""The demo task's terms: three updates to pay a round, stakes, half a stake slashed on a flag."""

SPONSOR = "sponsor"
COORDINATOR = "coordinator"
RELAYER = "relayer"
BUYER = "buyer"


def hospital_roles(n_hospitals: int) -> list[str]:
    """The hospitals' roles: ``hospital-1`` ... ``hospital-N``.

    Parameters
    ----------
    n_hospitals : int
        How many.
    """
    return [f"hospital-{i + 1}" for i in range(n_hospitals)]


def demo_roles(n_hospitals: int) -> list[str]:
    """Every role but the deployer, in the order their keys are funded.

    Parameters
    ----------
    n_hospitals : int
        How many hospitals.
    """
    return [SPONSOR, COORDINATOR, RELAYER, *hospital_roles(n_hospitals), BUYER]


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
    mailbox : InMemoryMailbox or None
        Where the hospitals post their signed commitments (stamped with the chain's time).
    """

    parties: Parties
    store: ContentStore
    split: FederatedSplit
    names: dict[str, str] = field(default_factory=dict)
    mailbox: InMemoryMailbox | None = None

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
    def buyer(self) -> Signer:
        """Who buys the final model."""
        return self.parties.signer(BUYER)

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

    def court(self, signer: Signer | None = None) -> ChallengeCourtClient:
        """The challenge court client, read-only or sending as ``signer``."""
        return self.deployment.court_client(self.backend, signer)

    def market(self, signer: Signer | None = None) -> ModelMarketClient:
        """The model market client, read-only or sending as ``signer``."""
        return self.deployment.market_client(self.backend, signer)

    def mint(self, signer: Signer, amount: int) -> None:
        """Mint ``amount`` token wei to ``signer`` (the deployer is the token's minter).

        Parameters
        ----------
        signer : Signer
            Who receives.
        amount : int
            Token wei.
        """
        self.token(self.deployer).mint(signer.address, amount)


def build_world(
    store_dir: Path,
    *,
    backend: ChainBackend | None = None,
    n_hospitals: int = 4,
    seed: int = 2024,
    split: FederatedSplit | None = None,
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
    split : FederatedSplit or None, default None
        The parties' data (one participant per dataset); the demo's breast-cancer hospitals
        when ``None``.

    Raises
    ------
    FundingError
        The chain has no faucet to deploy the contracts and fund the parties.
    """
    split = split or breast_cancer_hospitals(n_hospitals, seed=seed)
    roles = demo_roles(len(split.hospitals))
    chain = backend or InProcessBackend()
    parties = provision(chain, roles, new_key=lambda role: demo_account(seed, role))
    return World(
        parties=parties,
        store=LocalCidStore(store_dir),
        split=split,
        names={parties.address(r): r for r in roles},
        mailbox=InMemoryMailbox(clock=chain.chain_time),
    )


def sponsor_task(
    world: World,
    spec: TaskSpec,
    *,
    pool: int,
    max_participants: int,
    terms: TaskTerms = DEMO_TERMS,
) -> int:
    """Store the spec, escrow the pool and create the task as the sponsor; return its id.

    The hospitals and the coordinator get the tokens their stakes need (minted by the deployer).

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
    terms : TaskTerms, default DEMO_TERMS
        Schedule, quorum, stakes, slash rate, access.
    """
    for hospital in world.hospitals:
        if terms.participant_stake:
            world.mint(hospital, terms.participant_stake)
    if terms.coordinator_stake:
        world.mint(world.coordinator, terms.coordinator_stake)
    return create_task(
        world.fed_task(world.sponsor),
        world.token(world.sponsor),
        world.store,
        spec,
        coordinator=world.coordinator.address,
        pool=pool,
        max_participants=max_participants,
        terms=terms,
    )


def make_participants(
    world: World,
    task_id: int,
    *,
    join: bool = True,
    batched: bool = True,
    claim_min_rounds: int = 1,
) -> list[ParticipantNode]:
    """One node per hospital, each with only its own rows; optionally joined to ``task_id``.

    Parameters
    ----------
    world : World
        The parties.
    task_id : int
        The task.
    join : bool, default True
        Join the task with its stake (each node checks the spec against its data first).
    batched : bool, default True
        Commit through the world's mailbox (the coordinator's batch); ``False`` commits directly.
    claim_min_rounds : int, default 1
        Rounds a node lets accumulate before it claims them in one transaction.
    """
    nodes = [
        ParticipantNode(
            signer=s,
            fed_task=world.fed_task(),
            store=world.store,
            data=d,
            mailbox=world.mailbox if batched else None,
            court=world.court(),
            claim_min_rounds=claim_min_rounds,
        )
        for s, d in zip(world.hospitals, world.split.hospitals, strict=True)
    ]
    if join:
        for node in nodes:
            node.join(task_id)
    return nodes


def make_coordinator(world: World, task_id: int, *, batched: bool = True) -> Coordinator:
    """The coordinator of ``task_id``, with its own validation data and the held-out test set.

    It moves the in-process chain's clock from deadline to deadline.

    Parameters
    ----------
    world : World
        The parties.
    task_id : int
        The task it coordinates.
    batched : bool, default True
        Batch the mailbox's signed commitments; ``False`` takes direct commitments only.
    """
    coordinator = Coordinator(
        signer=world.coordinator,
        fed_task=world.fed_task(),
        store=world.store,
        validation=world.split.validation,
        test=world.split.test,
        mailbox=world.mailbox if batched else None,
        travel=True,
        registry=world.parties.registry(),
    )
    coordinator.attach(task_id)
    return coordinator


def ballot_source(nodes: Sequence[ParticipantNode]) -> BallotSource:
    """The trusted vote's ballots of in-process participants: each scores on its own rows.

    Every node whose update is among the round's screened ones signs a ballot (a node scores
    the updates it is given; it does not trust the coordinator's copy: it can fetch the same
    bytes by their committed hashes).
    """

    def ballots(
        task_id: int, round_: int, updates: Mapping[str, ClientUpdate]
    ) -> list[BallotRecord]:
        cast = []
        for node in nodes:
            try:
                cast.append(node.ballot(task_id, round_, updates))
            except FedmarketError as exc:  # one node's failure withholds its ballot only
                log.warning("ballot_source: %s cast no ballot: %s", node.address, exc)
        return cast

    return ballots


def step_all(
    nodes: list[ParticipantNode], task_id: int, *, parallel: bool | None = None
) -> Callable[[int, Phase], None]:
    """A :data:`~fl_node.coordinator.RoundHook` that steps every node at every phase.

    When a round opens, the nodes may first train in parallel (:meth:`ParticipantNode.prepare` in
    a thread pool, one worker per core: torch releases the GIL), then each steps in turn, so the
    commitments, batches and CIDs are those of stepping them one by one.

    Parameters
    ----------
    nodes : list of ParticipantNode
        The participants.
    task_id : int
        The task.
    parallel : bool or None, default None
        Train in parallel; ``False`` trains each node in its own step; ``None`` decides by the
        model: in parallel on a GPU or from :data:`~fl_node.training.SMALL_MODEL_PARAMS`
        parameters on (small models are bound by Python, which holds the GIL: threads made a
        2,410-parameter MLP's rounds 1.3x slower on 2 cores).
    """
    workers = min(len(nodes), os.cpu_count() or 1) if parallel is not False else 1
    decided: list[bool] = [] if parallel is None else [True]

    def step(round_: int, phase: Phase) -> None:
        if workers > 1 and phase == Phase.OPENED:
            if not decided:
                decided.append(_worth_threads(nodes[0], task_id))
            if decided[0]:
                _prepare_all(nodes, task_id, workers)
        for node in nodes:
            node.step(task_id)

    return step


def _worth_threads(node: ParticipantNode, task_id: int) -> bool:
    """Whether training the task's model on threads pays: on a GPU, or a model that is not small."""
    if node.device.type != "cpu":
        return True
    model = build_model(node.spec(task_id).model)
    return sum(p.numel() for p in model.parameters()) >= SMALL_MODEL_PARAMS


def _prepare_all(nodes: list[ParticipantNode], task_id: int, workers: int) -> None:
    """Every node's :meth:`~ParticipantNode.prepare` on ``workers`` threads sharing the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before // workers))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="train") as pool:
            list(pool.map(lambda node: node.prepare(task_id), nodes))
    finally:
        torch.set_num_threads(before)


__all__ = [
    "BUYER",
    "COORDINATOR",
    "DEMO_SCHEDULE",
    "DEMO_TERMS",
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
    "step_all",
]
