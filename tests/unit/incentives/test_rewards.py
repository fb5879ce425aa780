"""The reward split against an exact rational reference, and the round budget schedule."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives import allocate_round, round_budget, scores_to_fixed, split_proportional
from kernel.errors import InvalidInputError

budgets = st.integers(min_value=0, max_value=10**30)
score_lists = st.lists(st.integers(min_value=0, max_value=10**24), min_size=1, max_size=12)


@given(budgets, score_lists)
def test_split_proportional_sums_exactly_and_stays_within_one_wei(budget, scores):
    amounts = split_proportional(budget, scores)
    total = sum(scores)
    if total == 0:
        assert amounts == [0] * len(scores)
        return
    assert sum(amounts) == budget
    for amount, score in zip(amounts, scores, strict=True):
        exact = Fraction(budget * score, total)
        assert abs(amount - exact) < 1
        if score == 0:
            assert amount == 0


def test_split_proportional_hand_computed():
    # 100 wei over scores 1:1:1 -> prefix floors 33, 66, 100
    assert split_proportional(100, [1, 1, 1]) == [33, 33, 34]
    assert split_proportional(10, [0, 3, 0, 7]) == [0, 3, 0, 7]
    assert split_proportional(7, [0, 0]) == [0, 0]


@pytest.mark.parametrize(("budget", "scores"), [(-1, [1]), (5, [1, -2])])
def test_split_proportional_rejects_negative_input(budget, scores):
    with pytest.raises(InvalidInputError):
        split_proportional(budget, scores)


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=1, max_value=50))
def test_round_budgets_spend_the_whole_pool_over_the_rounds(pool, rounds):
    remaining = pool
    spent = 0
    for left in range(rounds, 0, -1):
        budget = round_budget(remaining, left)
        spent += budget
        remaining -= budget
    assert spent == pool
    assert remaining == 0


def test_round_budget_rolls_unspent_budget_forward():
    # 3 rounds of 90: round 1 pays nothing, so rounds 2 and 3 share all 90.
    assert round_budget(90, 3) == 30
    assert round_budget(90, 2) == 45
    assert round_budget(45, 1) == 45
    with pytest.raises(InvalidInputError):
        round_budget(10, 0)


def test_scores_to_fixed_clips_negatives_and_non_finite():
    assert scores_to_fixed([0.5, -0.1, float("nan"), float("inf"), 0.0], scale=100) == [
        50,
        0,
        0,
        0,
        0,
    ]


def test_allocate_round_zeroes_ineligible_participants():
    rewards = allocate_round(
        [0.2, 0.3, 0.5], escrow_remaining=1000, rounds_left=2, eligible=[True, False, True]
    )
    assert rewards.budget == 500
    assert rewards.scores[1] == 0
    assert rewards.amounts[1] == 0
    assert rewards.paid == 500
    assert rewards.amounts == split_proportional(500, rewards.scores)
