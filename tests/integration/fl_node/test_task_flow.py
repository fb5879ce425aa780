"""A horizontal task end to end on protocol v2 (in-process chain), honest and under attack.

Stakes, commitments batched through the mailbox or made directly, bytes revealed only from the
reveal start, deadlines crossed by time travel, rewards claimed by Merkle proof after each
challenge window, stakes withdrawn after the cooldown; and every attack of the participants'
side: copying an update, misreporting a sample count, forging a signature in the mailbox, a
coordinator leaving a participant out, claims before the window and twice.
"""

from __future__ import annotations

import json
import struct
from dataclasses import replace as dc_replace

import pytest

from chain.commitments import SignedCommitment, UpdateCommitment, sign_commitment
from chain.errors import ChainRevertError
from chain.fed_task import (
    CommitBatchPostedEvent,
    FedTaskClient,
    ParticipantSlashedEvent,
    StakeWithdrawnEvent,
    TaskStatus,
)
from fedmarket.demo import build_world, design_task, make_participants, sponsor_task
from fedmarket.demo.world import make_coordinator
from fl_node.claims import due_claims, reward_tree
from fl_node.commitments import BatchDocument
from fl_node.coordinator import Coordinator, Phase
from fl_node.errors import BatchDocumentError, ModelIntegrityError
from fl_node.mailbox import CommitmentEnvelope
from fl_node.participant import ParticipantNode, PendingUpdate, SubmittedUpdate
from fl_node.serialization import decode_update, encode_update
from fl_node.sponsor import invite
from kernel.types import Round, TaskId
from storage import compute_cid, content_hash
from tests.integration.fl_node.flow import POOL, STAKE, Flow, direct_terms, hook, start, swap

pytestmark = pytest.mark.slow


def balance(flow: Flow, address: str) -> int:
    return flow.world.token().balance_of(address)


def test_honest_task_batches_claims_by_proof_and_returns_every_stake(tmp_path):
    flow = start(tmp_path, rounds=3)
    reports = flow.run()
    ft = flow.ft
    assert [r.round for r in reports] == [1, 2, 3]
    # one batch per round, every participant in it, nothing committed directly
    batches = ft.events(CommitBatchPostedEvent, task_id=flow.task_id)
    assert [b.count for b in batches] == [4, 4, 4]
    assert ft.updates_committed(flow.task_id) == []
    assert all(r.accepted == 4 and not r.rejected for r in reports)
    assert all(c.source == "batch" and c.signature for r in reports for c in r.commitments)
    info = ft.task(flow.task_id)
    assert info.status is TaskStatus.COMPLETED
    assert bytes(info.model_hash).hex() == reports[-1].model_hash[2:]
    # each round pays its cap; everything allocated was claimed with proofs
    assert [r.budget for r in reports] == [POOL // 3] * 3
    assert sum(r.budget for r in reports) + info.unallocated == POOL
    for node in flow.nodes:
        earned = sum(r.rewards.amounts[i] for r in reports for i, v in enumerate(r.verdicts)
                     if v.participant == node.address)  # fmt: skip
        assert sum(c.amount for c in node.claims) == earned
        assert balance(flow, node.address) == STAKE + earned  # its stake is back too
        assert ft.stake_of(flow.task_id, node.address) == 0
    assert ft.stake_of(flow.task_id, flow.world.coordinator.address) == 0
    withdrawn = ft.events(StakeWithdrawnEvent, task_id=flow.task_id)
    assert len(withdrawn) == 5
    # the last round posts the shares of the cumulative contributions
    assert sum(ft.shares(flow.task_id)) == 10_000
    assert list(reports[-1].shares.bps) == ft.shares(flow.task_id)
    assert reports[-1].test.accuracy > 0.9


def test_without_a_mailbox_every_participant_commits_directly(tmp_path):
    flow = start(tmp_path, rounds=1, batched=False)
    [report] = flow.run()
    assert flow.ft.events(CommitBatchPostedEvent, task_id=flow.task_id) == []
    committed = flow.ft.updates_committed(flow.task_id, 1)
    assert {e.participant for e in committed} == {n.address for n in flow.nodes}
    assert all(e.update_cid == n.history[0].cid for e, n in zip(committed, flow.nodes, strict=True))
    assert report.accepted == 4 and report.batch is None
    assert all(c.source == "direct" and c.signature is None for c in report.commitments)
    assert all(h.via == "direct" and h.gas_used > 0 for n in flow.nodes for h in n.history)


def test_update_bytes_are_published_only_from_the_reveal_start(tmp_path):
    flow = start(tmp_path, rounds=1)
    seen: dict[Phase, list[bool]] = {}

    def published(round_: int, phase: Phase) -> None:
        seen[phase] = [flow.world.store.has(n.history[-1].cid) for n in flow.nodes]

    flow.run(extra=published, settle=False)
    assert seen[Phase.OPENED] == [False] * 4  # committed, bytes still private
    assert seen[Phase.INCLUSION] == [False] * 4
    assert seen[Phase.REVEAL] == [True] * 4


def test_a_copier_cannot_take_a_committed_hash_nor_commit_once_the_bytes_are_out(tmp_path):
    flow = start(tmp_path, rounds=1, batched=False)
    victim, copier = flow.nodes[0], flow.nodes[1]
    attempts: dict[str, str] = {}

    def copy(round_: int, phase: Phase) -> None:
        u = victim.history[-1]
        try:
            copier.fed_task.commit_update(flow.task_id, 1, u.update_hash, u.samples, u.cid)
        except ChainRevertError as exc:
            attempts[phase.value] = exc.error_name

    others = [n for n in flow.nodes if n is not copier]
    flow.coordinator.run(between=hook(others, flow.task_id, copy), settle=False)
    # the victim's direct commitment is public: its hash is taken for the round; once the bytes
    # are revealed, committing is over for the round
    assert attempts["opened"] == "TaskUpdateHashTaken"
    assert attempts["reveal"] == "TaskDeadlinePassed"
    assert flow.coordinator.reports[0].verdicts[1].reason == "not_submitted"


class Copier(ParticipantNode):
    """In round 2, commits the victim's revealed round-1 update, as is or relabelled as its own."""

    victim: ParticipantNode
    relabel: bool = False

    def _train_and_commit(self, info, rinfo, now):
        if int(info.last_round) == 1:
            return super()._train_and_commit(info, rinfo, now)
        blob = self.store.get(self.victim.history[0].cid)
        delta, meta = decode_update(blob, _shapes(blob))
        if self.relabel:
            meta = dc_replace(meta, participant=self.address, round=2)
            blob = encode_update(delta, meta)
        update = SubmittedUpdate(
            *(int(info.task_id), 2, compute_cid(blob), content_hash(blob), meta.samples),
            *(meta.train_loss, len(blob), 0, "direct", 0),
        )
        pending = PendingUpdate(update, blob)
        self._commit_directly(pending)
        return pending


def _shapes(blob: bytes) -> dict[str, tuple[int, ...]]:
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}


