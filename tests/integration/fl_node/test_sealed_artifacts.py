"""A task whose models and evidence are sealed at rest too, on the in-process chain (issue 14).

The spec seals the updates to the coordinator and an auditor, and the task's own artifacts (every
global model, evidence document, batch document) to them and its readers: the four hospitals and
the sponsor. A reader of the content store without a listed key finds no plaintext model and no
evidence; the participants train and are paid as in a plain task; the auditor with its key passes
every check; one without a key learns only that the rounds exist; a byte changed in a sealed
evidence object fails the audit; a hospital the spec does not list refuses to join; a
coordinator that stores the artifacts in the clear, or wraps their keys to a friend, fails the
audit's ``sealed`` check (which needs no key).
"""

from __future__ import annotations

import json
import secrets

import pytest

from chain import demo_account
from fedmarket.demo.world import COORDINATOR, SPONSOR, hospital_roles, make_coordinator
from fl_node.audit import audit_task
from fl_node.coordinator import Coordinator, Phase
from fl_node.errors import SpecError
from fl_node.sealed import holder_id, is_sealed_update
from fl_node.serialization import decode_model
from storage import content_hash
from storage.sealed_store import (
    SealedObjectLockedError,
    SealedStore,
    is_sealed_object,
    sealed_holders,
)
from storage.sealing import public_key_of
from tests.integration.fl_node.flow import Flow, direct_terms, hook, start

pytestmark = pytest.mark.slow

AUDITOR = secrets.token_bytes(32)
STRANGER = secrets.token_bytes(32)


def key_of(role: str) -> bytes:
    return bytes(demo_account(2024, role).key)


def sealed_task(tmp_path, *, readers: list[str], rounds: int = 2) -> Flow:
    holders = tuple(holder_id(public_key_of(k)) for k in (key_of(COORDINATOR), AUDITOR))
    names = tuple(holder_id(public_key_of(key_of(r))) for r in readers)
    return start(
        tmp_path,
        rounds=rounds,
        terms=direct_terms(quorum=2),
        spec_changes={"sealed_updates": holders, "sealed_readers": names},
    )


def anchored(flow: Flow) -> dict[str, str]:
    """Every CID of the task's own artifacts that the chain anchors, with what it is."""
    ft = flow.ft
    out = {o.model_cid: f"model opening round {o.round}" for o in ft.rounds_opened(flow.task_id)}
    for final in ft.rounds_finalized(flow.task_id):
        out[final.model_cid] = f"model of round {final.round}"
        out[final.evidence_cid] = f"evidence of round {final.round}"
    for batch in ft.batches_posted(flow.task_id):
        out[batch.batch_cid] = f"batch of round {batch.round}"
    return out


def windows(data: bytes, size: int = 16, step: int = 997) -> set[bytes]:
    return {data[i : i + size] for i in range(0, len(data) - size, step)}


def test_sealed_models_and_evidence_train_pay_and_audit_for_key_holders_only(tmp_path):
    flow = sealed_task(tmp_path, readers=[*hospital_roles(4), SPONSOR])
    reports = flow.run()
    assert [r.accepted for r in reports] == [4, 4]
    for node in flow.nodes:  # each is paid what the sealed evidence says, as in a plain task
        earned = sum(r.rewards.amounts[i] for r in reports for i, v in enumerate(r.verdicts)
                     if v.participant == node.address)  # fmt: skip
        assert sum(c.amount for c in node.claims) == earned
    assert sum(c.amount for n in flow.nodes for c in n.claims) == sum(r.budget for r in reports)
    raw = flow.world.store
    holders = set(flow.spec.artifact_holders)
    assert len(holders) == 7  # coordinator, auditor, four hospitals, sponsor
    sponsor = SealedStore(raw, key=key_of(SPONSOR))
    plaintexts = []
    for cid, what in anchored(flow).items():
        data = raw.get(cid)
        assert is_sealed_object(data), what
        assert set(sealed_holders(data)) == holders, what
        with pytest.raises(SealedObjectLockedError):
            SealedStore(raw, key=STRANGER).get(cid)
        plaintexts.append(sponsor.get(cid))
    final = flow.ft.rounds_finalized(flow.task_id)[-1]
    model = sponsor.get(final.model_cid)
    assert content_hash(model) == bytes(final.model_hash)  # the chain anchors the plaintext
    assert decode_model(model).module is not None
    evidence = json.loads(sponsor.get(final.evidence_cid))
    assert evidence["round"] == 2
    # no window of any opened artifact is in any stored object, whoever wrote it
    stored = [p.read_bytes() for p in raw.root.iterdir() if p.is_file()]
    for plain in plaintexts:
        leaked = [w for w in windows(plain) if any(w in blob for blob in stored)]
        assert not leaked, f"{len(leaked)} plaintext windows are in the store"
    for node in flow.nodes:
        assert is_sealed_update(raw.get(node.history[-1].cid))
    # the auditor with its key checks everything; without one it learns that the rounds exist
    audited = audit_task(flow.ft, raw, flow.task_id, update_key=AUDITOR)
    assert audited.ok and audited.complete, audited.failure_line()
    assert len(audited.rounds) == 2
    for key in (None, STRANGER):
        blind = audit_task(flow.ft, raw, flow.task_id, update_key=key)
        assert blind.ok and not blind.complete and not blind.failures
        assert [r.round for r in blind.rounds] == [1, 2]
        assert all("sealed" in c.detail for _, c in blind.unchecked)


