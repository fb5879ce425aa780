"""The story, step by step: list, sponsor, train, claim, publish, sell, audit.

:func:`run_demo` is what ``fedmarket demo`` runs. Each step is one function below, in the
order the chain sees them, and reports its progress as a typed event
(:mod:`fl_node.events`, :mod:`fedmarket.demo.events`) to the caller's sink. The task runs on
protocol v2: stakes, deadlines crossed by time travel on the in-process chain, commitments
batched through the mailbox, claims by Merkle proof after each challenge window, stakes back
after the cooldown, the final model listed on ModelMarket and bought once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chain import ChainBackend
from chain.fed_task import StakeWithdrawnEvent
from fedmarket.demo.deliverables import publish_deliverables
from fedmarket.demo.events import (
    ApiStarted,
    DatasetListed,
    ModelListed,
    ModelSold,
    RoundFinished,
    StakesReturned,
)
from fedmarket.demo.sale import MODEL_PRICE, list_model, sell_once
from fedmarket.demo.summary import Outcome, build_summary
from fedmarket.demo.task import MODEL_LISTING, TAG, dataset_metadata, design_task
from fedmarket.demo.world import (
    SPONSOR,
    TOKEN,
    World,
    build_world,
    make_coordinator,
    make_participants,
    sponsor_task,
    step_all,
)
from fl_node.audit import AuditFailedError, AuditReport, audit_task
from fl_node.coordinator import Coordinator, RoundReport
from fl_node.data import FeatureStats
from fl_node.events import (
    Audited,
    ChainReady,
    EventSink,
    Finished,
    RewardsPaid,
    TaskCreated,
    log_sink,
)
from fl_node.participant import ParticipantNode
from fl_node.reporting import dump_json

if TYPE_CHECKING:
    from marketplace_api import MarketplaceClient

CLAIM_MIN_ROUNDS = 3
"""Rounds a hospital lets accumulate before it claims them, in one ``claimMany``."""


def run_demo(
    out: Path,
    *,
    rounds: int = 10,
    pool_tokens: int = 1000,
    seed: int = 2024,
    on_event: EventSink | None = None,
    hold: Callable[[str], None] | None = None,
    port: int = 0,
    backend: ChainBackend | None = None,
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
        Seed of the parties' keys and of the data split.
    on_event : EventSink or None, default None
        Receives each progress event (the CLI renders them); logged at DEBUG when ``None``.
    hold : callable or None, default None
        Called with the marketplace's URL once everything is written, while the service still
        runs over the demo's chain and store (``fedmarket demo --serve`` blocks there until
        interrupted, so a newcomer can click through the task); the service stops when it returns.
    port : int, default 0
        The marketplace's port on 127.0.0.1 (0 picks a free one).
    backend : ChainBackend or None, default None
        The chain (one with a faucet and time travel, such as anvil); a fresh in-process chain
        when ``None``.

    Returns
    -------
    dict
        The summary also written to ``out/summary.json``.

    Raises
    ------
    AuditFailedError
        When the task's audit fails a check (``summary.json`` is written first).
    """
    emit = on_event or log_sink
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(out / "store", seed=seed, backend=backend)
    world.deployment.save(out / "deployment.json")
    emit(ChainReady(backend=world.backend.describe(), fed_task=world.deployment.fed_task))
    pool = pool_tokens * TOKEN
    world.mint(world.sponsor, pool)
    with _marketplace(world, out, emit, port) as api:
        outcome = _story(world, api, out, rounds=rounds, pool=pool, emit=emit)
        audit = _audit(world, outcome.task_id, out, emit)
        summary = _conclude(world, outcome, audit, out, pool=pool, started=started, emit=emit)
        if hold is not None:
            hold(api.base_url)
    return summary


@contextmanager
def _marketplace(
    world: World, out: Path, emit: EventSink, port: int = 0
) -> Iterator[MarketplaceClient]:
    """The marketplace API as a real server over the world's chain and store, and its client."""
    from marketplace_api import MarketplaceClient, Services, create_app, serve_in_thread

    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{out / 'marketplace.db'}",
    )
    server = serve_in_thread(create_app(services=services), port=port)
    emit(ApiStarted(url=server.url))
    try:
        with MarketplaceClient(server.url) as api:
            yield api
    finally:
        server.stop()


