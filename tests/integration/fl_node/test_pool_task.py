"""A pool task on the in-process chain: recorded, paid, audited, and three dishonest coordinators.

Each party signs with its own key; the audit reads only FedTask and the store. The attacks are
coordinators that (1) deal the assignment they like instead of the committed secret's draw,
(2) leave an update out of its base model's aggregate, (3) pay a friend more than its summed
contributions: each is caught by the check named for it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import fl_node.pool.lanes as lanes_module
import fl_node.pool.run as run_module
from chain import DEPLOYER, provision
from chain.backends import InProcessBackend
from chain.fed_task import Schedule
from fedmarket.bench._fl_task import bench_task
from fl_node.data import LocalDataset
from fl_node.pool.acceptance import AcceptanceRule
from fl_node.pool.assignment import PoolDraw, seed_commitment
from fl_node.pool.audit import PoolAudit, audit_pool
from fl_node.pool.convergence import ConvergenceRule
from fl_node.pool.lanes import Lane, LaneRound, LaneUpdate
from fl_node.pool.ledger import COORDINATOR, SPONSOR, FedTaskLedger, participant_role
from fl_node.pool.run import PoolParty, PoolResult, PoolRunner
from fl_node.pool.spec import PoolSpec
from fl_node.serialization import UpdateMeta
from fl_node.training import TrainConfig
from storage import LocalCidStore, canonical_json, content_hash

SECRET = bytes(range(32))
Finished = tuple[PoolResult, FedTaskLedger, LocalCidStore]
CLIENTS, ROUNDS, POOL = 4, 3, 10**21


def _spec(rounds: int = ROUNDS, band: float = 0.05) -> tuple[PoolSpec, Any]:
    task = bench_task("digits", clients=CLIENTS, rounds=rounds)
    m = task.spec.model
    models = (m, dataclasses.replace(m, seed=1), dataclasses.replace(m, kind="linear", hidden=()))
    spec = PoolSpec(
        name="pool-test",
        base_models=models,
        train=task.spec.train,
        rounds=rounds,
        convergence=ConvergenceRule(window=2, band=band),
        acceptance=AcceptanceRule(),
        seed_commitment="0x" + seed_commitment(SECRET).hex(),
        feature_names=task.split.feature_names,
    )
    return spec, task.split


def _run(tmp: Path, runner_class: type[PoolRunner] = PoolRunner, **spec_args: Any) -> Finished:
    spec, split = _spec(**spec_args)
    store = LocalCidStore(tmp)
    roles = [SPONSOR, COORDINATOR, "buyer", *(participant_role(i) for i in range(CLIENTS))]
    ledger = FedTaskLedger(provision(InProcessBackend(), roles), store)
    ledger.create(spec, pool=POOL, schedule=Schedule.uniform(60), n_participants=CLIENTS)
    parties = [PoolParty(a, d) for a, d in zip(ledger.participants, split.hospitals, strict=True)]
    runner = runner_class(spec, parties, split.validation, split.test, SECRET, ledger, store)
    return runner.run(), ledger, store


def _audit(ledger: FedTaskLedger, store: LocalCidStore) -> PoolAudit:
    return audit_pool(ledger.parties.fed_task(), store, ledger.task_id)


@pytest.fixture(scope="module")
def honest(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PoolResult, FedTaskLedger, LocalCidStore]:
    return _run(tmp_path_factory.mktemp("pool"))


def test_the_chain_records_each_update_commitment_and_the_audit_passes(
    honest: tuple[PoolResult, FedTaskLedger, LocalCidStore],
) -> None:
    result, ledger, store = honest
    reader = ledger.parties.fed_task()
    for rnd in result.rounds:
        for address, digest in zip(ledger.participants, rnd.update_hashes, strict=True):
            on_chain = reader.commitment_of(ledger.task_id, rnd.round, address)
            assert on_chain is not None and "0x" + bytes(on_chain.update_hash).hex() == digest
        assert set(rnd.draw.drawn) == {lane.lane for lane in rnd.lanes}
    audit = _audit(ledger, store)
    assert audit.ok, audit.problems
    assert audit.rounds == ROUNDS


def test_the_bundle_lists_every_decision_and_the_participants_are_paid(
    honest: tuple[PoolResult, FedTaskLedger, LocalCidStore],
) -> None:
    result, ledger, store = honest
    bundle = store.get_json(result.bundle_cid)
    assert bundle["kind"] == "fedmarket/pool-bundle"
    assert [d["model"] for d in bundle["decisions"]] == [0, 1, 2]
    accepted = {e["model"] for e in bundle["accepted"]}
    assert accepted == {d.model for d in result.decisions if d.accepted} and accepted
    paid = [sum(r.amounts[i] for r in result.rounds) for i in range(CLIENTS)]
    assert list(result.received) == paid and sum(paid) > 0
    assert ledger.parties.fed_task().task(ledger.task_id).status.ended


def test_the_bundle_is_sold_and_the_sale_flows_to_the_contributors(honest: Finished) -> None:
    result, ledger, store = honest
    p, price = ledger.parties, 10**18
    card = canonical_json({"kind": "fedmarket/pool-card", "bundle": result.bundle_cid})
    model_id, _ = p.market(SPONSOR).list_model(
        ledger.task_id, price, 0, store.put(card), bytes(content_hash(card))
    )
    p.token(DEPLOYER).mint(p.address("buyer"), price)
    p.token("buyer").approve(p.deployment.market, price)
    bought, _ = p.market("buyer").buy(model_id, price)
    shares = p.fed_task().shares(ledger.task_id)
    proceeds = [int(p.market().claimable_proceeds(model_id, a)) for a in ledger.participants]
    assert sum(proceeds) == price - bought.fee - bought.sponsor_amount > 0
    assert [x > 0 for x in proceeds] == [s > 0 for s in shares]


def test_a_pool_that_converged_closes_its_last_rounds_unpaid_and_audited(tmp_path: Path) -> None:
    result, ledger, store = _run(tmp_path, rounds=6, band=1.0)
    trained = [r for r in result.rounds if r.lanes]
    closed = result.rounds[len(trained) :]
    assert closed and all(not r.update_hashes and not any(r.amounts) for r in closed)
    assert all(at == 2 for at in result.converged_at)
    assert store.get_json(result.bundle_cid)["kind"] == "fedmarket/pool-bundle"
    audit = _audit(ledger, store)
    assert audit.ok and audit.rounds == 6, audit.problems
    assert ledger.parties.fed_task().task(ledger.task_id).status.ended


class _FavouringCoordinator(PoolRunner):
    """Deals participant 0 to base model 0 every round, whatever the secret draws."""

    def _draw(self, round_: int) -> tuple[bytes, PoolDraw]:
        seed, drawn = super()._draw(round_)
        friend = self.parties[0].address
        assignment = tuple((p, 0 if p == friend else m) for p, m in drawn.assignment)
        return seed, PoolDraw(round_, tuple(sorted({m for _, m in assignment})), assignment)


class _DroppingCoordinator(PoolRunner):
    """Leaves the last participant's update out of its base model's aggregate."""

    def _aggregate(
        self, round_: int, drawn: PoolDraw, updates: list[LaneUpdate], hashes: dict[int, bytes]
    ) -> list[LaneRound]:
        return super()._aggregate(round_, drawn, updates[:-1], hashes)


class _OverpayingCoordinator(PoolRunner):
    """Records participant 0's contribution in each base model as ten times what it measured."""

    def _evidence(self, *args: Any) -> dict[str, Any]:
        evidence = super()._evidence(*args)
        friend = self.parties[0].address
        for model in evidence["models"]:
            if friend in model["contributions"]:
                model["contributions"][friend] *= 10
        return evidence


