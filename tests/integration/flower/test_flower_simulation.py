"""A Flower app (the quickstart's shape) on Flower's simulation engine, anchored and paid.

Flower's ``run_simulation`` with the Ray backend runs fedquick's ServerApp (FedAvg wrapped by
:class:`fl_node.flower.AnchoredStrategy`) in this process against the in-process chain, and its
ClientApp (train wrapped by :func:`fl_node.flower.anchor_train`) on two virtual SuperNodes in Ray
workers, which hold nothing but their participant keys. Every round is opened, anchored and
finalised on-chain; the audit recomputes it from the chain and the store; the hospitals claim.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_node.audit import audit_task
from fl_node.flower import FlowerCoordinator
from tests.integration.flower._world import FlowerTask, claim_all, make_task

pytestmark = [pytest.mark.slow]

ROUNDS = 2
BACKEND = {
    "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    # a Ray instance of its own, even where another process runs one ("local")
    "init_args": {"address": "local", "num_cpus": 2, "include_dashboard": False},
}


def _coordinator(task: FlowerTask) -> FlowerCoordinator:
    world = task.world
    coordinator = FlowerCoordinator(
        signer=world.coordinator,
        fed_task=world.fed_task(),
        store=world.store,
        validation=world.split.validation,
        test=world.split.test,
        travel=True,
    )
    coordinator.attach(task.task_id)
    return coordinator


def _simulate(task: FlowerTask, *, tamper_partition: int | None = None) -> FlowerCoordinator:
    from fedquick.client_app import make_client_app
    from fedquick.server_app import make_server_app
    from flwr.simulation import run_simulation

    coordinator = _coordinator(task)
    run_simulation(
        server_app=make_server_app(lambda _: coordinator, rounds=ROUNDS),
        client_app=make_client_app(tamper_partition),
        num_supernodes=2,
        backend_config=BACKEND,  # type: ignore[arg-type]
    )
    return coordinator


def test_simulation_anchors_every_round_and_pays_both_hospitals(tmp_path: Path) -> None:
    task = make_task(tmp_path / "store", rounds=ROUNDS)
    coordinator = _simulate(task)

    reports = coordinator.reports
    seen = [(r.round, r.accepted, r.rejected, r.test.accuracy, r.contributions) for r in reports]
    assert [r.round for r in reports] == [1, 2], seen
    assert all(r.accepted == 2 and not r.rejected for r in reports), seen
    assert all(r.test.accuracy > 0.9 for r in reports), seen
    info = task.world.fed_task().task(task.task_id)
    assert info.status.ended and int(info.last_round) == ROUNDS
    report = audit_task(task.world.fed_task(), task.world.store, task.task_id)
    assert report.ok, report.failures
    assert all(r.round(n) for r in [report] for n in (1, 2))
    paid = claim_all(task)
    assert paid == [sum(r.amounts[i] for r in reports) for i in range(2)], (paid, seen)
    assert sum(paid) == sum(r.budget for r in reports) > 0
    for r in reports:  # paid by measured contribution (leave-one-out): nothing for a negative one
        assert [a > 0 for a in r.amounts] == [c > 0 for c in r.contributions], seen


def test_simulation_rejects_and_does_not_pay_a_tampered_update(tmp_path: Path) -> None:
    task = make_task(tmp_path / "store", rounds=ROUNDS)
    coordinator = _simulate(task, tamper_partition=1)

    attacker = task.nodes[1].address
    assert [r.round for r in coordinator.reports] == [1, 2]
    for r in coordinator.reports:
        verdicts = {v.participant.lower(): v for v in r.verdicts}
        assert verdicts[attacker.lower()].accepted is False
        assert verdicts[attacker.lower()].reason == "missing"  # committed, bytes never revealed
        assert verdicts[task.nodes[0].address.lower()].accepted is True
        assert r.amounts[1] == 0
        committed = {c.participant.lower() for c in r.commitments}
        assert attacker.lower() in committed  # its signed commitment is anchored on-chain
    report = audit_task(task.world.fed_task(), task.world.store, task.task_id)
    assert report.ok, report.failures
    paid = claim_all(task)
    assert paid[1] == 0 and paid[0] == sum(r.amounts[0] for r in coordinator.reports) > 0
