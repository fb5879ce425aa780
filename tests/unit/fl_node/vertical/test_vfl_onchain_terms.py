"""The vertical task's on-chain terms, reward plan and deadline clock, without a chain.

The reward plan is checked against the obvious computation (the proportional split of
``incentives.rewards`` and a Merkle proof verified leaf by leaf), the terms against the
contract's ``TaskConfig``, and the clock against a fake backend that records what it was asked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from chain.commitments import ZERO_HASH, reward_leaf
from chain.merkle import verify
from fl_node.events import Event
from fl_node.vertical.runner import (
    TOKEN,
    DeadlineMissedError,
    DeadlineReached,
    RewardPlan,
    TaskTerms,
    VflInputError,
    VflSettings,
    travel_schedule,
    waiting_schedule,
)
from fl_node.vertical.runner.onchain._clock import Deadlines
from incentives.rewards import scores_to_fixed, split_proportional

GUEST = "0x1111111111111111111111111111111111111111"
HOST = "0x2222222222222222222222222222222222222222"
POOL = 1_000 * TOKEN


def test_the_plan_splits_the_cap_by_shapley_score_exactly() -> None:
    contributions = [0.22352941176470592, 0.26176470588235295]
    plan = RewardPlan.build(7, [GUEST, HOST], contributions, POOL)
    expected = split_proportional(POOL, scores_to_fixed(contributions))
    assert list(plan.amounts) == expected
    assert plan.budget == sum(expected) == POOL  # one round: the whole pool
    assert plan.by_address(plan.amounts) == {GUEST: expected[0], HOST: expected[1]}
    assert sum(plan.shares_bps) == 10_000 and plan.shares_bps == (4606, 5394)


def test_every_claim_proves_its_leaf_against_the_root() -> None:
    plan = RewardPlan.build(7, [GUEST, HOST], [0.3, 0.1], POOL)
    root = bytes.fromhex(plan.root[2:])
    for address, amount in plan.by_address(plan.amounts).items():
        claim = plan.tree.claim_for(address)
        assert claim.amount == amount and claim.round == 1
        assert verify(list(claim.proof), root, reward_leaf(7, 1, address, amount))
    assert not verify(
        list(plan.tree.claim_for(GUEST).proof), root, reward_leaf(7, 1, GUEST, plan.amounts[0] + 1)
    )


def test_a_party_that_hurt_the_model_gets_no_leaf_and_no_share() -> None:
    plan = RewardPlan.build(7, [GUEST, HOST], [-0.02, 0.3], POOL)
    assert plan.amounts == (0, POOL) and plan.budget == POOL
    assert plan.shares_bps == (0, 10_000)
    assert plan.tree.amount_of(GUEST) == 0 and plan.tree.amount_of(HOST) == POOL


def test_nothing_positive_pays_nothing_with_a_zero_root_and_equal_shares() -> None:
    plan = RewardPlan.build(7, [GUEST, HOST], [0.0, -0.1], POOL)
    assert plan.budget == 0 and plan.amounts == (0, 0)
    assert plan.root == "0x" + ZERO_HASH.hex()  # the contract requires it of a zero budget
    assert plan.shares_bps == (5_000, 5_000)


def test_the_evidence_holds_what_an_auditor_needs_to_recompute_the_root() -> None:
    plan = RewardPlan.build(7, [GUEST, HOST], [0.3, 0.1], POOL)
    doc = plan.evidence()
    assert doc["rewards_root"] == plan.root
    assert doc["cap_wei"] == str(POOL) and doc["budget_wei"] == str(plan.budget)
    amounts = {a: int(w) for a, w in doc["amounts_wei"].items()}
    assert amounts == plan.by_address(plan.amounts)
    assert RewardPlan.build(7, [GUEST, HOST], [0.3, 0.1], POOL).root == plan.root
    assert doc["shares_bps"] == {GUEST: 7_500, HOST: 2_500}


def test_terms_ask_for_a_permissioned_one_round_task_of_both_parties() -> None:
    terms = TaskTerms(POOL, participant_stake=5 * TOKEN, coordinator_stake=7 * TOKEN, slash_bps=10)
    schedule = waiting_schedule(30, 3)
    config = terms.config("bafkreispec", b"\x01" * 32, HOST, schedule)
    assert (config.total_rounds, config.max_participants, config.quorum) == (1, 2, 2)
    assert config.permissioned and config.pool == POOL and config.schedule == schedule
    assert (config.participant_stake, config.coordinator_stake) == (5 * TOKEN, 7 * TOKEN)
    assert config.slash_bps == 10
    assert terms.needs() == {
        "sponsor": POOL,
        "coordinator": 7 * TOKEN,
        "guest": 5 * TOKEN,
        "host": 5 * TOKEN,
    }


def test_the_default_schedule_depends_on_whether_the_run_travels() -> None:
    terms = TaskTerms(POOL)
    assert terms.resolved(travels=True) == travel_schedule()
    assert terms.resolved(travels=False) == waiting_schedule()
    given = waiting_schedule(12, 2)
    assert TaskTerms(POOL, schedule=given).resolved(travels=True) == given


def test_a_waiting_schedule_waits_only_for_the_short_periods() -> None:
    s = waiting_schedule(training=40, wait=4)
    limits = (s.join_period, s.commit_period, s.finalize_period, s.open_period, s.abort_grace)
    waits = (s.inclusion_period, s.reveal_period, s.challenge_period, s.stake_cooldown)
    assert set(limits) == {40} and set(waits) == {4}
    assert all(v > 0 for v in asdict(travel_schedule()).values())


@pytest.mark.parametrize(
    "settings",
    [
        VflSettings(slash_bps=10_001),
        VflSettings(participant_stake_tokens=-1),
        VflSettings(coordinator_stake_tokens=-1),
        VflSettings(pool_tokens=0),
    ],
)
def test_settings_refuse_terms_the_contract_would_refuse(
    settings: VflSettings, tmp_path: Path
) -> None:
    with pytest.raises(VflInputError):
        settings.plan("breast", tmp_path)


@dataclass
class FakeBackend:
    """Records what the clock asks; time moves only when asked to."""

    now: int = 1_000
    can_travel: bool = True
    calls: list[tuple[int, bool]] = field(default_factory=list)

    def chain_time(self) -> int:
        return self.now

    def wait_until(self, timestamp: int, *, travel: bool, poll: float, timeout: float) -> int:
        self.calls.append((timestamp, travel))
        self.now = max(self.now, timestamp)
        return self.now


@pytest.mark.parametrize(
    ("owns_chain", "can_travel", "mode"),
    [(True, True, "travel"), (False, True, "wait"), (True, False, "wait"), (False, False, "wait")],
)
def test_the_clock_travels_only_on_a_chain_it_owns_that_can_travel(
    owns_chain: bool, can_travel: bool, mode: str
) -> None:
    backend = FakeBackend(can_travel=can_travel)
    events: list[Event] = []
    clock = Deadlines(backend, travel=owns_chain, emit=events.append)  # type: ignore[arg-type]
    clock.reach(5_000, "reveal deadline")
    assert clock.mode == mode
    assert backend.calls == [(5_000, mode == "travel")]
    assert isinstance(events[0], DeadlineReached)
    assert (events[0].deadline, events[0].timestamp, events[0].mode) == (
        "reveal deadline",
        5_000,
        mode,
    )


def test_a_step_past_its_deadline_is_refused_with_the_period_to_lengthen() -> None:
    clock = Deadlines(FakeBackend(now=2_000), travel=False)  # type: ignore[arg-type]
    clock.check_before(2_001, "open round 1", "join period")
    with pytest.raises(DeadlineMissedError, match="lengthen the schedule's join period"):
        clock.check_before(2_000, "open round 1", "join period")
