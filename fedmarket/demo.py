"""The walking skeleton's story, end to end, on the embedded default.

``fedmarket demo --out DIR`` (or ``scripts/demo``) runs it: four hospitals list their datasets
through the marketplace API (a real uvicorn server; each listing signed by the hospital and
recorded on-chain for its address), a sponsor designs a task from the listings' statistics and
escrows a reward pool, four participant nodes train ten rounds of FedAvg with every update
anchored, the coordinator pays each round by leave-one-out contribution, the participants claim
their rewards, and the final model is published and listed in the marketplace.

The pieces are reusable: :func:`build_world` and friends set up the same parties for the tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from chain import (
    ChainBackend,
    Deployment,
    FedTaskClient,
    InProcessBackend,
    RewardTokenClient,
    Signer,
    demo_account,
    deploy,
    fund,
    signer_for,
)
from fl_node.audit import audit_task
from fl_node.coordinator import Coordinator, RoundReport
from fl_node.data import FeatureStats, FederatedSplit, LocalDataset, breast_cancer_hospitals
from fl_node.data.stats import pool_stats
from fl_node.models import ModelSpec
from fl_node.participant import ParticipantNode
from fl_node.reporting import (
    communication_stats,
    dump_json,
    evaluation_report,
    model_card,
    plot_loss_curve,
    training_log,
    write_training_log,
)
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from storage import ContentStore, LocalCidStore, content_hash

log = logging.getLogger(__name__)

TOKEN = 10**18
GAS_FUNDING_WEI = 10 * 10**18
ACCEPTANCE = {"accuracy": 0.92, "f1": 0.88}

EventSink = Callable[[str, dict[str, Any]], None]


def _quiet(kind: str, payload: dict[str, Any]) -> None:
    log.debug("event %s: %s", kind, payload)


@dataclass
class World:
    """Every party of the story and the shared infrastructure they use."""

    backend: ChainBackend
    store: ContentStore
    deployment: Deployment
    deployer: Signer
    sponsor: Signer
    coordinator: Signer
    relayer: Signer
    hospitals: list[Signer]
    accounts: dict[str, LocalAccount]
    split: FederatedSplit
    names: dict[str, str] = field(default_factory=dict)  # address -> display name

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
    """Deploy the contracts and create and fund every party, each with its own fresh key.

    Parameters
    ----------
    store_dir : Path
        Folder of the embedded content store.
    backend : ChainBackend or None, default None
        The chain; a fresh in-process chain when ``None``.
    n_hospitals : int, default 4
        Number of hospitals (participants).
    seed : int, default 2024
        Seed of the hospitals' data split.
    """
    backend = backend or InProcessBackend()
    faucet = backend.faucet_account()
    if faucet is None:
        raise ValueError("build_world: the chain has no faucet to fund the parties")
    deployer = signer_for(backend, faucet)
    deployment = deploy(deployer)
    roles = ["sponsor", "coordinator", "relayer"] + [
        f"hospital-{i + 1}" for i in range(n_hospitals)
    ]
    accounts = {role: demo_account(seed, role) for role in roles}
    signers: dict[str, Signer] = {}
    for role, account in accounts.items():
        fund(backend, account.address, GAS_FUNDING_WEI)
        signers[role] = signer_for(backend, account)
    world = World(
        backend=backend,
        store=LocalCidStore(store_dir),
        deployment=deployment,
        deployer=deployer,
        sponsor=signers["sponsor"],
        coordinator=signers["coordinator"],
        relayer=signers["relayer"],
        hospitals=[signers[f"hospital-{i + 1}"] for i in range(n_hospitals)],
        accounts=accounts,
        split=breast_cancer_hospitals(n_hospitals, seed=seed),
    )
    world.names = {signers[r].address: r for r in roles}
    return world


def dataset_metadata(
    data: LocalDataset, feature_names: tuple[str, ...], owner: str
) -> dict[str, Any]:
    """What a hospital publishes about its dataset: schema and statistics, never rows."""
    rows = data.x.tolist()
    duplicates = len(rows) - len({tuple(r) for r in rows})
    return {
        "name": f"{data.name}: breast cancer diagnoses",
        "description": (
            f"Fine-needle aspirate features of {data.rows} patients of {data.name} "
            "(Wisconsin diagnostic breast cancer, UCI, CC BY 4.0); label 1 = malignant."
        ),
        "owner": owner,
        "schema": [{"name": n, "dtype": "float"} for n in feature_names]
        + [{"name": "label", "dtype": "bool"}],
        "row_count": data.rows,
        "statistics": data.stats().to_dict(),
        "quality": {
            "missing_rate": 0.0,
            "duplicate_rate": duplicates / data.rows,
            "label_positive_rate": data.positive_rate(),
        },
        "license": "CC-BY-4.0",
        "tags": ["medical", "breast-cancer", "tabular", "binary-classification"],
        "downloadable": False,
    }


def design_task(
    stats: list[FeatureStats], feature_names: tuple[str, ...], *, rounds: int = 10
) -> TaskSpec:
    """The sponsor's task: an MLP whose input scaling comes from the pooled listing statistics."""
    mean, std = pool_stats(stats)
    return TaskSpec(
        name="breast-cancer-diagnosis",
        description="Malignant vs benign across four hospitals (horizontal FL, FedAvg).",
        model=ModelSpec(
            n_features=len(feature_names),
            feature_mean=tuple(mean),
            feature_std=tuple(std),
            kind="mlp",
            hidden=(16,),
            seed=7,
        ),
        train=TrainConfig(local_epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=1e-4),
        rounds=rounds,
        feature_names=feature_names,
        strategy="fedavg",
        contribution="leave-one-out",
        acceptance=dict(ACCEPTANCE),
    )


