"""The contribution benchmark's statistics against hand-computed values and brute-force references.

Spearman's rho against the textbook ``1 - 6 sum d^2 / (n (n^2 - 1))`` (no ties) and a hand-worked
case with ties; the Gini coefficient against its definition as the mean absolute difference of
all pairs over twice the mean; the largest relative error by hand.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from fedmarket.bench._contribution_stats import (
    gini,
    max_relative_error,
    mean,
    minimum,
    ranks,
    spearman,
)
from kernel.errors import InvalidInputError


def textbook_spearman(a: list[float], b: list[float]) -> float:
    """``1 - 6 sum d^2 / (n (n^2 - 1))`` with ranks by counting (distinct values only)."""
    n = len(a)
    rank_a = [1 + sum(1 for y in a if y < x) for x in a]
    rank_b = [1 + sum(1 for y in b if y < x) for x in b]
    d2 = sum((x - y) ** 2 for x, y in zip(rank_a, rank_b, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


def pairwise_gini(values: list[float]) -> float:
    """``sum_i sum_j |x_i - x_j| / (2 n^2 mean)``: the definition."""
    xs = [max(v, 0.0) for v in values]
    n, total = len(xs), sum(xs)
    return sum(abs(x - y) for x in xs for y in xs) / (2 * n * total)


def test_ranks_share_the_mean_rank_of_ties() -> None:
    assert ranks([10.0, 30.0, 20.0, 30.0]) == [1.0, 3.5, 2.0, 3.5]
    assert ranks([]) == []


@pytest.mark.parametrize("seed", range(20))
def test_spearman_is_the_textbook_formula_without_ties(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(3, 12)
    a = rng.sample(range(1000), n)
    b = rng.sample(range(1000), n)
    assert spearman([float(x) for x in a], [float(y) for y in b]) == pytest.approx(
        textbook_spearman([float(x) for x in a], [float(y) for y in b]), abs=1e-12
    )


def test_spearman_of_every_order_of_four_matches_the_formula() -> None:
    base = [0.1, 0.2, 0.3, 0.4]
    for order in itertools.permutations(base):
        assert spearman(base, list(order)) == pytest.approx(
            textbook_spearman(base, list(order)), abs=1e-12
        )


def test_spearman_with_ties_by_hand() -> None:
    # ranks a = [1, 2.5, 2.5, 4], b = [1, 2, 3, 4]; both mean 2.5
    # cov = 2.25 + 0 + 0 + 2.25 = 4.5; var a = 4.5, var b = 5 -> rho = 4.5 / sqrt(22.5)
    assert spearman([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(
        4.5 / math.sqrt(22.5)
    )


def test_spearman_is_one_for_the_same_order_and_minus_one_for_the_reverse() -> None:
    assert spearman([1.0, 5.0, 9.0], [0.1, 0.2, 0.3]) == pytest.approx(1.0)
    assert spearman([1.0, 5.0, 9.0], [0.3, 0.2, 0.1]) == pytest.approx(-1.0)


def test_spearman_is_nan_when_a_side_is_constant_or_too_short() -> None:
    assert math.isnan(spearman([0.0, 0.0, 0.0], [1.0, 2.0, 3.0]))
    assert math.isnan(spearman([1.0], [2.0]))
    with pytest.raises(InvalidInputError):
        spearman([1.0, 2.0], [1.0])


def test_max_relative_error_by_hand() -> None:
    # errors 0.1, 0.05, 0.4; largest exact magnitude 2.0 -> 0.2
    assert max_relative_error([1.1, -0.45, 2.4], [1.0, -0.5, 2.0]) == pytest.approx(0.2)
    assert max_relative_error([0.3, 0.1], [0.0, 0.0]) == 0.0
    assert max_relative_error([0.5, 0.5], [0.5, 0.5]) == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_gini_is_the_pairwise_definition(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.uniform(0.0, 10.0) for _ in range(rng.randint(1, 15))]
    assert gini(values) == pytest.approx(pairwise_gini(values), abs=1e-12)


def test_gini_by_hand() -> None:
    assert gini([5.0, 5.0, 5.0]) == 0.0
    assert gini([0.0, 0.0, 0.0, 12.0]) == pytest.approx(0.75)  # 1 - 1/n: one holds all
    assert gini([1.0, 3.0]) == pytest.approx(0.25)  # |1-3|*2 / (2 * 4 * 2)
    assert gini([-4.0, 0.0, 0.0, 12.0]) == pytest.approx(0.75)  # negatives count as 0
    assert gini([]) == 0.0 and gini([0.0, 0.0]) == 0.0


def test_mean_and_minimum_leave_nan_out() -> None:
    assert mean([1.0, math.nan, 3.0]) == 2.0
    assert minimum([math.nan, 0.5, 0.9]) == 0.5
    assert math.isnan(mean([math.nan])) and math.isnan(minimum([]))
