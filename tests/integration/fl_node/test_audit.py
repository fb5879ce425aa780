"""The audit recomputes a task from the chain, the store and the mailbox, and catches cheats.

Each failed round comes with the challenge evidence (the corrected rewards root, and on the last
round the corrected shares) stored in the content store.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import fl_node.coordinator as coordinator_module
from chain.commitments import RewardTree, decode_shares
from fl_node.audit import audit_task
from fl_node.challenge import ChallengeEvidence
from fl_node.coordinator import Coordinator
from fl_node.evidence import RoundEvidence
from fl_node.participant import ParticipantNode
from fl_node.strategies import FedAvg
from fl_node.validation import check_update as real_check_update
from incentives.rewards import allocate_rewards, scores_to_fixed
from incentives.shares import shares_bps
from tests.integration.fl_node.flow import start, swap

pytestmark = pytest.mark.slow

CHECKS = [
    "model_continuity",
    "evidence",
    "commitments",
    "updates",
    "defence",
    "aggregation",
    "contribution",
    "rewards",
]


def run_task(tmp_path, rounds=2, **changes):
    flow = start(tmp_path, rounds=rounds, **changes)
    flow.run(settle=False)
    return flow


def audit(flow, **options):
    return audit_task(
        flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox, **options
    )


def published_evidence(flow, round_=1) -> RoundEvidence:
    cid = flow.coordinator.reports[round_ - 1].evidence_cid
    return RoundEvidence.from_dict(flow.world.store.get_json(cid))


def failed(report) -> dict[str, str]:
    return {c.name: c.detail for _, c in report.failures}


def stored_challenge(flow, report, round_=1) -> ChallengeEvidence:
    round_audit = report.round(round_)
    assert round_audit.challenge is not None and round_audit.challenge_cid is not None
    stored = ChallengeEvidence.from_dict(flow.world.store.get_json(round_audit.challenge_cid))
    assert stored == round_audit.challenge
    return stored


def test_honest_task_passes_every_check_and_needs_no_challenge(tmp_path):
    flow = run_task(tmp_path)
    report = audit(flow)
    assert report.ok, report.failures
    assert [r.round for r in report.rounds] == [1, 2]
    assert [c.name for c in report.rounds[0].checks] == CHECKS
    assert [c.name for c in report.rounds[1].checks] == [*CHECKS, "shares"]
    assert all(r.challenge is None for r in report.rounds)


def test_a_coordinator_that_rejects_a_valid_update_is_caught(tmp_path, monkeypatch):
    def reject_hospital_two(store, commitment, context):
        verdict, update = real_check_update(store, commitment, context)
        if commitment.participant == victim[0]:
            return replace(verdict, accepted=False, reason="malformed", detail="trust me"), None
        return verdict, update

    victim: list[str] = []
    flow = start(tmp_path, rounds=1)
    victim.append(flow.nodes[1].address)
    monkeypatch.setattr(coordinator_module, "check_update", reject_hospital_two)
    [report_round] = flow.run(settle=False)
    monkeypatch.undo()
    assert report_round.verdicts[1].reason == "malformed" and report_round.rewards.amounts[1] == 0
    report = audit(flow)
    assert set(failed(report)) == {"updates"}
    assert "published malformed, recomputed accepted" in failed(report)["updates"]
    challenge = stored_challenge(flow, report)
    corrected = {leaf.account: leaf.amount for leaf in challenge.corrected_leaves}
    assert corrected[victim[0]] > 0  # the wrongly rejected update is paid...
    assert sum(corrected.values()) == report_round.budget  # ...within the round's budget
    assert challenge.corrected_root != challenge.posted_root
    assert challenge.corrected_shares is not None  # the last round: its shares change too
    assert sum(challenge.corrected_shares) == 10_000


def test_a_coordinator_that_pays_against_its_own_evidence_is_caught(tmp_path, monkeypatch):
    real = coordinator_module.round_rewards

    def favour_first(terms, contributions, accepted, improvement):
        return real(terms, [1.0] + [0.0] * (len(contributions) - 1), accepted, improvement)

    monkeypatch.setattr(coordinator_module, "round_rewards", favour_first)
    flow = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    report = audit(flow)
    assert set(failed(report)) == {"rewards"}
    assert "scores" in failed(report)["rewards"]
    challenge = stored_challenge(flow, report)
    evidence = published_evidence(flow)
    expected = allocate_rewards(
        flow.spec.rewards,
        evidence.rewards.budget,
        scores_to_fixed(evidence.contribution.scores),
        [v.accepted for v in evidence.updates],
    )
    assert [leaf.amount for leaf in challenge.corrected_leaves] == [
        a for a in expected.amounts if a
    ]


def test_a_root_whose_leaves_differ_from_the_evidence_is_caught(tmp_path, monkeypatch):
    real = coordinator_module.Finalization

    def everything_to_the_coordinator_friend(**fields):
        friend = flow_ref[0].nodes[0].address
        tree = RewardTree.build(flow_ref[0].task_id, 1, {friend: fields["budget"]})
        return real(**{**fields, "rewards_root": tree.root})

    flow_ref: list = []
    flow = start(tmp_path, rounds=1)
    flow_ref.append(flow)
    monkeypatch.setattr(coordinator_module, "Finalization", everything_to_the_coordinator_friend)
    flow.run(settle=False)
    monkeypatch.undo()
    report = audit(flow)
    assert set(failed(report)) == {"rewards"}
    assert "root" in failed(report)["rewards"]
    challenge = stored_challenge(flow, report)
    evidence = published_evidence(flow)
    assert challenge.corrected_root == evidence.rewards.root  # the evidence was right
    assert challenge.corrected_leaves == evidence.rewards.leaves


class Omitting(Coordinator):
    """Leaves one participant's signed commitment out of every batch."""

    left_out: str = ""

    def select_envelopes(self, round_):
        kept = super().select_envelopes(round_)
        return [e for e in kept if e.signed.participant != self.left_out]