@pytest.mark.parametrize(
    ("relabel", "reason"),
    [(False, "wrong_round"), (True, "wrong_base")],
    ids=["as-is", "relabelled"],
)
def test_a_copy_committed_in_a_later_round_is_rejected(tmp_path, relabel, reason):
    nodes = swap(1, Copier, victim=0, relabel=relabel)
    flow = start(tmp_path, rounds=2, batched=False, nodes=nodes)
    reports = flow.run(settle=False)
    verdict = reports[1].verdicts[1]
    assert flow.nodes[1].history[-1].update_hash != flow.nodes[0].history[-1].update_hash
    assert (verdict.accepted, verdict.reason) == (False, reason)
    assert reports[1].rewards.amounts[1] == 0
    assert reports[1].verdicts[0].accepted


class Inflating(ParticipantNode):
    """Signs a commitment that claims ten times the samples its update declares."""

    def _post(self, pending):
        pending.update = dc_replace(pending.update, samples=pending.update.samples * 10)
        super()._post(pending)


def test_a_sample_count_other_than_the_commitment_is_rejected_flagged_and_slashed(tmp_path):
    flow = start(tmp_path, rounds=1, nodes=swap(2, Inflating))
    [report] = flow.run(settle=False)
    cheat = flow.nodes[2].address
    assert (report.verdicts[2].accepted, report.verdicts[2].reason) == (False, "samples_mismatch")
    assert report.flagged == (cheat,)
    assert report.rewards.amounts[2] == 0
    assert flow.ft.is_flagged(flow.task_id, 1, cheat)
    # after the window anyone settles the flag: half the stake goes into the pool
    info = flow.ft.round(flow.task_id, 1)
    flow.world.backend.wait_until(info.claimable_at, travel=True)
    flow.ft.as_signer(flow.world.buyer).execute_slash(flow.task_id, 1, cheat)
    [slashed] = flow.ft.events(ParticipantSlashedEvent, task_id=flow.task_id)
    assert (slashed.account, slashed.amount) == (cheat, STAKE // 2)
    assert flow.ft.task(flow.task_id).slashed_in == STAKE // 2


def test_a_forged_signature_in_the_mailbox_is_refused(tmp_path):
    flow = start(tmp_path, rounds=1)
    victim = flow.nodes[0]

    def forge_first(round_: int, phase: Phase) -> None:
        if phase is Phase.OPENED:  # an outsider posts in the victim's name, with its own key
            fake = UpdateCommitment(TaskId(flow.task_id), Round(1), content_hash(b"forged"), 999)
            signed = sign_commitment(flow.world.accounts["buyer"], flow.ft.domain(), fake)
            forged = SignedCommitment(victim.address, signed.commitment, signed.signature)
            flow.world.mailbox.send(CommitmentEnvelope(forged, compute_cid(b"forged")))
        for node in flow.nodes:
            node.step(flow.task_id)

    [report] = flow.coordinator.run(between=forge_first, settle=False)
    assert [reason for _, reason in flow.coordinator.refused] == [
        f"signed by {flow.world.buyer.address}, not by {victim.address}"
    ]
    mine = report.commitments[0]
    assert mine.participant == victim.address
    assert mine.update_hash == "0x" + victim.history[-1].update_hash.hex()
    assert report.verdicts[0].accepted and report.batch.count == 4


class Omitting(Coordinator):
    """Leaves one participant's signed commitment out of every batch."""

    left_out: str = ""

    def select_envelopes(self, round_):
        kept = super().select_envelopes(round_)
        return [e for e in kept if e.signed.participant != self.left_out]


def test_a_participant_left_out_of_the_batch_commits_directly_and_is_counted(tmp_path):
    flow = start(tmp_path, rounds=1, coordinator=Omitting)
    left_out = flow.nodes[1]
    flow.coordinator.left_out = left_out.address
    [report] = flow.run(settle=False)
    assert report.batch.count == 3
    [direct] = flow.ft.updates_committed(flow.task_id, 1)
    assert direct.participant == left_out.address
    assert left_out.history[-1].via == "direct" and left_out.history[-1].gas_used > 0
    mine = report.commitments[1]
    assert (mine.participant, mine.source) == (left_out.address, "direct")
    assert report.verdicts[1].accepted and report.accepted == 4
    assert report.contributions[1] != 0.0


def test_claims_before_the_window_revert_and_claiming_twice_reverts(tmp_path):
    flow = start(tmp_path, rounds=1)
    [report] = flow.run(settle=False)
    paid = next(n for n, a in zip(flow.nodes, report.rewards.amounts, strict=True) if a)
    round_ = flow.ft.round(flow.task_id, 1)
    finalized = flow.ft.rounds_finalized(flow.task_id)[0]
    claim = reward_tree(flow.world.store, finalized, round_.rewards_root).claim_for(paid.address)
    with pytest.raises(ChainRevertError) as early:
        paid.fed_task.claim_rewards(flow.task_id, claim)
    assert early.value.error_name == "TaskRoundNotClaimable"
    assert due_claims(flow.ft, flow.world.store, flow.task_id, paid.address,
                      last_finalized=1).claims == []  # fmt: skip
    flow.world.backend.wait_until(round_.claimable_at, travel=True)
    paid.fed_task.claim_rewards(flow.task_id, claim)
    assert balance(flow, paid.address) == claim.amount
    with pytest.raises(ChainRevertError) as twice:
        paid.fed_task.claim_rewards(flow.task_id, claim)
    assert twice.value.error_name == "TaskAlreadyClaimed"
    # a node claiming what is due skips what it already claimed
    assert paid.claim_due(flow.task_id, force=True) is None


def test_a_final_round_whose_log_is_not_seen_yet_waits_instead_of_failing(tmp_path):
    # a node that indexes logs after the block (or one behind a load balancer) can show a round
    # final in its views before its RoundFinalized log: the claim waits for the next look
    flow = start(tmp_path, rounds=1)
    [report] = flow.run(settle=False)
    paid = next(n for n, a in zip(flow.nodes, report.rewards.amounts, strict=True) if a)
    round_ = flow.ft.round(flow.task_id, 1)
    flow.world.backend.wait_until(round_.claimable_at, travel=True)
    head = flow.world.backend.head()[0]
    blind = FedTaskClient(flow.world.backend, flow.ft.address, from_block=head + 1)
    assert blind.round(flow.task_id, 1).finalized and not blind.rounds_finalized(flow.task_id)
    due = due_claims(blind, flow.world.store, flow.task_id, paid.address, last_finalized=1)
    assert (due.claims, due.waiting) == ([], 1)
    seen = due_claims(flow.ft, flow.world.store, flow.task_id, paid.address, last_finalized=1)
    assert [int(c.round) for c in seen.claims] == [1] and seen.waiting == 0


class Silent(ParticipantNode):
    """Commits, never publishes its bytes."""

    def _reveal(self, pending):
        pending.revealed = True


def test_an_update_never_revealed_is_rejected_as_missing(tmp_path):
    flow = start(tmp_path, rounds=1, nodes=swap(3, Silent))
    [report] = flow.run(settle=False)
    assert (report.verdicts[3].accepted, report.verdicts[3].reason) == (False, "missing")
    assert report.flagged == ()  # not revealing may be an accident: rejected, not flagged


def test_below_quorum_a_round_pays_nothing(tmp_path):
    flow = start(tmp_path, rounds=1, terms=direct_terms(quorum=4))
    silent = flow.nodes.pop()  # one hospital never commits
    [report] = flow.run(settle=False)
    assert report.accepted == 3 and report.budget == 0
    assert report.rewards.root == "0x" + "00" * 32
    assert report.verdicts[3].reason == "not_submitted"
    assert flow.ft.task(flow.task_id).unallocated == POOL
    assert silent.history == []


def test_coordinator_resumes_a_task_in_progress(tmp_path):
    flow = start(tmp_path, rounds=2)
    first = flow.coordinator

    def stop_after_round_one(round_: int, phase: Phase) -> None:
        if (round_, phase) == (1, Phase.FINALIZED):
            raise KeyboardInterrupt  # the coordinator's process dies between rounds

    with pytest.raises(KeyboardInterrupt):
        first.run(between=hook(flow.nodes, flow.task_id, stop_after_round_one), settle=False)
    second = make_coordinator(flow.world, flow.task_id)
    assert second.model_hash == bytes(flow.ft.task(flow.task_id).model_hash)
    reports = second.run(between=hook(flow.nodes, flow.task_id))
    assert [r.round for r in reports] == [2]
    assert reports[0].accepted == 4 and reports[0].shares is not None


def test_participant_refuses_a_global_model_that_differs_from_the_chain(tmp_path):
    flow = start(tmp_path, rounds=1)
    flow.coordinator.stake()
    flow.coordinator.open_round()
    path = flow.world.store.path_of(flow.coordinator.model_cid)
    blob = bytearray(path.read_bytes())
    blob[-4:] = b"\x00\x00\x80\x3f"  # one weight changed after the round was opened
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelIntegrityError, match="on-chain hash"):
        flow.nodes[0].step(flow.task_id)
    assert flow.world.mailbox.collect(flow.task_id, 1) == []  # nothing was committed


