"""A wrongly rejected update, from the audit to the court's verdict to the victim's claim.

The coordinator rejects a valid update; the victim's audit fails the round and stores the
challenge evidence; the victim challenges inside the window with its bond; two validators audit
the task themselves and vote; the verdict upholds the challenge: the round's root becomes the
corrected root, the coordinator is slashed (the challenger gets its bond back and a reward), and
the victim claims its corrected reward by proof.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import fl_node.coordinator as coordinator_module
from chain.court import ChallengeStatus
from chain.fed_task import DisputeResolvedEvent
from chain.keys import new_account
from chain.signer import fund, signer_for
from fl_node.audit import audit_task
from fl_node.disputes import challenge_round, vote_on
from fl_node.validation import check_update as real_check_update
from tests.integration.fl_node.flow import Flow, start

pytestmark = pytest.mark.slow


def validators(flow: Flow, count: int = 2):
    """Fresh validators, registered with the court's minimum stake before any challenge."""
    court = flow.world.court()
    stake = court.min_validator_stake()
    made = []
    for _ in range(count):
        account = new_account()
        fund(flow.world.backend, account.address, 10**19)
        signer = signer_for(flow.world.backend, account)
        flow.world.mint(signer, stake)
        flow.world.token(signer).approve(court.address, stake)
        flow.world.court(signer).register_validator(stake)
        made.append(signer)
    return made


def test_a_wrongful_rejection_is_challenged_upheld_and_paid(tmp_path, monkeypatch):
    flow = start(tmp_path, rounds=1)
    victim = flow.nodes[1]

    def reject_the_victim(store, commitment, context):
        verdict, update = real_check_update(store, commitment, context)
        if commitment.participant == victim.address:
            return replace(verdict, accepted=False, reason="malformed", detail="no"), None
        return verdict, update

    jury = validators(flow)
    monkeypatch.setattr(coordinator_module, "check_update", reject_the_victim)
    [report] = flow.run(settle=False)
    monkeypatch.undo()
    assert report.rewards.amounts[1] == 0

    # inside the window: the victim's audit fails the round and prepares the challenge
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    round_audit = audit.round(1)
    evidence = round_audit.challenge
    flow.world.mint(victim.signer, flow.world.court().challenge_bond())
    challenge_id = challenge_round(
        flow.world.court(victim.signer), evidence, round_audit.challenge_cid
    )
    assert flow.ft.round(flow.task_id, 1).disputed
    votes = [
        vote_on(
            flow.world.court(v), flow.ft, flow.world.store, challenge_id, mailbox=flow.world.mailbox
        )
        for v in jury
    ]
    assert [v.uphold_bps for v in votes] == [10_000, 10_000]
    flow.world.court(flow.world.buyer).resolve(challenge_id)  # anyone resolves

    info = flow.world.court().challenge_info(challenge_id)
    assert info.status is ChallengeStatus.UPHELD
    [resolved] = flow.ft.events(DisputeResolvedEvent, task_id=flow.task_id)
    assert resolved.upheld and resolved.coordinator_slashed > 0
    assert (
        "0x" + bytes(flow.ft.round(flow.task_id, 1).rewards_root).hex() == evidence.corrected_root
    )
    bond = flow.world.court().challenge_bond()
    assert flow.world.court().balance_of(victim.address) > bond  # bond back, and a reward

    # after the window, the victim claims what the corrected root owes it
    flow.world.backend.wait_until(flow.ft.round(flow.task_id, 1).claimable_at, travel=True)
    claim = victim.claim_due(flow.task_id, force=True)
    owed = next(leaf.amount for leaf in evidence.corrected_leaves if leaf.account == victim.address)
    assert claim is not None and claim.amount == owed > 0
    assert flow.world.token().balance_of(victim.address) == owed
    # the verdict also replaced the shares (the last round)
    assert flow.ft.shares(flow.task_id) == list(evidence.corrected_shares)


def test_a_challenge_of_an_honest_round_is_rejected_and_loses_its_bond(tmp_path):
    flow = start(tmp_path, rounds=1)
    jury = validators(flow)
    flow.run(settle=False)
    audit = audit_task(flow.ft, flow.world.store, flow.task_id, mailbox=flow.world.mailbox)
    assert audit.ok
    # a participant disputes anyway, with a root of its own liking
    from fl_node.challenge import ChallengeEvidence

    posted = "0x" + bytes(flow.ft.round(flow.task_id, 1).rewards_root).hex()
    frivolous = ChallengeEvidence(flow.task_id, 1, "bafkreifrivolous", posted, "0x" + "11" * 32,
                                  (), None, ())  # fmt: skip
    challenger = flow.nodes[0]
    flow.world.mint(challenger.signer, flow.world.court().challenge_bond())
    cid = flow.world.store.put_json(frivolous.to_dict())
    challenge_id = challenge_round(flow.world.court(challenger.signer), frivolous, cid)
    votes = [vote_on(flow.world.court(v), flow.ft, flow.world.store, challenge_id) for v in jury]
    assert [v.uphold_bps for v in votes] == [0, 0]
    flow.world.court(flow.world.buyer).resolve(challenge_id)
    assert flow.world.court().challenge_info(challenge_id).status is ChallengeStatus.REJECTED
    assert flow.world.court().balance_of(challenger.address) == 0  # the jury shares its bond
    assert flow.world.court().balance_of(jury[0].address) > 0