def _story(
    world: World, api: MarketplaceClient, out: Path, *, rounds: int, pool: int, emit: EventSink
) -> Outcome:
    """Everything that needs the marketplace: from the listings to the model's sale."""
    listed = _list_datasets(world, api, emit)
    stats = [FeatureStats.from_dict(item["statistics"]) for item in listed]
    spec = design_task(stats, world.split.feature_names, rounds=rounds)
    task_id = sponsor_task(world, spec, pool=pool, max_participants=len(world.hospitals))
    emit(TaskCreated(task_id=task_id, pool_wei=pool, rounds=rounds))
    nodes, coordinator = _train(world, task_id, emit)
    remainder = _settle(world, task_id, nodes, emit)
    deliverables = publish_deliverables(world, task_id, spec, coordinator.reports, out)
    model_id, listing_gas = list_model(world, task_id, deliverables.card_cid)
    described = api.list_model(
        world.accounts[SPONSOR],
        task_id=task_id,
        card_cid=deliverables.card_cid,
        price_wei=MODEL_PRICE,
        **MODEL_LISTING,
    )
    emit(ModelListed(model_id=model_id, card_cid=deliverables.card_cid, price_wei=MODEL_PRICE))
    sale = sell_once(world, model_id, [n.address for n in nodes])
    emit(
        ModelSold(
            model_id=model_id,
            price_wei=sale.price,
            contributors_wei=sale.contributors_amount,
            claimed_wei=dict(sale.claimed),
        )
    )
    return Outcome(
        task_id=task_id,
        spec=spec,
        reports=coordinator.reports,
        nodes=nodes,
        coordinator=coordinator,
        remainder_wei=remainder,
        deliverables=deliverables,
        datasets_listed=len(listed),
        sale=sale,
        listing_gas=listing_gas,
        model_listing_id=int(described["id"]),
        task_view_rounds=len(api.task(task_id)["rounds"]),
    )


def _list_datasets(world: World, api: MarketplaceClient, emit: EventSink) -> list[dict[str, Any]]:
    """Each hospital signs its listing; the API relays it on-chain. Return what the API lists."""
    names = world.split.feature_names
    for signer, data in zip(world.hospitals, world.split.hospitals, strict=True):
        listing = api.list_dataset(
            world.accounts[world.names[signer.address]],
            dataset_metadata(data, names, signer.address),
        )
        emit(DatasetListed(name=data.name, dataset_id=int(listing["id"]), rows=data.rows))
    return api.datasets(tag=TAG)


def _train(
    world: World, task_id: int, emit: EventSink
) -> tuple[list[ParticipantNode], Coordinator]:
    """The hospitals join with their stakes; the coordinator runs every round and settles.

    The coordinator moves the chain's clock deadline by deadline and hands over to the
    hospitals at each phase: they train and post signed commitments, check the batch, reveal,
    claim after each window, and take their stakes back after the cooldown.
    """
    nodes = make_participants(world, task_id, claim_min_rounds=CLAIM_MIN_ROUNDS)
    coordinator = make_coordinator(world, task_id)

    def finished(report: RoundReport) -> None:
        emit(
            RoundFinished(
                round=report.round,
                accuracy=report.test.values().get("accuracy", float("nan")),
                f1=report.test.values().get("f1", float("nan")),
                rejected=len(report.rejected),
                paid_wei=report.budget,
                gas_used=report.gas.total,
            )
        )

    coordinator.run(between=step_all(nodes, task_id), on_round=finished)
    return nodes, coordinator


def _settle(world: World, task_id: int, nodes: list[ParticipantNode], emit: EventSink) -> int:
    """What the hospitals claimed and the stakes returned; the sponsor takes back the rest."""
    paid = {str(n.address): sum(c.amount for c in n.claims) for n in nodes}
    remainder = int(world.fed_task().task(task_id).unallocated)
    if remainder:
        world.fed_task(world.sponsor).withdraw_remainder(task_id)
    emit(RewardsPaid(task_id=task_id, paid_wei=paid, remainder_wei=remainder))
    withdrawn = world.fed_task().events(StakeWithdrawnEvent, task_id=task_id)
    emit(StakesReturned(task_id=task_id, returned_wei={e.account: e.amount for e in withdrawn}))
    return remainder


def _conclude(
    world: World,
    outcome: Outcome,
    audit: AuditReport,
    out: Path,
    *,
    pool: int,
    started: float,
    emit: EventSink,
) -> dict[str, Any]:
    """Write ``summary.json`` (with the audit's verdict); fail loudly when the audit failed."""
    seconds = round(time.monotonic() - started, 2)
    summary = build_summary(world, outcome, audit, pool_wei=pool, seconds=seconds)
    path = dump_json(summary, out / "summary.json")
    if not audit.ok:
        raise AuditFailedError(f"{audit.failure_line()} (see {out / 'audit.json'})")
    emit(Finished(summary_path=str(path), seconds=summary["seconds"]))
    return summary


def _audit(world: World, task_id: int, out: Path, emit: EventSink) -> AuditReport:
    """Recompute the task from the chain, the store, the mailbox and the validation set.

    The demo holds the coordinator's validation set, so every published utility is re-measured
    too; the sample counts are bounded by the registry's listings. Writes ``audit.json``.
    """
    audit = audit_task(
        world.fed_task(),
        world.store,
        task_id,
        mailbox=world.mailbox,
        validation=world.split.validation,
        registry=world.parties.registry(),
    )
    dump_json(audit.to_dict(), out / "audit.json")
    emit(Audited(task_id=task_id, ok=audit.ok, checks=sum(len(r.checks) for r in audit.rounds)))
    return audit


__all__ = ["run_demo"]