def test_permissioned_task_admits_the_allowlisted_and_the_invited_only(tmp_path):
    world = build_world(tmp_path / "store")
    world.mint(world.sponsor, POOL)
    spec = design_task([h.stats() for h in world.split.hospitals], world.split.feature_names)
    hospitals = [h.address for h in world.hospitals]
    terms = direct_terms(permissioned=True, allow=tuple(hospitals[:2]))
    task_id = sponsor_task(world, spec, pool=POOL, max_participants=4, terms=terms)
    nodes = make_participants(world, task_id, join=False)
    for node in nodes[:2]:
        node.join(task_id)
    deadline = world.backend.chain_time() + 3600
    invitation = invite(world.accounts["sponsor"], world.fed_task(), task_id,
                        hospitals[2], deadline)  # fmt: skip
    nodes[2].join(task_id, invitation)
    with pytest.raises(ChainRevertError) as refused:
        nodes[3].join(task_id, invitation)  # someone else's invitation
    assert refused.value.error_name == "TaskNotInvited"
    assert world.fed_task().participants(task_id) == hospitals[:3]


class Unreadable(Coordinator):
    """Posts the right root but stores something else under the batch's CID."""

    def post_batch(self, round_):
        envelopes = self.select_envelopes(round_)
        batch = BatchDocument.of(envelopes).batch
        self.fed_task.post_batch(batch, self.store.put(b"not a batch document"))


def test_a_batch_nobody_can_check_makes_everyone_commit_directly(tmp_path):
    flow = start(tmp_path, rounds=1, coordinator=Unreadable)
    with pytest.raises(BatchDocumentError):  # the coordinator cannot finalise against it either
        flow.run(settle=False)
    committed = flow.ft.updates_committed(flow.task_id, 1)
    assert {e.participant for e in committed} == {n.address for n in flow.nodes}
    assert all(n.history[-1].via == "direct" for n in flow.nodes)
