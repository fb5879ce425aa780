"""Helpers of the marketplace API tests: a deployed chain, parties, a driven task, metadata."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from chain import (
    ChainBackend,
    DatasetRegistryClient,
    Deployment,
    FedTaskClient,
    RewardTokenClient,
    Signer,
    deploy,
    fund,
    new_account,
    signer_for,
)
from incentives.rewards import split_proportional
from marketplace_api.core.db import Database, create_db_engine
from storage import ContentStore, LocalCidStore, content_hash

GAS = 10**18
TOKEN = 10**18


@dataclass
class ChainWorld:
    """A deployment on one backend, a relayer and a content store."""

    backend: ChainBackend
    deployment: Deployment
    deployer: Signer
    relayer: Signer
    store: ContentStore

    def funded(self) -> LocalAccount:
        """A fresh account with gas money."""
        account = new_account()
        fund(self.backend, account.address, GAS)
        return account

    def registry(self) -> DatasetRegistryClient:
        return DatasetRegistryClient(self.backend, self.deployment.registry)

    def fed_task(self, signer: Signer | None = None) -> FedTaskClient:
        client = FedTaskClient(
            self.backend, self.deployment.fed_task, from_block=self.deployment.block
        )
        return client.as_signer(signer) if signer else client

    def token(self, signer: Signer | None = None) -> RewardTokenClient:
        client = RewardTokenClient(self.backend, self.deployment.token)
        return client.as_signer(signer) if signer else client


def make_world(backend: ChainBackend, store_dir: Path) -> ChainWorld:
    """Deploy the contracts on ``backend`` and fund a relayer."""
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
    totals: dict[str, int] = field(default_factory=dict)
    card_cid: str | None = None
    model_cid: str = ""
    model_hash: str = ""
    chain_id: int = 0  # the deployment a model listing's signature is bound to
    fed_task: str = ""


def drive_task(
    world: ChainWorld,
    *,
    scores: list[list[int]],
    n_participants: int = 3,
    pool: int = 1000 * TOKEN,
    total_rounds: int | None = None,
    submit: list[list[bool]] | None = None,
    with_card: bool = True,
) -> DrivenTask:
    """Create a task and run ``len(scores)`` rounds of it with fake updates.

    Parameters
    ----------
    world : ChainWorld
        The chain.
    scores : list of list of int
        Per finalised round, one score per participant (join order).
    n_participants : int, default 3
        Participants to join.
    pool : int, default 1000 tokens
        Reward pool.
    total_rounds : int or None, default None
        Rounds of the task; ``len(scores)`` (so it completes) when ``None``.
    submit : list of list of bool or None, default None
        Who submits an update per round (everyone when ``None``).
    with_card : bool, default True
        Store a model card of the final model when the task completes.
    """
    sponsor, coordinator = world.funded(), world.funded()
    participants = [world.funded() for _ in range(n_participants)]
    backend = world.backend
    world.token(world.deployer).mint(sponsor.address, pool)
    world.token(signer_for(backend, sponsor)).approve(world.deployment.fed_task, pool)
    spec = f'{{"task":"{os.urandom(4).hex()}"}}'.encode()
    spec_cid = world.store.put(spec)
    rounds_total = total_rounds or len(scores)
    task_id, _ = world.fed_task(signer_for(backend, sponsor)).create_task(
        spec_cid=spec_cid,
        spec_hash=content_hash(spec),
        coordinator=coordinator.address,
        pool=pool,
        total_rounds=rounds_total,
        max_participants=n_participants,
    )
    for p in participants:
        world.fed_task(signer_for(backend, p)).join(task_id)
    driven = DrivenTask(task_id, sponsor, coordinator, participants, pool)
    driven.chain_id, driven.fed_task = backend.chain_id, world.deployment.fed_task
    coord = world.fed_task(signer_for(backend, coordinator))
    model = b"initial model " + os.urandom(8)
    escrow = pool
    for index, round_scores in enumerate(scores):
        number = index + 1
        model_cid = world.store.put(model)
        coord.open_round(task_id, number, model_cid, content_hash(model))
        submitted = submit[index] if submit else [True] * n_participants
        updates = []
        for p, does in zip(participants, submitted, strict=True):
            if not does:
                continue
            update = os.urandom(16)
            cid = world.store.put(update)
            world.fed_task(signer_for(backend, p)).submit_update(
                task_id, number, content_hash(update), cid, 10 + len(updates)
            )
            updates.append({"participant": p.address, "cid": cid, "samples": 10 + len(updates)})
        model = b"model after round %d " % number + os.urandom(8)
        new_cid = world.store.put(model)
        evidence_cid = world.store.put_json({"round": number, "scores": round_scores})
        budget = escrow // (rounds_total - index)
        coord.finalize_round(
            task_id,
            number,
            model_cid=new_cid,
            model_hash=content_hash(model),
            evidence_cid=evidence_cid,
            scores=round_scores,
            budget=budget,
        )
        amounts = split_proportional(budget, round_scores)
        escrow -= sum(amounts)
        for p, amount in zip(participants, amounts, strict=True):
            driven.totals[p.address] = driven.totals.get(p.address, 0) + amount
        driven.rounds.append(
            {
                "round": number,
                "opened_model_cid": model_cid,
                "model_cid": new_cid,
                "evidence_cid": evidence_cid,
                "budget": budget,
                "paid": sum(amounts),
                "amounts": amounts,
                "scores": round_scores,
                "updates": updates,
            }
        )
        driven.model_cid, driven.model_hash = new_cid, "0x" + content_hash(model).hex()
    if with_card and len(scores) == rounds_total:
        driven.card_cid = world.store.put_json(
            model_card(task_id, driven.model_cid, driven.model_hash, rounds=rounds_total)
        )
    return driven


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
