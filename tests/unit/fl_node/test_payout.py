"""The reward rules the coordinator and the audit share.

The round's terms under each policy, the improvement, the seed, amounts by the scores, leaves
and root, and the last round's shares.
"""

from __future__ import annotations

import math

import pytest
from eth_utils.crypto import keccak

from chain.commitments import RewardTree
from fl_node.payout import (
    RoundTerms,
    contribution_seed,
    contributions_of,
    cumulative_contributions,
    reward_split,
    round_improvement,
    round_rewards,
    shares_record,
)
from incentives.rewards import LEGACY_POLICY, RewardPolicy
from kernel.types import Address

A, B, C = (Address("0x" + d * 40) for d in "abc")
CAP = 10**20
POOL = 10**21
EVEN = RoundTerms(LEGACY_POLICY, cap=CAP, quorum=2, pool=POOL, rounds=10)
IMPROVEMENT = RoundTerms(RewardPolicy(), cap=CAP, quorum=2, pool=POOL, rounds=10)


def test_an_even_round_pays_its_cap_in_proportion_to_the_accepted_contributions():
    rewards = round_rewards(EVEN, [0.3, 0.1, 0.6], [True, True, False], 0.0)
    assert rewards.budget == CAP == sum(rewards.amounts)
    assert rewards.scores[2] == 0 and rewards.amounts[2] == 0  # rejected: nothing
    assert rewards.amounts[0] == 3 * rewards.amounts[1]


@pytest.mark.parametrize(
    ("improvement", "budget"),
    [(0.0, 0), (-0.5, 0), (math.nan, 0), (0.0025, CAP // 4), (0.01, CAP), (0.3, CAP)],
    ids=["none", "worse", "unmeasured", "a-quarter", "full", "beyond-full"],
)
def test_an_improvement_round_pays_in_proportion_to_the_gain(improvement, budget):
    rewards = round_rewards(IMPROVEMENT, [0.3, 0.1, 0.6], [True, True, True], improvement)
    assert rewards.budget == sum(rewards.amounts) == budget


def test_return_never_pays_above_an_even_share_of_the_pool():
    carried = RoundTerms(RewardPolicy(), cap=3 * POOL // 10, quorum=1, pool=POOL, rounds=10)
    assert round_rewards(carried, [1.0], [True], 1.0).budget == POOL // 10
    carry = RoundTerms(
        RewardPolicy(unspent="carry"), cap=3 * POOL // 10, quorum=1, pool=POOL, rounds=10
    )
    assert round_rewards(carry, [1.0], [True], 1.0).budget == 3 * POOL // 10


@pytest.mark.parametrize("terms", [EVEN, IMPROVEMENT], ids=["even", "improvement"])
@pytest.mark.parametrize(
    ("contributions", "accepted"),
    [
        ([0.3, 0.1, 0.6], [True, False, False]),  # below quorum
        ([-0.3, 0.0, -0.1], [True, True, True]),  # nobody helped
        ([0.3, 0.1, 0.6], [False, False, False]),  # nothing accepted
    ],
    ids=["below-quorum", "no-positive-score", "nothing-accepted"],
)
def test_a_round_pays_nothing_when_it_should_not(terms, contributions, accepted):
    rewards = round_rewards(terms, contributions, accepted, 1.0)
    assert rewards.budget == 0 and not any(rewards.amounts)


def test_the_improvement_is_the_full_coalition_over_the_empty_one():
    utilities = {"": -0.70, "0": -0.60, "1": -0.65, "0,1": -0.55}
    assert round_improvement(utilities, 2) == pytest.approx(0.15)
    assert round_improvement(utilities, 0) == 0.0
    assert math.isnan(round_improvement({"0,1": -0.5}, 2))  # v(empty) not measured
    assert math.isnan(round_improvement({"": -math.inf, "0": -0.5}, 1))


def test_the_seed_is_keccak_of_the_opening_model_and_the_round():
    model = bytes(range(32))
    digest = keccak(model + (3).to_bytes(32, "big"))
    assert contribution_seed(model, 3) == int.from_bytes(digest[:8], "big") >> 11
    assert contribution_seed("0x" + model.hex(), 3) == contribution_seed(model, 3)
    assert contribution_seed(model, 4) != contribution_seed(model, 3)
    assert contribution_seed(model, 3) < 2**53  # exact in any JSON reader


def test_the_split_lists_the_positive_amounts_as_leaves_under_the_root():
    rewards = round_rewards(EVEN, [0.5, 0.0, 0.25], [True, True, True], 0.0)
    split = reward_split(7, 3, [A, B, C], EVEN, rewards, 0.02)
    assert [(leaf.account, leaf.amount) for leaf in split.leaves] == [
        (A, rewards.amounts[0]),
        (C, rewards.amounts[2]),
    ]
    tree = RewardTree.build(7, 3, {A: rewards.amounts[0], C: rewards.amounts[2]})
    assert split.root == "0x" + tree.root.hex()
    assert split.cap == CAP and split.budget == sum(leaf.amount for leaf in split.leaves)
    assert split.policy == LEGACY_POLICY.to_dict() and split.improvement == 0.02
    assert split.split == LEGACY_POLICY.describe()
    nothing = reward_split(
        7, 3, [A, B, C], EVEN, round_rewards(EVEN, [0, 0, 0], [True] * 3, 0.0), math.nan
    )
    assert nothing.root == "0x" + "00" * 32 and nothing.leaves == ()
    assert nothing.improvement is None  # not finite: not on the record


def test_shares_follow_the_positive_contributions_and_sum_to_a_whole():
    per_round = [[0.2, -0.1, 0.0], [0.1, 0.05, 0.3]]
    cumulative = cumulative_contributions(per_round)
    # A harmful round adds 0 (rounds pay nothing for it), it does not cancel earlier ones.
    assert cumulative == pytest.approx([0.3, 0.05, 0.3])
    record = shares_record(cumulative)
    assert sum(record.bps) == 10_000
    assert record.bps == (4_616, 769, 4_615)  # largest remainder, the tie to join order
    never_helped = shares_record(cumulative_contributions([[0.2, -0.3], [0.1, 0.0]]))
    assert never_helped.bps == (10_000, 0)
    assert cumulative_contributions([]) == []
    assert contributions_of([]) == []
