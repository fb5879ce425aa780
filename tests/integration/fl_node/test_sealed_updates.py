"""A task whose updates are sealed at rest, on the in-process chain (issue 14, part E).

The spec lists the coordinator's public key and an auditor's; participants publish their updates
sealed (fl_node.sealed), committing to keccak-256 of the plaintext and the CID of the sealed
object. The coordinator opens them with its account key and aggregates as with plain updates; the
store holds no plaintext; the auditor with the granted key passes, one without it is told it
cannot check the updates; a byte flipped in the store is a CID failure; an update wrapped to a
stranger is rejected as unreadable and earns nothing.
"""

from __future__ import annotations

import secrets

import pytest
import torch

from chain import demo_account
from fedmarket.demo.world import COORDINATOR, make_coordinator
from fl_node.audit import UPDATE_CHECKS, audit_task
from fl_node.coordinator import Phase
from fl_node.errors import SpecError
from fl_node.participant import ParticipantNode
from fl_node.sealed import holder_id, is_sealed_update, read_sealed_update, seal_update
from fl_node.serialization import decode_model
from fl_node.validation import SEALED_NO_KEY
from storage.sealing import public_key_of
from tests.integration.fl_node.flow import Flow, direct_terms, hook, start, swap

pytestmark = pytest.mark.slow

AUDITOR = secrets.token_bytes(32)
STRANGER = secrets.token_bytes(32)


class WrapsToAStranger(ParticipantNode):
    """Seals its update properly, but wraps the key to a stranger instead of the holders."""

    def _seal(self, blob, info):  # noqa: ANN001, ANN202 - the node's own hook
        return seal_update(
            *(blob,),
            task_id=int(info.task_id),
            round_=int(info.last_round),
            participant=self.address,
            holders=(public_key_of(STRANGER),),
        )


COORDINATOR_KEY = bytes(demo_account(2024, COORDINATOR).key)
"""The flow's coordinator key (build_world's default seed)."""


def sealed_flow(tmp_path, *, nodes=None, extra_holders=(AUDITOR,), rounds=1) -> Flow:
    """A task sealed to the coordinator and ``extra_holders``, quorum two."""
    keys = tuple(holder_id(public_key_of(k)) for k in (COORDINATOR_KEY, *extra_holders))
    flow = start(
        tmp_path,
        rounds=rounds,
        terms=direct_terms(quorum=2),
        nodes=nodes,
        spec_changes={"sealed_updates": keys},
    )
    assert bytes(flow.world.coordinator.account.key) == COORDINATOR_KEY
    return flow


def flip_a_byte(flow: Flow, node: ParticipantNode) -> None:
    path = flow.world.store.path_of(node.history[-1].cid)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_sealed_updates_are_aggregated_kept_from_readers_and_audited(tmp_path):
    flow = sealed_flow(tmp_path, nodes=swap(3, WrapsToAStranger))
    honest, tampered, stranger = flow.nodes[:2], flow.nodes[2], flow.nodes[3]

    def tamper(round_: int, phase: Phase) -> None:
        if phase is Phase.REVEAL:
            flip_a_byte(flow, tampered)

    reports = flow.run(extra=tamper)
    report = reports[-1]
    verdicts = {v.participant: v for v in report.verdicts}
    assert [verdicts[n.address].accepted for n in honest] == [True, True]
    assert verdicts[tampered.address].reason == "cid_mismatch"
    assert verdicts[stranger.address].reason == "unreadable"
    earned = dict(
        zip([v.participant for v in report.verdicts], report.rewards.amounts, strict=True)
    )
    assert sum(earned[n.address] for n in honest) == report.budget > 0  # the round pays
    assert earned[tampered.address] == earned[stranger.address] == 0
    assert sum(c.amount for c in stranger.claims) == 0
    # the chain commits to the plaintext's hash and the sealed object's CID
    for node in honest:
        sent = node.history[-1]
        data = flow.world.store.get(sent.cid)
        assert is_sealed_update(data)
        assert set(read_sealed_update(data).holders()) == set(flow.spec.sealed_updates)
        assert verdicts[node.address].update_hash == "0x" + bytes(sent.update_hash).hex()
    # the auditor holding a granted key recomputes every verdict and the aggregate
    audited = audit_task(flow.ft, flow.world.store, flow.task_id, update_key=AUDITOR)
    assert audited.ok and audited.complete, audited.failure_line()
    # without a key: nothing fails, the update checks are not checked, and it says why
    blind = audit_task(flow.ft, flow.world.store, flow.task_id)
    assert blind.ok and not blind.complete and not blind.failures
    assert {c.name for _, c in blind.unchecked} == set(UPDATE_CHECKS) - {"utilities"}
    assert all("no key" in c.detail for _, c in blind.unchecked)
    names = {c.name for c in blind.rounds[0].checks if c.checked and c.ok}
    assert {"evidence", "commitments", "contribution", "rewards"} <= names
    # a stranger's key is no key at all
    other = audit_task(flow.ft, flow.world.store, flow.task_id, update_key=STRANGER)
    assert other.ok and not other.complete


def test_a_sealed_run_aggregates_the_model_a_plain_run_does(tmp_path):
    sealed = sealed_flow(tmp_path / "sealed", extra_holders=())
    plain = start(tmp_path / "plain", rounds=1, terms=direct_terms(quorum=2))
    sealed_report = sealed.run(settle=False)[-1]
    plain_report = plain.run(settle=False)[-1]
    assert sealed_report.accepted == plain_report.accepted == 4
    assert [v.update_hash for v in sealed_report.verdicts] == [
        v.update_hash for v in plain_report.verdicts
    ]  # the same plaintext updates, committed by hash
    assert [v.cid for v in sealed_report.verdicts] != [v.cid for v in plain_report.verdicts]
    a = decode_model(sealed.world.store.get(sealed_report.model_cid)).module.state_dict()
    b = decode_model(plain.world.store.get(plain_report.model_cid)).module.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    for node in plain.nodes:  # a plain task stores the very plaintext
        assert not is_sealed_update(plain.world.store.get(node.history[-1].cid))
    assert SEALED_NO_KEY not in {v.reason for v in sealed_report.verdicts}


def test_participants_refuse_a_task_sealed_only_to_others(tmp_path):
    only_auditor = (holder_id(public_key_of(AUDITOR)),)
    with pytest.raises(SpecError, match="coordinator"):
        start(tmp_path, rounds=1, spec_changes={"sealed_updates": only_auditor})


def test_a_coordinator_resuming_a_sealed_task_opens_the_past_rounds(tmp_path):
    """The screening's history is rebuilt from the sealed updates of round 1 (opened again)."""
    flow = sealed_flow(tmp_path, rounds=2, extra_holders=())

    def stop_after_round_one(round_: int, phase: Phase) -> None:
        if (round_, phase) == (1, Phase.FINALIZED):
            raise KeyboardInterrupt  # the coordinator's process dies between rounds

    with pytest.raises(KeyboardInterrupt):
        flow.coordinator.run(
            between=hook(flow.nodes, flow.task_id, stop_after_round_one), settle=False
        )
    second = make_coordinator(flow.world, flow.task_id)
    assert len(second.screen.history) == 5  # the four round-1 steps, opened, and the global one
    [report] = second.run(between=hook(flow.nodes, flow.task_id), settle=False)
    assert report.round == 2 and report.accepted == 4
