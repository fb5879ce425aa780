"""A horizontal task end to end on the in-process chain, honest and with tampered updates."""

from __future__ import annotations

import pytest

from chain import TaskStatus
from fedmarket.demo import (
    TOKEN,
    World,
    build_world,
    design_task,
    make_coordinator,
    make_participants,
    sponsor_task,
)
from fl_node.participant import ParticipantNode
from storage import content_hash

pytestmark = pytest.mark.slow

POOL = 300 * TOKEN


def start(tmp_path, rounds: int) -> tuple[World, int, list[ParticipantNode]]:
    world = build_world(tmp_path / "store")
    world.token(world.deployer).mint(world.sponsor.address, POOL)
    stats = [h.stats() for h in world.split.hospitals]
    spec = design_task(stats, world.split.feature_names, rounds=rounds)
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4)
    return world, task_id, make_participants(world, task_id)


def paid_in_round(world: World, task_id: int, round_: int) -> dict[str, int]:
    return {r.participant: r.amount for r in world.fed_task().rewards(task_id, round_)}


def test_honest_task_anchors_every_update_and_pays_out_the_pool(tmp_path):
    world, task_id, nodes = start(tmp_path, rounds=3)
    coordinator = make_coordinator(world, task_id)
    reports = coordinator.run(between=lambda r: [n.step(task_id) for n in nodes])
    assert [r.round for r in reports] == [1, 2, 3]
    assert len(world.fed_task().update_anchors(task_id)) == 3 * 4
    assert all(r.accepted == 4 and not r.rejected for r in reports)
    info = world.fed_task().task(task_id)
    assert info.status is TaskStatus.COMPLETED
    assert info.model_cid == reports[-1].model_cid
    # the final model in the store is the one anchored on-chain
    assert content_hash(world.store.get(info.model_cid)) == info.model_hash
    owed = sum(world.fed_task().owed(n.address) for n in nodes)
    assert owed + info.escrow == POOL
    assert reports[-1].test.accuracy > 0.9
    # each round's evidence names every update's CID and the rewards the chain paid
    evidence = world.store.get_json(reports[0].evidence_cid)
    anchors = world.fed_task().update_anchors(task_id, 1)
    assert {u["cid"] for u in evidence["updates"]} == {a.cid for a in anchors}
    assert evidence["rewards"]["amounts"] == list(paid_in_round(world, task_id, 1).values())


def test_update_altered_after_anchoring_is_rejected_and_unpaid(tmp_path):
    world, task_id, nodes = start(tmp_path, rounds=2)
    coordinator = make_coordinator(world, task_id)
    victim = nodes[1]

    def between(round_: int) -> None:
        for node in nodes:
            node.step(task_id)
        if round_ == 1:
            # The bytes behind the anchored CID are replaced after anchoring (a poisoned update).
            sent = victim.history[-1]
            path = world.store.path_of(sent.cid)
            blob = bytearray(path.read_bytes())
            blob[-8:] = b"\x00\x00\xc0\x7f" * 2  # NaN-filled tail
            path.write_bytes(bytes(blob))

    reports = coordinator.run(between=between)
    first = reports[0]
    verdict = first.verdicts[1]
    assert verdict.participant == victim.address
    assert not verdict.accepted
    assert verdict.reason == "hash_mismatch"
    assert first.accepted == 3
    assert first.contributions[1] == 0.0
    assert first.scores[1] == 0
    assert paid_in_round(world, task_id, 1)[victim.address] == 0
    assert sum(paid_in_round(world, task_id, 1).values()) in (0, first.budget)
    # the round still completed, and the next one accepts the participant's honest update
    assert world.fed_task().task(task_id).status is TaskStatus.COMPLETED
    assert reports[1].verdicts[1].accepted
    evidence = world.store.get_json(first.evidence_cid)
    assert evidence["updates"][1]["reason"] == "hash_mismatch"


def _malicious_round(world: World, task_id: int, nodes, cheat) -> list:
    coordinator = make_coordinator(world, task_id)
    round_ = coordinator.open_round()
    for node in nodes[1:]:
        node.step(task_id)
    cheat(nodes[0], round_)
    return coordinator.finalize_round().verdicts


