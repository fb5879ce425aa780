"""The reward rules the coordinator and the audit share.

Budget within the cap, amounts by the scores, leaves and root, and the last round's shares.
"""

from __future__ import annotations

import pytest

from chain.commitments import RewardTree
from fl_node.payout import (
    allocate_within_cap,
    contributions_of,
    cumulative_contributions,
    reward_split,
    shares_record,
)
from kernel.types import Address

A, B, C = (Address("0x" + d * 40) for d in "abc")
CAP = 10**20


def test_a_round_pays_its_cap_in_proportion_to_the_accepted_contributions():
    rewards = allocate_within_cap([0.3, 0.1, 0.6], [True, True, False], CAP, 2)
    assert rewards.budget == CAP == sum(rewards.amounts)
    assert rewards.scores[2] == 0 and rewards.amounts[2] == 0  # rejected: nothing
    assert rewards.amounts[0] == 3 * rewards.amounts[1]


@pytest.mark.parametrize(
    ("contributions", "accepted", "quorum"),
    [
        ([0.3, 0.1, 0.6], [True, False, False], 2),  # below quorum
        ([-0.3, 0.0, -0.1], [True, True, True], 1),  # nobody helped
        ([0.3, 0.1, 0.6], [False, False, False], 0),  # nothing accepted
    ],
    ids=["below-quorum", "no-positive-score", "nothing-accepted"],
)
def test_a_round_pays_nothing_when_it_should_not(contributions, accepted, quorum):
    rewards = allocate_within_cap(contributions, accepted, CAP, quorum)
    assert rewards.budget == 0 and not any(rewards.amounts)


def test_the_split_lists_the_positive_amounts_as_leaves_under_the_root():
    rewards = allocate_within_cap([0.5, 0.0, 0.25], [True, True, True], CAP, 1)
    split = reward_split(7, 3, [A, B, C], CAP, rewards)
    assert [(leaf.account, leaf.amount) for leaf in split.leaves] == [
        (A, rewards.amounts[0]),
        (C, rewards.amounts[2]),
    ]
    tree = RewardTree.build(7, 3, {A: rewards.amounts[0], C: rewards.amounts[2]})
    assert split.root == "0x" + tree.root.hex()
    assert split.cap == CAP and split.budget == sum(leaf.amount for leaf in split.leaves)
    nothing = reward_split(7, 3, [A, B, C], CAP, allocate_within_cap([0, 0, 0], [True] * 3, CAP, 1))
    assert nothing.root == "0x" + "00" * 32 and nothing.leaves == ()


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
