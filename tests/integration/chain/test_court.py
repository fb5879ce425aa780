"""ChallengeCourt through the typed client, over in-process py-evm, anvil and a Hardhat node.

Validators stake; a participant challenges a finalised round inside its window; validators vote
with their audit reports; the verdict is executed on FedTask (root and shares replaced, the
coordinator slashed, the flags cancelled) or the bond is lost; every event is read back.
"""

from __future__ import annotations

import pytest

from chain.backends import ChainBackend
from chain.commitments import RewardTree, encode_shares
from chain.court import (
    ChallengeOpenedEvent,
    ChallengeResolvedEvent,
    ChallengeStatus,
    ValidatorExitedEvent,
    ValidatorJudgedEvent,
    ValidatorRegisteredEvent,
    ValidatorStakeAddedEvent,
    ValidatorStakeWithdrawnEvent,
)
from chain.errors import ChainRevertError
from chain.fed_task import DisputeOpenedEvent, DisputeResolvedEvent, FlagDismissedEvent
from tests.integration.chain.fedtask_world import PARAMS, PERIOD, STAKE, TOKEN, World, make_world

pytestmark = pytest.mark.slow


@pytest.fixture
def world(backend: ChainBackend) -> World:
    world = make_world(backend)
    court = world.court("v1")
    court.register_validator(100 * TOKEN)
    court.add_stake(50 * TOKEN)
    world.court("v2").register_validator(200 * TOKEN)
    return world


def finalised_round(world: World, *, flagged: tuple[str, ...] = ()) -> tuple[int, RewardTree]:
    task_id = world.ready_task(total_rounds=1, slash_bps=5_000)
    world.open(task_id, 1)
    world.ft("coordinator").post_batch(world.batch(task_id, 1, ("p1", "p2", "p3")), "bafkreib")
    amounts = {"p1": 300 * TOKEN, "p2": 100 * TOKEN}
    tree = world.finalize(task_id, 1, amounts, flagged=flagged, shares=[6_000, 3_000, 1_000])
    return task_id, tree


def test_upheld_challenge_replaces_the_root_and_slashes_the_coordinator(world: World) -> None:
    task_id, _ = finalised_round(world, flagged=("p3",))
    p = world.address
    corrected = RewardTree.build(
        task_id, 1, {p("p1"): 250 * TOKEN, p("p2"): 100 * TOKEN, p("p3"): 50 * TOKEN}
    )
    shares = encode_shares([5_000, 3_000, 2_000])
    challenge_id, _ = world.court("p3").challenge(
        task_id,
        1,
        evidence_cid="bafkreiaudit",
        corrected_root=corrected.root,
        corrected_shares=shares,
    )
    court, ft = world.court(), world.ft()
    assert court.open_challenge_of(task_id, 1) == challenge_id
    assert ft.round(task_id, 1).disputed
    assert ft.events(DisputeOpenedEvent, task_id=task_id)[0].round == 1
    with pytest.raises(ChainRevertError) as err:
        court.as_signer(world.signers["outsider"]).resolve(challenge_id)
    assert err.value.error_name == "CourtVotingOpen"
    world.court("v1").vote(challenge_id, 9_000, "bafkreireport1")
    world.court("v2").vote(challenge_id, 8_000, "bafkreireport2")
    world.court("outsider").resolve(challenge_id)  # everyone voted: no need to wait

    info = court.challenge_info(challenge_id)
    assert (info.status, info.accused, info.votes) == (ChallengeStatus.UPHELD, None, 2)
    assert info.corrected_shares == shares and info.consensus_bps == 8_000
    [resolved] = ft.events(DisputeResolvedEvent, task_id=task_id)
    assert (resolved.upheld, resolved.rewards_root) == (True, corrected.root)
    assert resolved.coordinator_slashed == STAKE // 2
    assert ft.round(task_id, 1).rewards_root == corrected.root
    assert ft.shares(task_id) == [5_000, 3_000, 2_000]
    [verdict] = court.verdicts(challenge_id)
    assert verdict.status is ChallengeStatus.UPHELD
    bonus = STAKE // 2 * world.court().challenger_reward_bps() // 10_000
    assert verdict.challenger_paid == PARAMS.challenge_bond + bonus
    assert verdict.validators_paid == STAKE // 2 - bonus
    judged = court.events(ValidatorJudgedEvent, challenge_id=challenge_id)
    assert {j.validator for j in judged} == {p("v1"), p("v2")} and all(j.trusted for j in judged)
    assert sum(j.reward for j in judged) == verdict.validators_paid
    assert [v.evidence_cid for v in court.votes_cast(challenge_id)] == [
        "bafkreireport1",
        "bafkreireport2",
    ]
    assert [(v.validator, v.uphold_bps) for v in court.votes(challenge_id)] == [
        (p("v1"), 9_000),
        (p("v2"), 8_000),
    ]

    # the upheld dispute cancelled the round's flags; claims follow the corrected root
    world.backend.wait_until(ft.round(task_id, 1).claimable_at, travel=True)
    world.ft("outsider").execute_slash(task_id, 1, p("p3"))
    assert ft.events(FlagDismissedEvent, task_id=task_id)[0].account == p("p3")
    world.ft("p3").claim_rewards(task_id, corrected.claim_for(p("p3")))
    before = world.token().balance_of(p("p3"))
    world.court("p3").withdraw()
    assert world.token().balance_of(p("p3")) - before == verdict.challenger_paid
    assert court.withdrawn_events(p("p3"))[0].amount == verdict.challenger_paid
    check_court_books(world)