def test_anchor_that_names_other_bytes_is_rejected(tmp_path):
    world, task_id, nodes = start(tmp_path, rounds=1)

    def cheat(node: ParticipantNode, round_: int) -> None:
        cid = world.store.put(b"some other bytes")
        node.fed_task.submit_update(task_id, round_, content_hash(b"the real update"), cid, 10)

    verdicts = _malicious_round(world, task_id, nodes, cheat)
    assert (verdicts[0].accepted, verdicts[0].reason) == (False, "hash_mismatch")
    assert all(v.accepted for v in verdicts[1:])


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"not a safetensors file", "malformed"), (None, "missing")],
    ids=["malformed", "missing"],
)
def test_consistent_but_invalid_updates_are_rejected(tmp_path, payload, reason):
    world, task_id, nodes = start(tmp_path, rounds=1)

    def cheat(node: ParticipantNode, round_: int) -> None:
        blob = payload if payload is not None else b"never stored"
        cid = (
            world.store.put(blob)
            if payload is not None
            else "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        )
        node.fed_task.submit_update(task_id, round_, content_hash(blob), cid, 10)

    verdicts = _malicious_round(world, task_id, nodes, cheat)
    assert (verdicts[0].accepted, verdicts[0].reason) == (False, reason)


def test_update_replayed_from_another_participant_is_rejected(tmp_path):
    world, task_id, nodes = start(tmp_path, rounds=1)

    def cheat(node: ParticipantNode, round_: int) -> None:
        # copy hospital-2's update (its metadata names hospital-2) and anchor it as our own
        other = nodes[1].history[-1]
        node.fed_task.submit_update(task_id, round_, other.update_hash, other.cid, other.samples)

    verdicts = _malicious_round(world, task_id, nodes, cheat)
    assert (verdicts[0].accepted, verdicts[0].reason) == (False, "wrong_participant")
    assert verdicts[1].accepted


def test_missing_participant_scores_zero_and_round_completes(tmp_path):
    world, task_id, nodes = start(tmp_path, rounds=1)
    coordinator = make_coordinator(world, task_id)
    coordinator.open_round()
    for node in nodes[:3]:
        node.step(task_id)
    assert coordinator.wait_for_updates(timeout=0.2, poll_interval=0.05) is False
    report = coordinator.finalize_round()
    assert report.verdicts[3].reason == "not_submitted"
    assert report.scores[3] == 0
    assert world.fed_task().task(task_id).status is TaskStatus.COMPLETED


def test_coordinator_resumes_a_task_in_progress(tmp_path):
    world, task_id, nodes = start(tmp_path, rounds=2)
    first = make_coordinator(world, task_id)
    first.open_round()
    for node in nodes:
        node.step(task_id)
    first.finalize_round()
    # a new coordinator process picks up from the chain's latest model
    second = make_coordinator(world, task_id)
    assert second.model_cid == world.fed_task().task(task_id).model_cid
    reports = second.run(between=lambda r: [n.step(task_id) for n in nodes])
    assert [r.round for r in reports] == [2]
    assert reports[0].accepted == 4


def test_fedsgd_task_runs_and_audits(tmp_path):
    from dataclasses import replace

    from fl_node.audit import audit_task

    world = build_world(tmp_path / "store")
    world.token(world.deployer).mint(world.sponsor.address, POOL)
    base = design_task(
        [h.stats() for h in world.split.hospitals], world.split.feature_names, rounds=3
    )
    spec = replace(base, strategy="fedsgd", server_lr=0.5)
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4)
    nodes = make_participants(world, task_id)
    reports = make_coordinator(world, task_id).run(
        between=lambda r: [n.step(task_id) for n in nodes]
    )
    assert all(r.accepted == 4 for r in reports)
    # one full-batch step per round: the validation loss falls round after round
    losses = [r.validation.log_loss for r in reports]
    assert losses == sorted(losses, reverse=True)
    assert audit_task(world.fed_task(), world.store, task_id).ok
    evidence = world.store.get_json(reports[0].evidence_cid)
    assert evidence["aggregation"]["strategy"] == "fedsgd"


def test_participant_refuses_a_global_model_that_differs_from_its_anchor(tmp_path):
    from fl_node.errors import ModelIntegrityError

    world, task_id, nodes = start(tmp_path, rounds=1)
    coordinator = make_coordinator(world, task_id)
    coordinator.open_round()
    path = world.store.path_of(coordinator.model_cid)
    blob = bytearray(path.read_bytes())
    blob[-4:] = b"\x00\x00\x80\x3f"  # one weight changed after the round was opened
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelIntegrityError, match="on-chain hash"):
        nodes[0].step(task_id)
    assert not world.fed_task().update(task_id, 1, nodes[0].address)[2]  # nothing was anchored
