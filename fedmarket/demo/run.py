"""The story, step by step: list, sponsor, train, pay, publish, audit.

:func:`run_demo` is what ``fedmarket demo`` runs. Each step is one function below, in the
order the chain sees them, and reports its progress as a typed event
(:mod:`fl_node.events`, :mod:`fedmarket.demo.events`) to the caller's sink.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedmarket.demo.deliverables import publish_deliverables
from fedmarket.demo.events import ApiStarted, DatasetListed, ModelListed, RoundFinished
from fedmarket.demo.summary import Outcome, build_summary
from fedmarket.demo.task import MODEL_LISTING, TAG, dataset_metadata, design_task
from fedmarket.demo.world import (
    COORDINATOR,
    TOKEN,
    World,
    build_world,
    make_coordinator,
    make_participants,
    sponsor_task,
)
from fl_node.audit import AuditReport, audit_task
from fl_node.coordinator import RoundReport
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
        Seed of the parties' keys and of the data split.
    on_event : EventSink or None, default None
        Receives each progress event (the CLI renders them); logged at DEBUG when ``None``.

    Returns
    -------
    dict
        The summary also written to ``out/summary.json``.
    """
    emit = on_event or log_sink
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(out / "store", seed=seed)
    world.deployment.save(out / "deployment.json")
    emit(ChainReady(backend=world.backend.describe(), fed_task=world.deployment.fed_task))
    pool = pool_tokens * TOKEN
    world.token(world.deployer).mint(world.sponsor.address, pool)
    with _marketplace(world, out, emit) as api:
        outcome = _story(world, api, out, rounds=rounds, pool=pool, emit=emit)
    audit = _audit(world, outcome.task_id, out, emit)
    summary = build_summary(
        world, outcome, audit, pool_wei=pool, seconds=round(time.monotonic() - started, 2)
    )
    path = dump_json(summary, out / "summary.json")
    emit(Finished(summary_path=str(path), seconds=summary["seconds"]))
    return summary


@contextmanager
def _marketplace(world: World, out: Path, emit: EventSink) -> Iterator[MarketplaceClient]:
    """The marketplace API as a real server over the world's chain and store, and its client."""
    from marketplace_api import MarketplaceClient, Services, create_app, serve_in_thread

    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database_url=f"sqlite:///{out / 'marketplace.db'}",
    )
    server = serve_in_thread(create_app(services=services))
    emit(ApiStarted(url=server.url))
    try:
        with MarketplaceClient(server.url) as api:
            yield api
    finally:
        server.stop()


def _story(
    world: World, api: MarketplaceClient, out: Path, *, rounds: int, pool: int, emit: EventSink
) -> Outcome:
    """Everything that needs the marketplace: from the listings to the model's listing."""
    listed = _list_datasets(world, api, emit)
    stats = [FeatureStats.from_dict(item["statistics"]) for item in listed]
    spec = design_task(stats, world.split.feature_names, rounds=rounds)
    task_id = sponsor_task(world, spec, pool=pool, max_participants=len(world.hospitals))
    emit(TaskCreated(task_id=task_id, pool_wei=pool, rounds=rounds))
    nodes, reports = _train(world, task_id, emit)
    paid, remainder = _settle(world, task_id, nodes, emit)
    deliverables = publish_deliverables(world, task_id, spec, reports, out)
    model = api.list_model(
        world.accounts[COORDINATOR],
        task_id=task_id,
        price_wei=str(10 * TOKEN),
        card_cid=deliverables.card_cid,
        **MODEL_LISTING,
    )
    emit(ModelListed(model_id=int(model["id"]), card_cid=deliverables.card_cid))
    return Outcome(
        task_id=task_id,
        spec=spec,
        reports=reports,
        participants=[n.address for n in nodes],
        paid_wei=paid,
        remainder_wei=remainder,
        deliverables=deliverables,
        datasets_listed=len(listed),
        model_listing_id=model["id"],
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
) -> tuple[list[ParticipantNode], list[RoundReport]]:
    """The hospitals join; the coordinator runs every round, the nodes stepping in between."""
    nodes = make_participants(world, task_id)
    coordinator = make_coordinator(world, task_id)

    def step_all(round_: int) -> None:
        for node in nodes:
            node.step(task_id)

    def finished(report: RoundReport) -> None:
        emit(
            RoundFinished(
                round=report.round,
                accuracy=report.test.accuracy,
                f1=report.test.f1,
                rejected=len(report.rejected),
                paid_wei=sum(report.amounts),
            )
        )

    return nodes, coordinator.run(between=step_all, on_round=finished)


def _settle(
    world: World, task_id: int, nodes: list[ParticipantNode], emit: EventSink
) -> tuple[dict[str, int], int]:
    """The participants claim what they are owed; the sponsor takes back the remainder."""
    paid: dict[str, int] = {}
    for node in nodes:
        if world.fed_task().owed(node.address):
            world.fed_task(node.signer).claim_rewards()
        paid[node.address] = world.token().balance_of(node.address)
    remainder = world.fed_task().task(task_id).escrow
    if remainder:
        world.fed_task(world.sponsor).withdraw_remainder(task_id)
    emit(RewardsPaid(task_id=task_id, paid_wei=dict(paid), remainder_wei=remainder))
    return paid, remainder


def _audit(world: World, task_id: int, out: Path, emit: EventSink) -> AuditReport:
    """Recompute the task from the chain and the store; write ``audit.json``."""
    audit = audit_task(world.fed_task(), world.store, task_id)
    dump_json(audit.to_dict(), out / "audit.json")
    emit(Audited(task_id=task_id, ok=audit.ok, checks=sum(len(r.checks) for r in audit.rounds)))
    return audit


__all__ = ["run_demo"]