def sponsor_task(world: World, spec: TaskSpec, *, pool: int, max_participants: int) -> int:
    """Store the spec, approve the escrow and create the task; return its id."""
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
    """One node per hospital, each with only its own rows; optionally joined to ``task_id``."""
    nodes = [
        ParticipantNode(signer=s, fed_task=world.fed_task(), store=world.store, data=d)
        for s, d in zip(world.hospitals, world.split.hospitals, strict=True)
    ]
    if join:
        for node in nodes:
            node.join(task_id)
    return nodes


def make_coordinator(world: World, task_id: int) -> Coordinator:
    """The coordinator with its own validation data and the held-out test set."""
    coordinator = Coordinator(
        signer=world.coordinator,
        fed_task=world.fed_task(),
        store=world.store,
        validation=world.split.validation,
        test=world.split.test,
    )
    coordinator.attach(task_id)
    return coordinator


def chain_gas_used(backend: ChainBackend, senders: Iterable[str], from_block: int) -> int:
    """Gas used by the transactions of ``senders`` since ``from_block``, read from the chain."""
    w3 = backend.w3
    total = 0
    wanted = {s.lower() for s in senders}
    for number in range(from_block, int(w3.eth.block_number) + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if isinstance(tx, bytes) or str(tx["from"]).lower() not in wanted:
                continue
            total += int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
    return total


def publish_deliverables(
    world: World,
    task_id: int,
    spec: TaskSpec,
    reports: list[RoundReport],
    out: Path,
) -> dict[str, Any]:
    """Write the model files, training log, loss curve and report; store them; return the card."""
    info = world.fed_task().task(task_id)
    model_bytes = world.store.get(info.model_cid)
    (out / "model.safetensors").write_bytes(model_bytes)
    dump_json(
        {
            "task_id": task_id,
            "model_cid": info.model_cid,
            "model_hash": "0x" + info.model_hash.hex(),
            "model": spec.model.to_dict(),
            "feature_names": list(spec.feature_names),
            "train": spec.train.to_dict(),
            "strategy": spec.strategy,
            "rounds": spec.rounds,
            "output": "logit of malignancy (apply a sigmoid for the probability)",
        },
        out / "model_config.json",
    )
    rows = training_log(reports, world.names)
    write_training_log(rows, out / "training_log.csv")
    comm = communication_stats(rows)
    dump_json(comm, out / "communication.json")
    plot_loss_curve(reports, rows, out / "loss_curve.png", f"{spec.name} (task {task_id})")
    report = evaluation_report(
        spec, reports, comm, task_id=task_id, model_cid=info.model_cid, names=world.names
    )
    (out / "evaluation_report.md").write_text(report, encoding="utf-8")
    artifacts = {
        name: world.store.put((out / name).read_bytes())
        for name in (
            "model_config.json",
            "training_log.csv",
            "communication.json",
            "loss_curve.png",
            "evaluation_report.md",
        )
    }
    card = model_card(
        spec,
        reports,
        task_id=task_id,
        model_cid=info.model_cid,
        model_hash="0x" + info.model_hash.hex(),
        artifacts=artifacts,
    )
    card_cid = world.store.put_json(card)
    return {"card": card, "card_cid": card_cid, "artifacts": artifacts}


def run_demo(
    out: Path,
    *,
    rounds: int = 10,
    pool_tokens: int = 1000,
    seed: int = 2024,
    on_event: EventSink | None = None,
) -> dict[str, Any]:
    """Run the whole story and write ``summary.json`` and the deliverables into ``out``.

    Parameters
    ----------
    out : Path
        Output folder (created).
    rounds : int, default 10
        Training rounds.
    pool_tokens : int, default 1000
        Reward pool in whole tokens (18 decimals).
    seed : int, default 2024
        Seed of the data split.
    on_event : callable or None, default None
        Receives ``(kind, payload)`` progress events (the CLI renders them).

    Returns
    -------
    dict
        The summary also written to ``out/summary.json``.
    """
    from marketplace_api import MarketplaceClient, Services, create_app, serve_in_thread

    emit = on_event or _quiet
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(out / "store", seed=seed)
    world.deployment.save(out / "deployment.json")
    emit("chain", {"backend": world.backend.describe(), "fed_task": world.deployment.fed_task})
    pool = pool_tokens * TOKEN
    world.token(world.deployer).mint(world.sponsor.address, pool)

    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{out / 'marketplace.db'}",
    )
    server = serve_in_thread(create_app(services=services))
    emit("api", {"url": server.url})
    try:
        with MarketplaceClient(server.url) as api:
            names = world.split.feature_names
            for signer, data in zip(world.hospitals, world.split.hospitals, strict=True):
                listing = api.list_dataset(
                    world.accounts[world.names[signer.address]],
                    dataset_metadata(data, names, signer.address),
                )
                emit("listed", {"name": data.name, "dataset_id": listing["id"], "rows": data.rows})
            listed = api.datasets(tag="breast-cancer")
            stats = [FeatureStats.from_dict(item["statistics"]) for item in listed]
            spec = design_task(stats, names, rounds=rounds)
            task_id = sponsor_task(world, spec, pool=pool, max_participants=len(world.hospitals))
            emit("task", {"task_id": task_id, "pool_wei": pool, "rounds": rounds})

            nodes = make_participants(world, task_id)
            coordinator = make_coordinator(world, task_id)

            def step_all(round_: int) -> None:
                for node in nodes:
                    node.step(task_id)

            reports = coordinator.run(
                between=step_all, on_round=lambda r: emit("round", {"report": r})
            )

            paid: dict[str, int] = {}
            for node in nodes:
                owed = world.fed_task().owed(node.address)
                if owed:
                    world.fed_task(node.signer).claim_rewards()
                paid[node.address] = world.token().balance_of(node.address)
            remainder = world.fed_task().task(task_id).escrow
            if remainder:
                world.fed_task(world.sponsor).withdraw_remainder(task_id)

            deliverables = publish_deliverables(world, task_id, spec, reports, out)
            listing = api.list_model(
                world.accounts["coordinator"],
                task_id=task_id,
                name="Breast cancer diagnosis MLP (4 hospitals)",
                description="FedAvg MLP trained across four hospitals; shares by contribution.",
                price_wei=str(10 * TOKEN),
                card_cid=deliverables["card_cid"],
            )
            emit("model", {"model_id": listing["id"], "card_cid": deliverables["card_cid"]})
            task_view = api.task(task_id)
    finally:
        server.stop()

    audit = audit_task(world.fed_task(), world.store, task_id)
    dump_json(audit.to_dict(), out / "audit.json")
    emit("audit", {"ok": audit.ok, "checks": sum(len(r.checks) for r in audit.rounds)})
    final = reports[-1]
    anchors = world.fed_task().update_anchors(task_id)
    senders = {s.address for s in (world.deployer, world.sponsor, world.coordinator, world.relayer)}
    senders |= {s.address for s in world.hospitals}
    summary = {
        "task": spec.name,
        "task_id": task_id,
        "rounds": len(reports),
        "participants": len(nodes),
        "metrics": {
            k: final.test.to_dict()[k]
            for k in ("accuracy", "f1", "precision", "recall", "auc", "ks")
        },
        "acceptance": {
            "targets": spec.acceptance,
            "met": all(final.test.to_dict()[k] >= v for k, v in spec.acceptance.items()),
        },
        "chain": {
            "backend": world.backend.name,
            "chain_id": world.backend.chain_id,
            "contracts": world.deployment.to_dict(),
            "updates_anchored": len(anchors),
            "updates_rejected": sum(len(r.rejected) for r in reports),
            "gas_used_total": chain_gas_used(world.backend, senders, 0),
        },
        "participant_names": {n.address: world.names[n.address] for n in nodes},
        "rewards": {
            "pool_wei": pool,
            "paid_wei": paid,
            "remainder_wei": remainder,
            "per_round_paid_wei": [sum(r.amounts) for r in reports],
        },
        "artifacts": {
            "global_model_cid": world.fed_task().task(task_id).model_cid,
            "model_card_cid": deliverables["card_cid"],
            "report": "evaluation_report.md",
            "model": "model.safetensors",
            "model_config": "model_config.json",
            "training_log": "training_log.csv",
            "loss_curve": "loss_curve.png",
            "communication": "communication.json",
            "evidence": [r.evidence_cid for r in reports],
        },
        "audit": {
            "ok": audit.ok,
            "checks": sum(len(r.checks) for r in audit.rounds),
            "failures": [f"round {r}: {c.name}: {c.detail}" for r, c in audit.failures],
            "report": "audit.json",
        },
        "marketplace": {
            "datasets_listed": len(listed),
            "model_listing_id": listing["id"],
            "task_view_rounds": len(task_view["rounds"]),
        },
        "seconds": round(time.monotonic() - started, 2),
    }
    dump_json(summary, out / "summary.json")
    return summary
