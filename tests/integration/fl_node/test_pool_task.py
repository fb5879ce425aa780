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

import chain.commitments as chain_commitments
import fl_node.pool.lanes as lanes_module
import fl_node.pool.ledger as ledger_module
import fl_node.pool.run as run_module
from chain import DEPLOYER, provision
from chain.backends import InProcessBackend
from chain.commitments import UpdateCommitment
from chain.fed_task import Schedule
from fedmarket.bench._fl_task import bench_task
from fl_node.commitments import commitments_of_round
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
from kernel.types import Address
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


def _run(
    tmp: Path,
    runner_class: type[PoolRunner] = PoolRunner,
    *,
    batched: bool = True,
    **spec_args: Any,
) -> Finished:
    spec, split = _spec(**spec_args)
    store = LocalCidStore(tmp)
    roles = [SPONSOR, COORDINATOR, "buyer", *(participant_role(i) for i in range(CLIENTS))]
    ledger = FedTaskLedger(provision(InProcessBackend(), roles), store, batched=batched)
    ledger.create(spec, pool=POOL, schedule=Schedule.uniform(60), n_participants=CLIENTS)
    parties = [PoolParty(a, d) for a, d in zip(ledger.participants, split.hospitals, strict=True)]
    runner = runner_class(spec, parties, split.validation, split.test, SECRET, ledger, store)
    return runner.run(), ledger, store


def _audit(ledger: FedTaskLedger, store: LocalCidStore, *, validation: bool = True) -> PoolAudit:
    rows = _spec()[1].validation if validation else None
    return audit_pool(ledger.parties.fed_task(), store, ledger.task_id, validation=rows)


@pytest.fixture(scope="module")
def honest(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PoolResult, FedTaskLedger, LocalCidStore]:
    return _run(tmp_path_factory.mktemp("pool"))


def _committed(ledger: FedTaskLedger, store: LocalCidStore, round_: int) -> list[str]:
    participants = [Address(a) for a in ledger.participants]
    reader = ledger.parties.fed_task()
    _, records = commitments_of_round(reader, store, ledger.task_id, round_, participants)
    return [r.update_hash for r in records]


def test_one_batch_root_a_round_anchors_every_update_and_the_audit_passes(
    honest: Finished,
) -> None:
    result, ledger, store = honest
    reader = ledger.parties.fed_task()
    for rnd in result.rounds:
        assert _committed(ledger, store, rnd.round) == list(rnd.update_hashes)
        assert reader.round(ledger.task_id, rnd.round).commitments == CLIENTS
        # no participant sent a transaction of its own: the chain shows no commit time
        assert reader.updates_committed(ledger.task_id, rnd.round) == []
        assert set(rnd.draw.drawn) == {lane.lane for lane in rnd.lanes}
    audit = _audit(ledger, store)
    assert audit.ok, audit.problems
    assert audit.rounds == ROUNDS


def test_direct_commitments_are_audited_too(tmp_path: Path) -> None:
    result, ledger, store = _run(tmp_path, batched=False)
    reader = ledger.parties.fed_task()
    for rnd in result.rounds:
        assert _committed(ledger, store, rnd.round) == list(rnd.update_hashes)
        assert len(reader.updates_committed(ledger.task_id, rnd.round)) == CLIENTS
    assert _audit(ledger, store).ok


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


def test_a_batch_leaf_the_participant_did_not_sign_fails_the_updates_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coordinator signs participant 0's commitment with its own key (a forged leaf)."""
    honest_sign = chain_commitments.sign_commitment
    forger = provision(InProcessBackend(), ["forger"]).accounts["forger"]

    def forge(account: Any, domain: Any, commitment: UpdateCommitment) -> Any:
        signed = honest_sign(account, domain, commitment)
        if not forged:
            forged.append(signed.participant)
        if signed.participant == forged[0]:
            again = honest_sign(forger, domain, commitment)
            return dataclasses.replace(again, participant=signed.participant)
        return signed

    forged: list[str] = []
    monkeypatch.setattr(ledger_module, "sign_commitment", forge)
    _, ledger, store = _run(tmp_path)
    problems = _audit(ledger, store).problems
    assert problems and all(name == "updates" and forged[0] in p for name, p in problems)


class _InflatingCoordinator(PoolRunner):
    """Measures honestly, then doubles a friend's contributions before summing and recording.

    Evidence, scores and rewards agree with each other: only re-measuring shows the lie.
    """

    def _aggregate(self, *args: Any) -> list[LaneRound]:
        friend = self.parties[0].address
        return [
            dataclasses.replace(
                lane,
                contributions={
                    p: 2 * c + 0.01 if p == friend else c for p, c in lane.contributions.items()
                },
            )
            for lane in super()._aggregate(*args)
        ]


def test_consistently_inflated_contributions_are_caught_by_re_measuring(tmp_path: Path) -> None:
    _, ledger, store = _run(tmp_path, _InflatingCoordinator)
    assert _audit(ledger, store, validation=False).ok  # summing and paying are consistent
    problems = _audit(ledger, store).problems
    assert problems and {name for name, _ in problems} == {"measured"}


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


def test_an_update_that_lies_about_its_base_model_is_refused_and_unpaid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A participant trains the model it was dealt but says it started from another one."""
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
    result, ledger, store = _run(tmp_path)
    index = list(ledger.participants).index(cheater[0])
    for rnd in result.rounds:
        evidence = store.get_json(rnd.evidence_cid)
        verdicts = {u["participant"]: u["verdict"] for u in evidence["updates"]}
        assert verdicts.pop(cheater[0]) == "wrong_base_model"
        assert set(verdicts.values()) == {"accepted"}
        assert rnd.amounts[index] == 0 and rnd.contributions[index] == 0.0
    assert _audit(ledger, store).ok


class _RefusingCoordinator(PoolRunner):
    """Refuses participant 0's sound update as if it named the wrong base model."""

    def _screen(self, *args: Any) -> dict[str, str]:
        verdicts = super()._screen(*args)
        verdicts[self.parties[0].address] = "wrong_base_model"
        return verdicts


def test_a_coordinator_that_refuses_a_sound_update_fails_the_updates_check(
    tmp_path: Path,
) -> None:
    _, ledger, store = _run(tmp_path, _RefusingCoordinator)
    problems = _audit(ledger, store).problems
    assert problems and {name for name, _ in problems} <= {"updates", "aggregation"}
    assert any("judged wrong_base_model, not accepted" in p for _, p in problems)
