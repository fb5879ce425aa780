"""Helpers of the marketplace API tests: a v2 deployment, parties, driven tasks, metadata.

:func:`drive_task` runs a FedTask v2 task with the chain client as its parties would: the sponsor
escrows the pool, participants join with a stake, the coordinator stakes and opens each round
from the last finalised model, anchors a batch of signed commitments (one participant commits
directly), travels past the reveal deadline, publishes the rewards part of the round's evidence
(``rewards.leaves``, what the API reads) and finalises with the rewards tree of its amounts;
the last round carries the shares. Time travels on the chain (``backend.wait_until(...,
travel=True)``), so nothing waits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from chain import ChainBackend, Deployment, Signer, deploy, fund, new_account, signer_for
from chain.commitments import (
    CommitmentBatch,
    RewardTree,
    UpdateCommitment,
    encode_shares,
    sign_commitment,
)
from chain.fed_task import FedTaskClient, Finalization, Schedule, TaskConfig
from chain.market import ModelMarketClient
from chain.registry import DatasetRegistryClient
from chain.token import RewardTokenClient
from incentives.rewards import split_proportional
from incentives.shares import shares_bps
from marketplace_api.core.db import Database, create_db_engine
from storage import ContentStore, LocalCidStore, canonical_json, content_hash

KNOWN_ACCOUNTS: dict[str, LocalAccount] = {}
"""Accounts the tests made, by lower-case address: test clients sign in as a write's owner."""


def known(account: LocalAccount) -> LocalAccount:
    """Remember ``account`` (see :data:`KNOWN_ACCOUNTS`); returns it."""
    KNOWN_ACCOUNTS[account.address.lower()] = account
    return account


GAS = 10**18
TOKEN = 10**18
STAKE = 5 * TOKEN
PERIOD = 600
"""Every period of the test schedules, in seconds (the tests travel, nothing waits)."""


@dataclass
class ChainWorld:
    """A deployment on one backend, a relayer and a content store."""

    backend: ChainBackend
    deployment: Deployment
    deployer: Signer
    relayer: Signer
    store: ContentStore

    def funded(self) -> LocalAccount:
        """A fresh account with gas money (known to the tests' clients, which sign in as it)."""
        account = known(new_account())
        fund(self.backend, account.address, GAS)
        return account

    def signer(self, account: LocalAccount | None) -> Signer | None:
        return signer_for(self.backend, account) if account is not None else None

    def registry(self, account: LocalAccount | None = None) -> DatasetRegistryClient:
        return self.deployment.registry_client(self.backend, self.signer(account))

    def fed_task(self, account: LocalAccount | None = None) -> FedTaskClient:
        return self.deployment.fed_task_client(self.backend, self.signer(account))

    def market(self, account: LocalAccount | None = None) -> ModelMarketClient:
        return self.deployment.market_client(self.backend, self.signer(account))

    def token(self, account: LocalAccount | None = None) -> RewardTokenClient:
        return self.deployment.token_client(self.backend, self.signer(account))

    def tokens(self, account: LocalAccount, amount: int, *spenders: str) -> None:
        """Mint ``amount`` to ``account`` and let each of ``spenders`` move it."""
        self.deployment.token_client(self.backend, self.deployer).mint(account.address, amount)
        for spender in spenders:
            self.token(account).approve(spender, amount)

    def travel(self, timestamp: int) -> None:
        self.backend.wait_until(timestamp, travel=True)


def make_world(backend: ChainBackend, store_dir: Path) -> ChainWorld:
    """Deploy the five v2 contracts on ``backend`` and fund a relayer."""
    faucet = backend.faucet_account()
    assert faucet is not None
    deployer = signer_for(backend, faucet)
    deployment = deploy(deployer)
    relayer = new_account()
    fund(backend, relayer.address, GAS)
    return ChainWorld(
        backend=backend,
        deployment=deployment,
        deployer=deployer,
        relayer=signer_for(backend, relayer),
        store=LocalCidStore(store_dir),
    )


