"""Contribution estimators against hand-computed values."""

from itertools import permutations

import pytest

from incentives import ExactShapley, LeaveOneOut
from kernel.errors import InvalidInputError


def additive(values):
    return lambda coalition: sum(values[i] for i in coalition)


def test_loo_on_additive_utility_returns_each_value():
    result = LeaveOneOut().estimate(4, additive([1.0, 2.0, 0.0, -0.5]))
    assert result.method == "leave-one-out"
    assert result.scores == pytest.approx([1.0, 2.0, 0.0, -0.5])
    # n + 1 coalitions evaluated, the full one included
    assert len(result.utilities) == 5
    assert result.utilities["0,1,2,3"] == pytest.approx(2.5)


def test_loo_is_blind_to_redundant_participants():
    # Two identical participants: either alone gives the whole value.
    def utility(c):
        return 1.0 if c & {0, 1} else 0.0

    assert LeaveOneOut().estimate(2, utility).scores == [0.0, 0.0]
    # ... where Shapley splits it.
    assert ExactShapley().estimate(2, utility).scores == pytest.approx([0.5, 0.5])


def brute_force_shapley(n, utility):
    """Average marginal contribution over every ordering (the textbook definition)."""
    scores = [0.0] * n
    orders = list(permutations(range(n)))
    for order in orders:
        seen = frozenset()
        for player in order:
            scores[player] += utility(seen | {player}) - utility(seen)
            seen = seen | {player}
    return [s / len(orders) for s in scores]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_exact_shapley_matches_permutation_definition(n):
    def utility(c):  # non-additive: a saturating value with an interaction term
        base = sum((i + 1) ** 0.5 for i in c)
        return min(base, 3.0) + (0.7 if {0, n - 1} <= c else 0.0)

    result = ExactShapley().estimate(n, utility)
    assert result.scores == pytest.approx(brute_force_shapley(n, utility))
    # efficiency: the scores share out exactly U(N) - U(empty)
    assert sum(result.scores) == pytest.approx(utility(frozenset(range(n))) - utility(frozenset()))


def test_exact_shapley_refuses_too_many_players():
    with pytest.raises(InvalidInputError):
        ExactShapley().estimate(17, lambda c: 0.0)