class Offline(ParticipantNode):
    """Posts its signed commitment, then never looks at the batch (no direct commitment)."""

    def _check_inclusion(self, pending, rinfo, now):
        pending.inclusion_checked = True


@pytest.mark.parametrize("remedy", [False, True], ids=["offline", "commits-directly"])
def test_a_signed_commitment_left_out_of_the_batch_is_caught(tmp_path, remedy):
    kind = ParticipantNode if remedy else Offline
    flow = start(tmp_path, rounds=1, coordinator=Omitting, nodes=swap(2, kind))
    left_out = flow.nodes[2]
    flow.coordinator.left_out = left_out.address
    [round_report] = flow.run(settle=False)
    assert round_report.verdicts[2].accepted is remedy
    report = audit(flow)
    assert set(failed(report)) == {"commitments"}
    assert f"{left_out.address} was left out of the batch" in failed(report)["commitments"]
    # the evidence cannot tell what an update never revealed was worth: the correction keeps the
    # published rewards, and the court's verdict slashes the coordinator
    challenge = stored_challenge(flow, report)
    assert challenge.corrected_root == challenge.posted_root
    # without the mailbox the batch alone looks fine: the left-out commitment is invisible
    assert audit_task(flow.ft, flow.world.store, flow.task_id).ok


def test_a_published_model_that_is_not_the_aggregate_is_caught(tmp_path, monkeypatch):
    class Skewed(FedAvg):
        def aggregate(self, params, updates):
            out = super().aggregate(params, updates)
            first = next(iter(out))
            out[first] = out[first] + 0.01  # a coordinator nudging the model its own way
            return out

    monkeypatch.setattr("fl_node.task.make_strategy", lambda name, lr: Skewed())
    flow = start(tmp_path, rounds=1)
    flow.run(settle=False)
    monkeypatch.undo()
    assert set(failed(audit(flow))) == {"aggregation"}


def test_an_altered_model_in_the_store_is_caught(tmp_path):
    flow = run_task(tmp_path, rounds=2)
    path = flow.world.store.path_of(flow.coordinator.reports[-1].model_cid)
    data = bytearray(path.read_bytes())
    data[-4:] = torch.tensor([3.0]).numpy().tobytes()
    path.write_bytes(bytes(data))
    report = audit(flow)
    assert not report.ok
    assert report.failures[0][0] == 2
    assert report.round(2).challenge.corrected_root == "0x" + "00" * 32  # nothing to pay from


def _drop_metrics(doc):
    del doc["metrics"]


def _samples_as_text(doc):
    doc["updates"][0]["samples"] = str(doc["updates"][0]["samples"])


def _future_version(doc):
    doc["version"] = 3


@pytest.mark.parametrize(
    ("breaks", "field"),
    [
        (_drop_metrics, "evidence.metrics is missing"),
        (_samples_as_text, "evidence.updates[0].samples must be an integer"),
        (_future_version, "evidence.version 3 is not a version this reader knows"),
    ],
    ids=["missing-field", "wrong-type", "unknown-version"],
)
def test_evidence_that_breaks_the_schema_fails_the_evidence_check(
    tmp_path, monkeypatch, breaks, field
):
    real = RoundEvidence.to_dict

    def published(self):
        doc = real(self)
        breaks(doc)  # a coordinator publishing evidence the schema does not allow
        return doc

    monkeypatch.setattr(RoundEvidence, "to_dict", published)
    flow = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    report = audit(flow)
    [(round_, check)] = report.failures
    assert (round_, check.name) == (1, "evidence")
    assert field in check.detail
    assert "breaks schema v2" in check.detail
    assert [c.name for c in report.rounds[0].checks] == ["model_continuity", "evidence"]


def test_evidence_that_names_another_model_fails_the_evidence_check(tmp_path, monkeypatch):
    real = RoundEvidence.to_dict

    def published(self):
        doc = real(self)
        doc["new_model"]["hash"] = "0x" + "00" * 32
        return doc

    monkeypatch.setattr(RoundEvidence, "to_dict", published)
    flow = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    assert list(failed(audit(flow))) == ["evidence"]
    assert "new_model differ from the chain" in failed(audit(flow))["evidence"]


def test_shares_that_do_not_follow_the_contributions_are_caught(tmp_path, monkeypatch):
    real = coordinator_module.shares_record

    def all_to_one(cumulative):
        honest = real(cumulative)
        return type(honest)(honest.contributions, (10_000,) + (0,) * (len(cumulative) - 1))

    monkeypatch.setattr(coordinator_module, "shares_record", all_to_one)
    flow = run_task(tmp_path, rounds=1)
    monkeypatch.undo()
    report = audit(flow)
    assert set(failed(report)) == {"shares"}
    challenge = stored_challenge(flow, report)
    evidence = published_evidence(flow)
    assert list(challenge.corrected_shares) == shares_bps(evidence.contribution.scores)
    assert decode_shares(challenge.shares_bytes) == list(challenge.corrected_shares)
    assert challenge.corrected_root == challenge.posted_root  # its rewards were right