def test_frivolous_challenge_loses_its_bond_to_the_validators(world: World) -> None:
    task_id, tree = finalised_round(world)
    court = world.court()
    with pytest.raises(ChainRevertError) as err:
        world.court("outsider").challenge(task_id, 1, evidence_cid="bafkreix")
    assert err.value.error_name == "CourtNotParticipant"
    assert err.value.error_args == {"taskId": task_id, "account": world.address("outsider")}
    challenge_id, result = world.court("p1").challenge(
        task_id, 1, accused=world.address("p2"), evidence_cid="bafkreiaccuse"
    )
    [opened] = court.events_in(result, ChallengeOpenedEvent)
    assert (opened.accused, opened.bond) == (world.address("p2"), PARAMS.challenge_bond)
    assert court.challenges_opened(task_id, 1) == [opened]
    with pytest.raises(ChainRevertError) as err:
        world.court("p3").challenge(task_id, 1, evidence_cid="bafkreiagain")
    assert err.value.error_name == "CourtChallengeAlreadyOpen"
    assert err.value.error_args["challengeId"] == challenge_id
    world.court("v1").vote(challenge_id, 1_000, "bafkreino1")
    with pytest.raises(ChainRevertError) as err:
        world.court("v1").vote(challenge_id, 1_000, "bafkreino1")
    assert err.value.error_name == "CourtAlreadyVoted"
    world.court("v2").vote(challenge_id, 0, "bafkreino2")
    world.court("outsider").resolve(challenge_id)
    [verdict] = court.events(ChallengeResolvedEvent, challenge_id=challenge_id)
    assert verdict.status is ChallengeStatus.REJECTED
    assert (verdict.challenger_paid, verdict.validators_paid) == (0, PARAMS.challenge_bond)
    owed = court.balance_of(world.address("v1")) + court.balance_of(world.address("v2"))
    assert owed == PARAMS.challenge_bond
    world.backend.wait_until(world.ft().round(task_id, 1).claimable_at, travel=True)
    world.ft("p2").claim_rewards(task_id, tree.claim_for(world.address("p2")))
    check_court_books(world)


def test_validators_stake_exit_and_withdraw(world: World) -> None:
    court, p = world.court(), world.address
    registered = court.events(ValidatorRegisteredEvent)
    assert [(e.validator, e.stake) for e in registered] == [
        (p("v1"), 100 * TOKEN),
        (p("v2"), 200 * TOKEN),
    ]
    [added] = court.events(ValidatorStakeAddedEvent, validator=p("v1"))
    assert (added.amount, added.stake) == (50 * TOKEN, 150 * TOKEN)
    assert court.active_validators() == [p("v1"), p("v2")]
    assert court.active_stake() == 350 * TOKEN
    assert (court.min_validator_stake(), court.challenge_bond()) == (
        PARAMS.min_validator_stake,
        PARAMS.challenge_bond,
    )
    assert (court.voting_period(), court.exit_cooldown()) == (PERIOD, PERIOD)
    assert (court.max_validators(), court.max_strikes(), court.trust_threshold_bps()) == (
        32,
        3,
        2_500,
    )
    assert court.fed_task() == world.deployment.fed_task
    assert court.token() == world.deployment.token
    with pytest.raises(ChainRevertError) as err:
        world.court("outsider").register_validator(PARAMS.min_validator_stake - 1)
    assert err.value.error_args == {
        "amount": PARAMS.min_validator_stake - 1,
        "minimum": PARAMS.min_validator_stake,
    }
    world.court("v2").request_exit()
    [exited] = court.events(ValidatorExitedEvent)
    assert not exited.struck_out and court.validator(p("v2")).exit_at == exited.exit_at
    with pytest.raises(ChainRevertError) as err:
        world.court("v2").withdraw_validator_stake()
    assert err.value.error_name == "CourtExitPending"
    world.backend.wait_until(exited.exit_at, travel=True)
    world.court("v2").withdraw_validator_stake()
    [withdrawn] = court.events(ValidatorStakeWithdrawnEvent)
    assert withdrawn.amount == 200 * TOKEN
    assert not court.validator(p("v2")).active and court.active_validators() == [p("v1")]
    check_court_books(world)


def check_court_books(world: World) -> None:
    """The court's invariant: its balance is the stakes, the bonds and what it owes."""
    court = world.court()
    held = world.token().balance_of(world.deployment.court)
    assert held == court.total_validator_stake() + court.bonds_held() + court.total_owed()
