"""A poisoning participant under every defence, end to end on the in-process chain (issue 12).

The demo's four hospitals; hospital-4 is replaced by a :class:`~.attackers.Poisoner` that trains
honestly and sends its step flipped and boosted five times. Each task names one robust rule in
its spec (the trusted vote with the hospitals' signed ballots, FLTrust with the coordinator's
root update). In every round and under every rule:

- the poisoner's update is rejected as ``robust_outlier``, it is flagged on-chain, and it earns
  nothing; no honest hospital is flagged;
- the evidence records the rule's decision on every screened update (and the ballots or the
  root update it used);
- anyone's audit recomputes the decisions from the chain and the store and passes, and a
  tampered decision fails it;
- with a stake, anyone can slash the flagged poisoner once the challenge window has passed.

Without a defence the same poisoner is accepted and drags the model: the reference. A coordinator
that skips the defence, or frames an honest hospital, fails the audit; the framed hospital's
challenge is upheld and its flag settles without a slash.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from chain.court import ChallengeStatus
from chain.fed_task import FlagDismissedEvent, ParticipantSlashedEvent
from fedmarket.demo.world import ballot_source
from fl_node.audit import audit_task
from fl_node.coordinator import Coordinator, RoundReport
from fl_node.disputes import challenge_round, vote_on
from fl_node.evidence import RoundEvidence
from tests.integration.fl_node.attackers import Poisoner
from tests.integration.fl_node.flow import STAKE, Flow, start, swap
from tests.integration.fl_node.test_challenge import validators

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

ROUNDS = 2
POISONER = 3
DEFENCES: dict[str, dict[str, float]] = {
    "clip": {"clip_norm_factor": 2.0},
    "median": {},
    "trimmed_mean": {"beta": 0.25},
    "krum": {"f": 0.0, "flag_at": 3.0},  # Krum flags only when asked
    "multi_krum": {"f": 0.0, "m": 0.75, "flag_at": 3.0},
    "fltrust": {},
    "trusted_vote": {},
}
"""Each rule with parameters fit for four participants (Krum's ``f`` must leave n > 2f + 2)."""


def run(tmp_path: Path, defence: str | None) -> tuple[Flow, list[RoundReport]]:
    """A task of :data:`ROUNDS` rounds under ``defence`` (``None``: plain FedAvg)."""
    changes: dict[str, object] = {}
    if defence is not None:
        changes = {"defence": defence, "defence_params": DEFENCES[defence]}
    flow = start(
        tmp_path,
        rounds=ROUNDS,
        nodes=swap(POISONER, Poisoner),
        spec_changes=changes,
    )
    flow.coordinator.ballots = ballot_source(flow.nodes)
    return flow, flow.run(settle=False)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a cached runner
    """``outcome(defence)``: the run under ``defence``, computed once for the module."""

    @cache
    def get(defence: str | None) -> tuple[Flow, list[RoundReport]]:
        return run(tmp_path_factory.mktemp(defence or "none"), defence)

    return get


def test_without_a_defence_the_poisoner_is_accepted_and_paid_nothing_only_by_luck(outcome):
    flow, reports = outcome(None)
    assert all(r.verdicts[POISONER].accepted for r in reports)
    assert all(not r.flagged for r in reports)


@pytest.mark.parametrize("defence", sorted(DEFENCES))
def test_the_poisoner_is_flagged_unpaid_and_the_audit_agrees(outcome, defence: str) -> None:
    flow, reports = outcome(defence)
    poisoner = flow.nodes[POISONER].address
    for report in reports:
        verdict = report.verdicts[POISONER]
        assert (verdict.accepted, verdict.reason) == (False, "robust_outlier"), verdict
        assert report.flagged == (poisoner,)
        assert report.rewards.amounts[POISONER] == 0
        assert all(report.verdicts[i].accepted for i in range(POISONER))
        evidence = RoundEvidence.from_dict(flow.world.store.get_json(report.evidence_cid))
        record = evidence.aggregation.defence
        assert record is not None and record.name == defence
        assert [d.flagged for d in record.decisions] == [False, False, False, True]
        if defence == "trusted_vote":
            assert {b.voter for b in record.ballots} == {n.address for n in flow.nodes}
        if defence == "fltrust":
            assert record.root_update is not None
        assert flow.ft.is_flagged(flow.task_id, report.round, poisoner)
    # an auditor holding the validation set also re-measures every utility and the root update
    validation = flow.world.split.validation
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox,
                       validation=validation)  # fmt: skip
    assert audit.ok, audit.failure_line()
    assert "utilities" in {c.name for r in audit.rounds for c in r.checks}


def test_a_defended_model_beats_the_poisoned_fedavg(outcome) -> None:
    plain = outcome(None)[1][-1].test.loss
    for defence in ("median", "trusted_vote"):
        defended = outcome(defence)[1][-1].test.loss
        log.info("test loss: fedavg %.4f, %s %.4f", plain, defence, defended)
        assert defended < plain, (defence, defended, plain)


def test_with_stake_the_flagged_poisoner_is_slashed_after_the_window_and_no_one_else(tmp_path):
    flow, reports = run(tmp_path, "median")
    poisoner = flow.nodes[POISONER].address
    anyone = flow.ft.as_signer(flow.world.buyer)
    for report in reports:
        window = flow.ft.round(flow.task_id, report.round).claimable_at
        flow.world.backend.wait_until(window, travel=True)
        anyone.execute_slash(flow.task_id, report.round, poisoner)
    slashed = flow.ft.events(ParticipantSlashedEvent, task_id=flow.task_id)
    assert {s.account for s in slashed} == {poisoner}
    assert sum(int(s.amount) for s in slashed) == STAKE // 2 + STAKE // 4  # 50 %, then 50 % left
    for node in flow.nodes[:POISONER]:
        assert int(flow.ft.stake_of(flow.task_id, node.address)) == STAKE