def test_a_byte_changed_in_sealed_evidence_fails_the_audit(tmp_path):
    flow = sealed_task(tmp_path, readers=hospital_roles(4), rounds=1)
    flow.run(settle=False)
    final = flow.ft.rounds_finalized(flow.task_id)[-1]
    path = flow.world.store.path_of(final.evidence_cid)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    report = audit_task(flow.ft, flow.world.store, flow.task_id, update_key=AUDITOR)
    assert not report.ok
    assert [c.name for _, c in report.failures] == ["evidence", "sealed"]  # unreadable: both


def test_a_hospital_the_spec_does_not_list_refuses_to_join(tmp_path):
    with pytest.raises(SpecError, match="public key"):
        sealed_task(tmp_path, readers=hospital_roles(3), rounds=1)


def test_readers_need_sealed_updates(tmp_path):
    reader = holder_id(public_key_of(key_of(SPONSOR)))
    with pytest.raises(SpecError, match="sealed_updates"):
        start(tmp_path, rounds=1, spec_changes={"sealed_readers": (reader,)})


def test_a_restarted_coordinator_resumes_from_the_sealed_model_and_evidence(tmp_path):
    flow = sealed_task(tmp_path, readers=hospital_roles(4), rounds=2)

    def stop_after_round_one(round_: int, phase: Phase) -> None:
        if (round_, phase) == (1, Phase.FINALIZED):
            raise KeyboardInterrupt  # the coordinator's process dies between rounds

    with pytest.raises(KeyboardInterrupt):
        flow.coordinator.run(
            between=hook(flow.nodes, flow.task_id, stop_after_round_one), settle=False
        )
    second = make_coordinator(flow.world, flow.task_id)  # reads round 1's sealed model back
    assert second.model_hash == bytes(flow.ft.rounds_finalized(flow.task_id)[0].model_hash)
    [report] = second.run(between=hook(flow.nodes, flow.task_id), settle=False)
    assert report.round == 2 and report.accepted == 4
    assert audit_task(flow.ft, flow.world.store, flow.task_id, update_key=AUDITOR).complete


FRIEND = secrets.token_bytes(32)


class WrapsForAFriend(Coordinator):
    """Seals the task's artifacts properly, and for a friend the spec does not list as well."""

    def _artifact_store(self, spec):  # noqa: ANN001, ANN202 - the node's own hook
        holders = (*spec.artifact_holders, public_key_of(FRIEND))
        return SealedStore(self.plain_store, holders=holders, key=bytes(self.signer.account.key))


class StoresInTheClear(Coordinator):
    """Ignores the spec's readers: the task's models and evidence are public."""

    def _artifact_store(self, spec):  # noqa: ANN001, ANN202 - the node's own hook
        return SealedStore(self.plain_store, key=bytes(self.signer.account.key))


@pytest.mark.parametrize("leaker", [WrapsForAFriend, StoresInTheClear], ids=["friend", "clear"])
def test_a_coordinator_leaking_the_artifacts_fails_the_sealed_check(tmp_path, leaker) -> None:
    holders = tuple(holder_id(public_key_of(k)) for k in (key_of(COORDINATOR), AUDITOR))
    readers = tuple(holder_id(public_key_of(key_of(r))) for r in hospital_roles(4))
    changes = {"sealed_updates": holders, "sealed_readers": readers}
    flow = start(tmp_path, rounds=1, terms=direct_terms(quorum=2), spec_changes=changes,
                 coordinator=leaker)  # fmt: skip
    [report] = flow.run(settle=False)
    assert report.accepted == 4  # the participants trained: nothing else looked wrong
    for key in (AUDITOR, None):  # with or without a key: holders are readable without one
        audited = audit_task(flow.ft, flow.world.store, flow.task_id, update_key=key)
        [(round_, check)] = audited.failures
        assert (round_, check.name) == (1, "sealed") and "model and evidence" in check.detail
