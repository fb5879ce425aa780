"""The vertical task's on-chain record on the in-process chain, without the party processes.

:class:`TaskRecorder` drives FedTask v2 exactly as a run does (create and join by invitation,
stake, open with a PSI manifest, direct commits, finalise with a rewards root and shares,
claims by proof, remainder and stakes withdrawn), here with made-up model parts: travelling
past the deadlines, waiting for them in real time, missing them (the test moves the clock),
and on contracts deployed beforehand whose roles hold too few tokens.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from chain import DEPLOYER, ChainBackend, InProcessBackend, TaskStatus, deploy, signer_for
from chain.commitments import RewardTree
from fl_node.events import Event
from fl_node.vertical.runner import (
    TOKEN,
    DeadlineMissedError,
    DeadlineReached,
    PartRecord,
    RewardsRecord,
    SponsorFundsError,
    StakeFundsError,
    TaskRecorder,
    TaskTerms,
    waiting_schedule,
)
from incentives.rewards import allocate_round

POOL = 1_000 * TOKEN
STAKE = 5 * TOKEN
SHAPLEY = {"guest": 0.2235, "host": 0.2618}


def part(role: str) -> PartRecord:
    data = f"the {role}'s model part".encode()
    digest = "0x" + keccak(data).hex()
    return PartRecord(f"bafkrei{role}", digest, len(data), f"model_{role}.json", 428, 10)


def record(recorder: TaskRecorder, terms: TaskTerms, shapley: dict[str, float]) -> RewardsRecord:
    """The whole on-chain record of one task; returns the rewards record."""
    recorder.create_task({"kind": "vertical-logistic-regression"}, terms)
    recorder.open_round({"kind": "psi-manifest", "commitment": "0x" + "ab" * 32})
    for role in ("guest", "host"):
        recorder.commit_part(role, part(role))
    plan = recorder.plan_rewards([shapley["guest"], shapley["host"]])
    return recorder.finalize({"kind": "vertical-lr-model"}, {"rewards": plan.evidence()}, plan)


@pytest.fixture
def chain() -> ChainBackend:
    return InProcessBackend()


def test_a_travelling_run_records_stakes_commits_root_claims_and_shares(
    chain: ChainBackend, tmp_path: Path
) -> None:
    events: list[Event] = []
    recorder = TaskRecorder.provision(tmp_path, backend=chain, emit=events.append)
    terms = TaskTerms(POOL, participant_stake=STAKE, coordinator_stake=2 * STAKE, slash_bps=500)
    rewards = record(recorder, terms, SHAPLEY)
    reader, token = recorder.parties.fed_task(), recorder.parties.token()
    task_id = recorder.task_id
    task = reader.task(task_id)
    assert task.status == TaskStatus.COMPLETED and task.permissioned and task.quorum == 2
    guest, host = recorder.address("guest"), recorder.address("host")
    assert reader.participants(task_id) == [guest, host]
    # paid == the reference split of the whole pool, to the wei, and the root is its tree's
    expected = allocate_round([SHAPLEY["guest"], SHAPLEY["host"]], POOL, 1).amounts
    assert rewards.paid_wei == {guest: expected[0], host: expected[1]}
    root = RewardTree.build(task_id, 1, rewards.paid_wei).root
    assert bytes(reader.round(task_id, 1).rewards_root) == root
    assert rewards.rewards_root == "0x" + root.hex()
    shares = rewards.shares_bps
    assert reader.shares(task_id) == [shares[guest], shares[host]]
    assert sum(reader.shares(task_id)) == 10_000
    # the parts' commitments, from each party's own key
    committed = {e.participant: e.update_cid for e in reader.updates_committed(task_id)}
    assert committed == {guest: "bafkreiguest", host: "bafkreihost"}
    # stakes back, nothing left in the task
    assert recorder.stakes().withdrawn_wei == {
        guest: STAKE,
        host: STAKE,
        recorder.address("coordinator"): 2 * STAKE,
    }
    assert token.balance_of(guest) == expected[0] + STAKE
    assert reader.task(task_id).unallocated == 0
    timeline = recorder.timeline()
    assert timeline.clock == "travel"
    assert timeline.times["claimable_at"] - timeline.times["ended_at"] == 86_400
    assert {"create", "join guest", "stake coordinator", "open", "commit host"} <= set(
        timeline.transactions
    )
    assert [e.deadline for e in events if isinstance(e, DeadlineReached)] == [
        "reveal deadline",
        "end of the challenge window",
        "stake cooldown",
    ]


def test_a_round_that_pays_nothing_returns_the_pool_to_the_sponsor(
    chain: ChainBackend, tmp_path: Path
) -> None:
    recorder = TaskRecorder.provision(tmp_path, backend=chain)
    rewards = record(recorder, TaskTerms(POOL), {"guest": -0.01, "host": 0.0})
    assert rewards.budget_wei == 0 and rewards.claims == {}
    assert rewards.remainder_wei == POOL and rewards.remainder_tx
    sponsor = recorder.address("sponsor")
    assert recorder.parties.token().balance_of(sponsor) == POOL
    assert recorder.parties.fed_task().shares(recorder.task_id) == [5_000, 5_000]


@pytest.mark.slow
def test_a_run_that_does_not_own_the_chain_waits_for_its_deadlines(
    chain: ChainBackend, tmp_path: Path
) -> None:
    recorder = TaskRecorder.provision(tmp_path, backend=chain, owns_chain=False)
    terms = TaskTerms(POOL, schedule=waiting_schedule(training=8, wait=1), participant_stake=STAKE)
    rewards = record(recorder, terms, SHAPLEY)
    timeline = recorder.timeline()
    assert timeline.clock == "wait" and timeline.waited_seconds > 1
    assert timeline.schedule["commit_period"] == 8
    assert sum(rewards.paid_wei.values()) == POOL
    assert recorder.parties.fed_task().task(recorder.task_id).status == TaskStatus.COMPLETED


def test_a_part_committed_after_its_window_is_refused_before_sending(
    chain: ChainBackend, tmp_path: Path
) -> None:
    recorder = TaskRecorder.provision(tmp_path, backend=chain, owns_chain=False)
    recorder.create_task({"kind": "x"}, TaskTerms(POOL, schedule=waiting_schedule(30, 1)))
    recorder.open_round({"kind": "psi-manifest"})
    chain.travel_to(recorder.parties.fed_task().round(recorder.task_id, 1).reveal_start)
    with pytest.raises(DeadlineMissedError, match="commit the guest's part.*commit period"):
        recorder.commit_part("guest", part("guest"))
    assert "commit guest" not in recorder.transactions


def test_a_round_opened_too_late_is_refused_before_the_coordinator_stakes(
    chain: ChainBackend, tmp_path: Path
) -> None:
    recorder = TaskRecorder.provision(tmp_path, backend=chain, owns_chain=False)
    terms = TaskTerms(POOL, schedule=waiting_schedule(30, 1), coordinator_stake=STAKE)
    recorder.create_task({"kind": "x"}, terms)
    chain.travel_to(recorder.parties.fed_task().task(recorder.task_id).deadline)
    with pytest.raises(DeadlineMissedError, match="open round 1.*join period"):
        recorder.open_round({"kind": "psi-manifest"})
    assert not {"stake coordinator", "open"} & set(recorder.transactions)


def test_an_existing_deployment_needs_the_pool_and_the_stakes_held(
    chain: ChainBackend, tmp_path: Path
) -> None:
    faucet = chain.faucet_account()
    assert faucet is not None
    operator = signer_for(chain, faucet)
    deployment = deploy(operator)
    recorder = TaskRecorder.provision(tmp_path, backend=chain, deployment=deployment)
    assert DEPLOYER not in recorder.parties.signers
    terms = TaskTerms(POOL, participant_stake=STAKE)
    with pytest.raises(SponsorFundsError, match="the pool needs"):
        recorder.create_task({"kind": "x"}, terms)
    minter = deployment.token_client(chain, operator)
    minter.mint(recorder.address("sponsor"), POOL)
    minter.mint(recorder.address("guest"), STAKE)
    with pytest.raises(StakeFundsError, match="the host holds 0 wei"):
        recorder.create_task({"kind": "x"}, terms)
    assert recorder.transactions == {}
