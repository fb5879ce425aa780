"""FedTask v2 through the typed client, over in-process py-evm, anvil and a Hardhat node.

A whole task (permissioned join by invitation, stakes, batched and direct commitments, deadlines
crossed by time travel, Merkle rewards and claims, last-round shares, stakes and remainder back),
the liveness paths (abort, cancel, coordinator replacement, slashing of a flagged participant),
every event read back as a typed record, and reverts surfacing as the custom error's name and
arguments whichever backend raised them.
"""

from __future__ import annotations

import pytest

from chain.backends import ChainBackend
from chain.commitments import Claim, Invitation, RewardTree, sign_invitation
from chain.errors import ChainRevertError
from chain.fed_task import (
    AllowlistUpdatedEvent,
    CommitBatchPostedEvent,
    CoordinatorProposalCancelledEvent,
    CoordinatorProposedEvent,
    CoordinatorReplacedEvent,
    CoordinatorStakedEvent,
    Finalization,
    ParticipantSlashedEvent,
    RemainderWithdrawnEvent,
    RewardsClaimedEvent,
    RoundFinalizedEvent,
    StakeWithdrawnEvent,
    TaskAbortedEvent,
    TaskCancelledEvent,
    TaskCompletedEvent,
    TaskCreatedEvent,
    TaskJoinedEvent,
    TaskStatus,
    UpdateCommittedEvent,
)
from tests.integration.chain.fedtask_world import (
    PERIOD,
    POOL,
    STAKE,
    World,
    make_world,
    model_hash,
    update_hash,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def world(backend: ChainBackend) -> World:
    return make_world(backend)


def join_by_invitation(world: World) -> int:
    """A permissioned task: p1 and p2 allowlisted, p3 invited by the sponsor's signature."""
    ft = world.ft("sponsor")
    task_id, result = ft.create_task(world.config(permissioned=True))
    ft.set_allowed(task_id, [world.address("p1"), world.address("p2")])
    deadline = world.backend.chain_time() + PERIOD
    invitation = Invitation(task_id, world.address("p3"), deadline)
    signed = sign_invitation(world.accounts["sponsor"], ft.domain(), invitation)
    for role in ("p1", "p2"):
        world.ft(role).join(task_id)
    world.ft("p3").join(task_id, signed)
    world.ft("coordinator").stake_as_coordinator(task_id)
    created = ft.events_in(result, TaskCreatedEvent)[0]
    assert (created.sponsor, created.pool, created.spec_cid) == (
        world.address("sponsor"),
        POOL,
        "bafkreispec",
    )
    return task_id


def test_whole_task_through_the_client(world: World) -> None:
    task_id = join_by_invitation(world)
    ft, p = world.ft(), world.address
    assert ft.participants(task_id) == [p("p1"), p("p2"), p("p3")]
    assert [e.index for e in ft.events(TaskJoinedEvent, task_id=task_id)] == [0, 1, 2]
    assert ft.stake_of(task_id, p("p3")) == STAKE

    # round 1: p1 and p2 batched, p3 left out commits directly during the inclusion period
    info = world.open(task_id, 1)
    batch = world.batch(task_id, 1, ("p1", "p2"))
    batch.verify(ft.domain())
    world.ft("coordinator").post_batch(batch, "bafkreibatch1")
    world.backend.wait_until(info.commit_deadline, travel=True)
    world.ft("p3").commit_update(task_id, 1, update_hash(task_id, 1, "p3"), 50, "bafkreiu3")
    assert ft.round(task_id, 1).commitments == 3
    assert ft.round(task_id, 1).commit_root == batch.root
    direct = ft.commitment_of(task_id, 1, p("p3"))
    assert direct is not None and direct.samples == 50
    assert ft.commitment_of(task_id, 1, p("p1")) is None  # batched leaves live off-chain
    cap = ft.round_cap(task_id, 1)
    assert cap == POOL // 2
    tree1 = world.finalize(task_id, 1, {"p1": 200 * 10**18, "p2": 150 * 10**18, "p3": 100 * 10**18})

    # round 2 opens from round 1's model; everyone batched; the last round records the shares
    world.open(task_id, 2)
    world.ft("coordinator").post_batch(world.batch(task_id, 2, ("p1", "p2", "p3")), "bafkreib2")
    tree2 = world.finalize(
        task_id, 2, {"p1": 300 * 10**18, "p2": 100 * 10**18}, shares=[5_500, 3_000, 1_500]
    )
    task = ft.task(task_id)
    assert task.status is TaskStatus.COMPLETED
    assert task.model_hash == model_hash("2")
    assert ft.shares(task_id) == [5_500, 3_000, 1_500]
    assert ft.share_of(task_id, p("p2")) == 3_000
    assert ft.events(TaskCompletedEvent, task_id=task_id)[0].bps == [5_500, 3_000, 1_500]
    assert not ft.is_final(task_id)

    # claims after the window: one round alone, then two rounds in one transaction
    world.backend.wait_until(ft.round(task_id, 2).claimable_at, travel=True)
    assert ft.is_final(task_id)
    before = world.token().balance_of(p("p2"))
    world.ft("p2").claim_rewards(task_id, tree1.claim_for(p("p2")))
    world.ft("p2").claim_rewards(task_id, tree2.claim_for(p("p2")))
    world.ft("p1").claim_many(task_id, [tree1.claim_for(p("p1")), tree2.claim_for(p("p1"))])
    world.ft("p3").claim_rewards(task_id, tree1.claim_for(p("p3")))
    assert world.token().balance_of(p("p2")) - before == 250 * 10**18
    assert ft.has_claimed(task_id, 2, p("p1")) and not ft.has_claimed(task_id, 2, p("p3"))
    assert ft.round(task_id, 1).claimed == tree1.budget

    # stakes after the cooldown, the unspent budget back to the sponsor
    world.backend.wait_until(task.ended_at + PERIOD, travel=True)
    for role in ("p1", "p2", "p3", "coordinator"):
        world.ft(role).withdraw_stake(task_id)
    world.ft("sponsor").withdraw_remainder(task_id)
    assert world.token().balance_of(world.deployment.fed_task) == 0
    check_events_of_the_whole_task(world, task_id, tree1, tree2)


def check_events_of_the_whole_task(
    world: World, task_id: int, tree1: RewardTree, tree2: RewardTree
) -> None:
    ft, p = world.ft(), world.address
    allowed = ft.events(AllowlistUpdatedEvent, task_id=task_id)
    assert [(e.account, e.allowed) for e in allowed] == [(p("p1"), True), (p("p2"), True)]
    staked = ft.events(CoordinatorStakedEvent, task_id=task_id)
    assert [(e.coordinator, e.stake) for e in staked] == [(p("coordinator"), STAKE)]
    opened = ft.rounds_opened(task_id)
    assert [e.round for e in opened] == [1, 2]
    r1 = ft.round(task_id, 1)
    assert (opened[0].commit_deadline, opened[0].finalize_deadline) == (
        r1.commit_deadline,
        r1.finalize_deadline,
    )
    batches = ft.batches_posted(task_id)
    assert [(e.round, e.count, e.batch_cid) for e in batches] == [
        (1, 2, "bafkreibatch1"),
        (2, 3, "bafkreib2"),
    ]
    [direct] = ft.updates_committed(task_id)
    assert isinstance(direct, UpdateCommittedEvent)
    assert (direct.participant, direct.samples, direct.update_cid) == (p("p3"), 50, "bafkreiu3")
    finalized = ft.rounds_finalized(task_id)
    assert [e.rewards_root for e in finalized] == [tree1.root, tree2.root]
    assert [e.budget for e in finalized] == [tree1.budget, tree2.budget]
    assert finalized[0].claimable_at == r1.claimable_at
    claims = ft.claims(task_id)
    assert sorted((e.round, e.account) for e in claims) == sorted(
        [(1, p("p2")), (2, p("p2")), (1, p("p1")), (2, p("p1")), (1, p("p3"))]
    )
    assert ft.claims(account=p("p3"))[0].amount == tree1.amount_of(p("p3"))
    withdrawn = ft.events(StakeWithdrawnEvent, task_id=task_id)
    assert {e.account for e in withdrawn} == {p("p1"), p("p2"), p("p3"), p("coordinator")}
    [remainder] = ft.events(RemainderWithdrawnEvent, task_id=task_id)
    assert remainder.amount == POOL - tree1.budget - tree2.budget
    assert remainder.meta.block > batches[0].meta.block
    for kind in (CommitBatchPostedEvent, RoundFinalizedEvent, RewardsClaimedEvent):
        assert ft.events(kind, task_id=task_id + 1) == []


def test_abort_after_a_missed_deadline_slashes_the_coordinator(world: World) -> None:
    task_id = world.ready_task(slash_bps=2_000)
    ft = world.ft()
    deadline = ft.task(task_id).deadline
    with pytest.raises(ChainRevertError) as err:
        world.ft("sponsor").abort_task(task_id)
    assert err.value.error_name == "TaskNotAbortable"
    assert err.value.error_args == {"taskId": task_id, "notBefore": deadline}
    world.backend.wait_until(deadline, travel=True)
    with pytest.raises(ChainRevertError) as err:
        world.ft("outsider").abort_task(task_id)  # anyone only after the grace
    assert err.value.error_args["notBefore"] == deadline + PERIOD
    before = world.token().balance_of(world.address("sponsor"))
    result = world.ft("sponsor").abort_task(task_id)
    [aborted] = ft.events_in(result, TaskAbortedEvent)
    assert aborted.coordinator_slashed == STAKE * 2_000 // 10_000
    assert aborted.refunded == POOL + aborted.coordinator_slashed
    assert world.token().balance_of(world.address("sponsor")) - before == aborted.refunded
    assert ft.task(task_id).status is TaskStatus.ABORTED
    world.backend.wait_until(ft.task(task_id).ended_at + PERIOD, travel=True)
    world.ft("p1").withdraw_stake(task_id)
    assert ft.events(StakeWithdrawnEvent, task_id=task_id)[0].amount == STAKE


def test_cancel_and_coordinator_replacement(world: World) -> None:
    cancelled, _ = world.ft("sponsor").create_task(world.config())
    world.ft("p1").join(cancelled)
    world.ft("sponsor").cancel_task(cancelled)
    assert world.ft().events(TaskCancelledEvent, task_id=cancelled)[0].refunded == POOL
    world.ft("p1").withdraw_stake(cancelled)  # at once for a cancelled task

    task_id = world.ready_task()
    sponsor, successor = world.ft("sponsor"), world.address("successor")
    sponsor.propose_coordinator(task_id, successor)
    sponsor.cancel_coordinator_proposal(task_id)
    result = sponsor.propose_coordinator(task_id, successor)
    [proposed] = sponsor.events_in(result, CoordinatorProposedEvent)
    assert proposed.not_before == world.ft().task(task_id).replacement_not_before
    assert world.ft().task(task_id).pending_coordinator == successor
    with pytest.raises(ChainRevertError) as err:
        world.ft("successor").accept_coordination(task_id)
    assert err.value.error_name == "TaskTimelocked"
    assert proposed.not_before - world.backend.chain_time() <= world.ft().replacement_delay()
    world.backend.wait_until(proposed.not_before, travel=True)
    world.ft("successor").accept_coordination(task_id)
    [replaced] = world.ft().events(CoordinatorReplacedEvent, task_id=task_id)
    assert (replaced.previous, replaced.coordinator) == (world.address("coordinator"), successor)
    [withdrawn] = world.ft().events(CoordinatorProposalCancelledEvent, task_id=task_id)
    assert withdrawn.proposed == successor
    assert world.ft().task(task_id).coordinator == successor


def test_flagged_participant_is_slashed_into_the_pool(world: World) -> None:
    task_id = world.ready_task(total_rounds=2, slash_bps=5_000)
    world.open(task_id, 1)
    world.ft("coordinator").post_batch(world.batch(task_id, 1, ("p1", "p2", "p3")), "bafkreib")
    world.finalize(task_id, 1, {"p1": 10**18}, flagged=("p3",))
    ft = world.ft()
    assert ft.is_flagged(task_id, 1, world.address("p3"))
    assert ft.pending_flags(task_id, world.address("p3")) == 1
    assert ft.rounds_finalized(task_id)[0].flagged == (world.address("p3"),)
    with pytest.raises(ChainRevertError) as err:
        world.ft("outsider").execute_slash(task_id, 1, world.address("p3"))
    assert err.value.error_name == "TaskRoundNotClaimable"
    unallocated = ft.task(task_id).unallocated
    world.backend.wait_until(ft.round(task_id, 1).claimable_at, travel=True)
    world.ft("outsider").execute_slash(task_id, 1, world.address("p3"))
    [slashed] = ft.events(ParticipantSlashedEvent, task_id=task_id)
    assert (slashed.round, slashed.account, slashed.amount) == (1, world.address("p3"), STAKE // 2)
    assert ft.task(task_id).unallocated == unallocated + STAKE // 2
    assert ft.stake_of(task_id, world.address("p3")) == STAKE // 2


def test_reverts_surface_with_name_and_arguments(world: World) -> None:
    ft, p = world.ft(), world.address
    with pytest.raises(ChainRevertError) as err:
        world.ft("sponsor").create_task(world.config(quorum=4))
    assert (err.value.error_name, err.value.error_args) == (
        "TaskInvalidConfig",
        {"field": "quorum"},
    )
    task_id, _ = world.ft("sponsor").create_task(world.config(permissioned=True))
    with pytest.raises(ChainRevertError) as err:
        world.ft("coordinator").join(task_id)
    assert err.value.error_name == "TaskRoleConflict"
    assert err.value.error_args == {"taskId": task_id, "account": p("coordinator")}
    with pytest.raises(ChainRevertError) as err:
        world.ft("p1").join(task_id)
    assert err.value.error_name == "TaskNotInvited"
    stale = Invitation(task_id, p("p1"), world.backend.chain_time() - 1)
    with pytest.raises(ChainRevertError) as err:
        world.ft("p1").join(task_id, sign_invitation(world.accounts["sponsor"], ft.domain(), stale))
    assert err.value.error_args == {"deadline": stale.deadline}
    stolen = Invitation(task_id, p("p1"), world.backend.chain_time() + PERIOD)
    forged = sign_invitation(world.accounts["p1"], ft.domain(), stolen)  # not the sponsor's key
    with pytest.raises(ChainRevertError) as err:
        world.ft("p1").join(task_id, forged)
    assert err.value.error_name == "TaskNotInvited"
    with pytest.raises(ChainRevertError) as err:
        ft.task(999)
    assert str(err.value) == "TaskUnknown(taskId=999)"
    with pytest.raises(ChainRevertError) as err:
        world.ft("outsider").open_dispute(task_id, 1)
    assert err.value.error_name == "AccessControlUnauthorizedAccount"
    assert err.value.error_args["neededRole"] == ft.court_role()


def test_round_reverts_too_early_and_forged_proofs(world: World) -> None:
    task_id = world.ready_task(total_rounds=1)
    info = world.open(task_id, 1)
    coord = world.ft("coordinator")
    with pytest.raises(ChainRevertError) as err:
        coord.finalize_round(task_id, 1, _empty_finalization())
    assert err.value.error_name == "TaskTooEarly"
    assert err.value.error_args == {
        "taskId": task_id,
        "round": 1,
        "notBefore": info.reveal_deadline,
    }
    world.ft("p1").commit_update(task_id, 1, update_hash(task_id, 1, "p1"), 10, "bafkreiu1")
    with pytest.raises(ChainRevertError) as err:  # an update hash copied from p1
        world.ft("p2").commit_update(task_id, 1, update_hash(task_id, 1, "p1"), 10, "bafkreiu1")
    assert err.value.error_name == "TaskUpdateHashTaken"
    assert err.value.error_args["firstCommitter"] == world.address("p1")
    world.ft("p2").commit_update(task_id, 1, update_hash(task_id, 1, "p2"), 10, "bafkreiu2")
    tree = world.finalize(task_id, 1, {"p1": 5 * 10**18, "p2": 10**18}, shares=[6_000, 4_000, 0])
    claim = tree.claim_for(world.address("p1"))
    with pytest.raises(ChainRevertError) as err:
        world.ft("p1").claim_rewards(task_id, claim)
    assert err.value.error_name == "TaskRoundNotClaimable"
    world.backend.wait_until(world.ft().round(task_id, 1).claimable_at, travel=True)
    inflated = Claim(claim.round, claim.amount * 2, claim.proof)
    with pytest.raises(ChainRevertError) as err:
        world.ft("p1").claim_rewards(task_id, inflated)
    assert err.value.error_name == "TaskInvalidProof"
    assert err.value.error_args == {
        "taskId": task_id,
        "round": 1,
        "account": world.address("p1"),
        "amount": claim.amount * 2,
    }
    with pytest.raises(ChainRevertError) as err:  # p1's proof presented by p3
        world.ft("p3").claim_rewards(task_id, claim)
    assert err.value.error_name == "TaskInvalidProof"
    world.ft("p1").claim_rewards(task_id, claim)
    with pytest.raises(ChainRevertError) as err:
        world.ft("p1").claim_rewards(task_id, claim)
    assert err.value.error_name == "TaskAlreadyClaimed"


def _empty_finalization() -> Finalization:
    return Finalization("bafkreinew", model_hash("1"), "bafkreiev", bytes(32), 0, 0)