@pytest.mark.parametrize(
    ("runner", "check"),
    [
        (_FavouringCoordinator, "draw"),
        (_DroppingCoordinator, "aggregation"),
        (_OverpayingCoordinator, "contributions"),
    ],
)
def test_a_dishonest_coordinator_fails_the_named_check(
    tmp_path: Path, runner: type[PoolRunner], check: str
) -> None:
    _, ledger, store = _run(tmp_path, runner)
    audit = _audit(ledger, store)
    assert not audit.ok
    assert check in {name for name, _ in audit.problems}, audit.problems


def test_an_update_for_another_base_model_fails_the_updates_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A participant trains the base model it was dealt but says it started from another one."""
    honest_train = lanes_module.train_on_lane
    cheater: list[str] = []

    def lying(
        lane: Lane, data: LocalDataset, train: TrainConfig, meta: UpdateMeta, **kw: Any
    ) -> LaneUpdate:
        if not cheater:
            cheater.append(meta.participant)
        if meta.participant == cheater[0]:
            meta = dataclasses.replace(meta, base_model_hash="0x" + "ab" * 32)
        return honest_train(lane, data, train, meta, **kw)

    monkeypatch.setattr(run_module, "train_on_lane", lying)
    _, ledger, store = _run(tmp_path)
    problems = _audit(ledger, store).problems
    assert {name for name, _ in problems} == {"updates", "aggregation"}
    assert all(cheater[0] in p for name, p in problems if name == "updates")