def dataset_metadata(owner: str, name: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Realistic listing metadata (unique by default: a random suffix in the name)."""
    meta: dict[str, Any] = {
        "name": name or f"clinic {os.urandom(4).hex()}: diagnoses",
        "description": "Fine-needle aspirate features; label 1 = malignant.",
        "owner": owner,
        "schema": [
            {"name": "radius", "dtype": "float"},
            {"name": "texture", "dtype": "float"},
            {"name": "visits", "dtype": "int"},
            {"name": "site", "dtype": "category"},
            {"name": "label", "dtype": "bool"},
        ],
        "row_count": 120,
        "statistics": {
            "count": 120,
            "mean": [14.1, 19.3, 3],
            "std": [3.5, 4.3, 1.25],
            "min": [6.98, 9.71, 1],
            "max": [28.1, 39.28, 9],
        },
        "quality": {"missing_rate": 0.0, "duplicate_rate": 0.01, "label_positive_rate": 0.37},
        "license": "CC-BY-4.0",
        "tags": ["medical", "tabular"],
        "downloadable": False,
    }
    meta.update(overrides)
    return meta


@dataclass
class DrivenTask:
    """A task driven on-chain, with what the test expects the API to report."""

    task_id: int
    sponsor: LocalAccount
    coordinator: LocalAccount
    participants: list[LocalAccount]
    pool: int
    rounds: list[dict[str, Any]] = field(default_factory=list)
    allocated: dict[str, int] = field(default_factory=dict)
    claimed: dict[str, int] = field(default_factory=dict)
    shares: list[int] = field(default_factory=list)
    model_cid: str = ""
    model_hash: str = ""
    card_cid: str | None = None
    card_hash: bytes = b""
    chain_id: int = 0  # the deployment a model listing's signature is bound to
    fed_task: str = ""
    market: str = ""

    @property
    def addresses(self) -> list[str]:
        return [p.address for p in self.participants]


def start_task(
    world: ChainWorld, *, n_participants: int, pool: int, total_rounds: int
) -> DrivenTask:
    """Create a task, have ``n_participants`` join with a stake and the coordinator stake."""
    sponsor, coordinator = world.funded(), world.funded()
    participants = [world.funded() for _ in range(n_participants)]
    fed_task = world.deployment.fed_task
    world.tokens(sponsor, pool, fed_task)
    for account in (coordinator, *participants):
        world.tokens(account, STAKE, fed_task)
    spec = canonical_json({"task": os.urandom(4).hex()})
    config = TaskConfig(
        spec_cid=world.store.put(spec),
        spec_hash=content_hash(spec),
        coordinator=coordinator.address,
        pool=pool,
        total_rounds=total_rounds,
        max_participants=n_participants,
        schedule=Schedule.uniform(PERIOD),
        quorum=1,
        participant_stake=STAKE,
        coordinator_stake=STAKE,
        slash_bps=1_000,
    )
    task_id, _ = world.fed_task(sponsor).create_task(config)
    for p in participants:
        world.fed_task(p).join(task_id)
    world.fed_task(coordinator).stake_as_coordinator(task_id)
    task = DrivenTask(task_id, sponsor, coordinator, participants, pool)
    task.chain_id, task.fed_task = world.backend.chain_id, world.deployment.fed_task
    task.market = world.deployment.market
    return task


def open_round(world: ChainWorld, task: DrivenTask, number: int) -> tuple[str, bytes]:
    """Open round ``number`` from the last finalised model (a fresh one for round 1)."""
    if number == 1:
        model = b"initial model " + os.urandom(8)
        cid, digest = str(world.store.put(model)), content_hash(model)
    else:
        cid, digest = task.model_cid, bytes.fromhex(task.model_hash[2:])
    world.fed_task(task.coordinator).open_round(task.task_id, number, cid, digest)
    return cid, digest


def commit_round(
    world: ChainWorld, task: DrivenTask, number: int, submitted: Sequence[bool]
) -> list[dict[str, Any]]:
    """Submitters commit: all but the last in the coordinator's batch, the last one directly."""
    who = [p for p, does in zip(task.participants, submitted, strict=True) if does]
    updates = []
    for i, p in enumerate(who):
        update = os.urandom(16)
        updates.append(
            {"participant": p, "cid": str(world.store.put(update)), "hash": content_hash(update)}
            | {"samples": 10 + i}
        )
    domain = world.fed_task().domain()
    signed = [
        sign_commitment(
            u["participant"],
            domain,
            UpdateCommitment(task.task_id, number, u["hash"], u["samples"]),
        )
        for u in updates[:-1]
    ]
    if signed:
        batch = CommitmentBatch.build(signed)
        world.fed_task(task.coordinator).post_batch(batch, world.store.put_json(batch.to_dict()))
    if updates:
        last = updates[-1]
        world.fed_task(last["participant"]).commit_update(
            task.task_id, number, last["hash"], last["samples"], last["cid"]
        )
    return updates


def round_evidence(
    task: DrivenTask,
    number: int,
    new: tuple[str, bytes],
    cap: int,
    scores: Sequence[int],
    amounts: Sequence[int],
    root: bytes,
) -> dict[str, Any]:
    """The rewards part of a round's evidence (``fedmarket/round-evidence`` v2), as published.

    The API reads only the round it is about and the reward leaves; the rest of the document
    (commitments, verdicts, aggregation, contributions) is the audit's business.
    """
    return {
        "kind": "fedmarket/round-evidence",
        "version": 2,
        "task_id": task.task_id,
        "round": number,
        "coordinator": task.coordinator.address,
        "participants": task.addresses,
        "new_model": {"cid": new[0], "hash": "0x" + new[1].hex()},
        "rewards": {
            "cap": cap,
            "budget": sum(amounts),
            "scores": list(scores),
            "amounts": list(amounts),
            "split": "proportional",
            "root": "0x" + bytes(root).hex(),
            "leaves": [
                {"account": a, "amount": w}
                for a, w in zip(task.addresses, amounts, strict=True)
                if w
            ],
        },
    }


def finalize_round(
    world: ChainWorld,
    task: DrivenTask,
    number: int,
    *,
    base: tuple[str, bytes],
    scores: Sequence[int],
    updates: list[dict[str, Any]],
    last: bool,
    evidence: str = "honest",
    model: bytes | None = None,
) -> dict[str, Any]:
    """Travel past the reveal deadline and finalise with the rewards of ``scores``.

    ``evidence`` is ``honest`` (the published amounts are the tree's), ``tampered`` (the
    document claims other amounts than the root pays) or ``missing`` (never stored); ``model``
    is the new model's bytes (a small random one when ``None``).
    """
    coordinator = world.fed_task(task.coordinator)
    world.travel(coordinator.round(task.task_id, number).reveal_deadline)
    cap = int(coordinator.round_cap(task.task_id, number))
    amounts = split_proportional(cap if any(scores) else 0, list(scores))
    tree = RewardTree.build(task.task_id, number, dict(zip(task.addresses, amounts, strict=True)))
    if model is None:
        model = b"model after round %d " % number + os.urandom(8)
    new = (str(world.store.put(model)), content_hash(model))
    published = list(amounts)
    if evidence == "tampered":  # the document gives the first participant one wei more
        published[0], published[1] = published[0] + 1, published[1] - 1
    doc = round_evidence(task, number, new, cap, scores, published, tree.root)
    evidence_cid = (
        str(world.store.put_json(doc))
        if evidence != "missing"
        else "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    )
    for p, amount in zip(task.addresses, amounts, strict=True):
        task.allocated[p] = task.allocated.get(p, 0) + amount
    if last:
        task.shares = shares_bps([float(task.allocated[p]) for p in task.addresses])
    coordinator.finalize_round(
        task.task_id,
        number,
        Finalization(
            new_model_cid=new[0],
            new_model_hash=new[1],
            evidence_cid=evidence_cid,
            rewards_root=tree.root,
            budget=tree.budget,
            accepted=len(updates),
            shares=encode_shares(task.shares) if last else b"",
        ),
    )
    task.model_cid, task.model_hash = new[0], "0x" + new[1].hex()
    return {
        "round": number,
        "opened_model_cid": base[0],
        "opened_model_hash": "0x" + base[1].hex(),
        "model_cid": new[0],
        "evidence_cid": evidence_cid,
        "budget": tree.budget,
        "amounts": amounts,
        "tree": tree,
        "updates": updates,
    }


def drive_task(
    world: ChainWorld,
    *,
    scores: list[list[int]],
    n_participants: int = 3,
    pool: int = 1000 * TOKEN,
    total_rounds: int | None = None,
    submit: list[list[bool]] | None = None,
    claims: Sequence[tuple[int, int]] = (),
    evidence: Sequence[str] | None = None,
    final: bool = True,
    with_card: bool = True,
    final_model: bytes | None = None,
) -> DrivenTask:
    """Create a task and run ``len(scores)`` rounds of it.

    Parameters
    ----------
    world : ChainWorld
        The chain.
    scores : list of list of int
        Per finalised round, one score per participant (join order); the round's budget (its
        cap, or 0 when every score is 0) is split in proportion.
    n_participants : int, default 3
        Participants to join.
    pool : int, default 1000 tokens
        Reward pool.
    total_rounds : int or None, default None
        Rounds of the task; ``len(scores)`` (so it completes) when ``None``.
    submit : list of list of bool or None, default None
        Who commits an update per round (everyone when ``None``).
    claims : sequence of (participant index, round), default ()
        Rewards claimed once the round's window passed.
    evidence : sequence of str or None, default None
        Per round, ``honest``, ``tampered`` or ``missing`` (all honest when ``None``).
    final : bool, default True
        When the task completes, travel past the last window so that it is final.
    with_card : bool, default True
        Store a model card of the final model when the task completes.
    final_model : bytes or None, default None
        The last round's model bytes (a small random one when ``None``).
    """
    rounds_total = total_rounds or len(scores)
    task = start_task(world, n_participants=n_participants, pool=pool, total_rounds=rounds_total)
    for index, round_scores in enumerate(scores):
        number = index + 1
        base = open_round(world, task, number)
        submitted = submit[index] if submit else [True] * n_participants
        updates = commit_round(world, task, number, submitted)
        task.rounds.append(
            finalize_round(
                world,
                task,
                number,
                base=base,
                scores=round_scores,
                updates=updates,
                last=number == rounds_total,
                evidence=evidence[index] if evidence else "honest",
                model=final_model if number == rounds_total else None,
            )
        )
    for who, number in claims:
        claim_reward(world, task, who, number)
    completed = len(scores) == rounds_total
    if completed and final:
        world.travel(world.fed_task().round(task.task_id, rounds_total).claimable_at)
    if completed and with_card:
        card = canonical_json(
            model_card(task.task_id, task.model_cid, task.model_hash, rounds=rounds_total)
        )
        task.card_cid, task.card_hash = str(world.store.put(card)), content_hash(card)
    return task


def claim_reward(world: ChainWorld, task: DrivenTask, who: int, number: int) -> int:
    """Participant ``who`` claims its reward of round ``number`` (travelling past the window)."""
    account = task.participants[who]
    world.travel(world.fed_task().round(task.task_id, number).claimable_at)
    tree: RewardTree = task.rounds[number - 1]["tree"]
    world.fed_task(account).claim_rewards(task.task_id, tree.claim_for(account.address))
    amount = int(tree.amount_of(account.address))
    task.claimed[account.address] = task.claimed.get(account.address, 0) + amount
    return amount


def list_on_market(
    world: ChainWorld,
    task: DrivenTask,
    *,
    price: int = 25 * TOKEN,
    sponsor_bps: int = 1_000,
    card_cid: str | None = None,
    card_hash: bytes | None = None,
) -> int:
    """The sponsor lists the task's model on the ModelMarket; the listing's id."""
    model_id, _ = world.market(task.sponsor).list_model(
        task.task_id,
        price,
        sponsor_bps,
        card_cid or task.card_cid or "",
        card_hash if card_hash is not None else task.card_hash,
    )
    return model_id


def model_card(task_id: int, model_cid: str, model_hash: str, **overrides: Any) -> dict[str, Any]:
    """A model card in the coordinator's format."""
    card: dict[str, Any] = {
        "kind": "fedmarket/model-card",
        "task_id": task_id,
        "name": "diagnosis-mlp",
        "model_cid": model_cid,
        "model_hash": model_hash,
        "config": {"kind": "mlp", "hidden": [16]},
        "feature_names": ["radius", "texture"],
        "rounds": 2,
        "metrics": {"accuracy": 0.95, "f1": 0.93, "auc": 0.98},
        "acceptance": {"accuracy": 0.92, "f1": 0.88},
        "artifacts": {},
        "evidence": [],
    }
    card.update(overrides)
    return card


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Database]:
    """A :class:`Database` whose every change is rolled back at the end.

    Sessions join an outer transaction on one connection through SAVEPOINTs
    (``join_transaction_mode="create_savepoint"``), so a handler's ``commit()`` only releases a
    savepoint and the outer ``rollback()`` undoes everything.
    """
    with engine.connect() as connection:
        outer = connection.begin()
        factory = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield Database(engine, factory)
        finally:
            outer.rollback()


DB_KINDS = ["sqlite", "postgresql"]


@contextmanager
def fresh_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    url = make_url(server_url)
    name = f"{prefix}_{os.urandom(4).hex()}"
    conninfo: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": "postgres",
    }
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def empty_database(kind: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[Engine]:
    """An engine on an empty database of ``kind``."""
    if kind == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp / f'market-{os.urandom(3).hex()}.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    server = request.getfixturevalue("postgres_url")
    with fresh_postgres_database(server, "market") as url:
        engine = create_db_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