class LaxCoordinator(Coordinator):
    """Names the spec's defence but never runs it: the poisoner is accepted and paid."""

    def _defend(self, round_, params, verdicts, screened):  # noqa: ANN001, ANN202
        return None


def test_a_coordinator_that_skips_the_defence_fails_the_audit(tmp_path) -> None:
    flow = start(
        tmp_path,
        rounds=1,
        nodes=swap(POISONER, Poisoner),
        spec_changes={"defence": "median", "defence_params": {}},
        coordinator=LaxCoordinator,
    )
    [report] = flow.run(settle=False)
    assert report.verdicts[POISONER].accepted
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    failed = {c.name for _, c in audit.failures}
    assert {"updates", "defence", "aggregation"} <= failed, audit.failure_line()


class ForgingCoordinator(Coordinator):
    """Adds a ballot in the poisoner's favour signed by the wrong key (as if from hospital-1)."""

    def _received_ballots(self, defence, round_, verdicts, screened):  # noqa: ANN001, ANN202
        ballots = super()._received_ballots(defence, round_, verdicts, screened)
        honest, forged_by = ballots[0], ballots[POISONER]
        return [replace(honest, signature=forged_by.signature), *ballots[1:]]


def test_a_forged_ballot_does_not_count_and_the_audit_sees_the_same(tmp_path) -> None:
    flow = start(
        tmp_path,
        rounds=1,
        nodes=swap(POISONER, Poisoner),
        spec_changes={"defence": "trusted_vote", "defence_params": {}},
        coordinator=ForgingCoordinator,
    )
    flow.coordinator.ballots = ballot_source(flow.nodes)
    [report] = flow.run(settle=False)
    assert report.flagged == (flow.nodes[POISONER].address,)
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    assert audit.ok, audit.failure_line()


def test_withheld_ballots_do_not_stall_the_vote_and_the_audit_agrees(tmp_path) -> None:
    """No ballot at all: the central fallback elects, the poisoner is still flagged."""
    flow = start(
        tmp_path,
        rounds=1,
        nodes=swap(POISONER, Poisoner),
        spec_changes={"defence": "trusted_vote", "defence_params": {}},
    )
    [report] = flow.run(settle=False)  # the coordinator was given no ballot source
    assert report.flagged == (flow.nodes[POISONER].address,)
    evidence = RoundEvidence.from_dict(flow.world.store.get_json(report.evidence_cid))
    record = evidence.aggregation.defence
    assert record is not None and record.ballots == ()
    assert "trusted_central" in [d.reason for d in record.decisions]
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    assert audit.ok, audit.failure_line()


class FramingCoordinator(Coordinator):
    """Runs the defence, then also flags hospital-1 (honest) to have its stake slashed."""

    def _defend(self, round_, params, verdicts, screened):  # noqa: ANN001, ANN202
        defended = super()._defend(round_, params, verdicts, screened)
        assert defended is not None
        framed = replace(defended.verdicts[0], accepted=False, reason="robust_outlier")
        kept = [(i, u) for i, u in defended.accepted if i != 0]
        return replace(defended, verdicts=[framed, *defended.verdicts[1:]], accepted=kept)


def test_a_coordinator_that_frames_an_honest_participant_fails_the_audit(tmp_path) -> None:
    flow = start(
        tmp_path,
        rounds=1,
        nodes=swap(POISONER, Poisoner),
        spec_changes={"defence": "median", "defence_params": {}},
        coordinator=FramingCoordinator,
    )
    [report] = flow.run(settle=False)
    assert flow.nodes[0].address in report.flagged  # on-chain, pending the challenge window
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    failed = {c.name for _, c in audit.failures}
    assert "updates" in failed, audit.failure_line()  # the framed verdict does not recompute
    assert audit.round(1).challenge is not None  # ready for the court, which clears the flag


def test_a_framed_participant_challenges_and_its_flag_is_dismissed_unslashed(tmp_path) -> None:
    """The framed hospital's audit fails the round; the court upholds; its stake stays whole."""
    flow = start(
        tmp_path,
        rounds=1,
        nodes=swap(POISONER, Poisoner),
        spec_changes={"defence": "median", "defence_params": {}},
        coordinator=FramingCoordinator,
    )
    jury = validators(flow)
    framed = flow.nodes[0]
    flow.run(settle=False)
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    evidence = audit.round(1).challenge
    assert evidence is not None
    flow.world.mint(framed.signer, flow.world.court().challenge_bond())
    court = flow.world.court(framed.signer)
    challenge_id = challenge_round(court, evidence, audit.round(1).challenge_cid)
    for validator in jury:
        vote_on(flow.world.court(validator), flow.ft, flow.world.store, challenge_id,
                mailbox=flow.world.mailbox)  # fmt: skip
    flow.world.court(flow.world.buyer).resolve(challenge_id)
    assert flow.world.court().challenge_info(challenge_id).status is ChallengeStatus.UPHELD
    # after the window, settling the framed flag slashes nothing; the poisoner's flag stood too,
    # but the upheld verdict cleared the round's flags (the corrected evidence re-flags nobody)
    flow.world.backend.wait_until(flow.ft.round(flow.task_id, 1).claimable_at, travel=True)
    anyone = flow.ft.as_signer(flow.world.buyer)
    anyone.execute_slash(flow.task_id, 1, framed.address)
    [dismissed] = flow.ft.events(FlagDismissedEvent, task_id=flow.task_id)
    assert dismissed.account == framed.address
    assert not flow.ft.events(ParticipantSlashedEvent, task_id=flow.task_id)
    assert int(flow.ft.stake_of(flow.task_id, framed.address)) == STAKE
