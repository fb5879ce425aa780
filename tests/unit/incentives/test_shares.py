"""Largest-remainder shares against a brute-force reference, and their properties."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives.shares import BPS, shares_bps
from kernel.errors import InvalidInputError

contributions = st.lists(
    st.one_of(
        st.integers(min_value=-5, max_value=10**6),
        st.floats(min_value=-1.0, max_value=1e6, allow_nan=False, allow_infinity=False),
        st.sampled_from([0, 0.0, 1, 1.0, 1 / 3, 2 / 3]),
    ),
    min_size=1,
    max_size=12,
)


def brute_force(values: list[float], total: int = BPS) -> list[int]:
    """The roundings of the exact quotas that sum to ``total``, the one closest to them.

    Least squares; among equally close ones, the set of round-ups that comes first.
    """
    weights = [max(Fraction(v), Fraction(0)) for v in values]
    if not any(weights):
        weights = [Fraction(1)] * len(values)
    quotas = [total * w / sum(weights) for w in weights]
    floors = [math.floor(q) for q in quotas]
    best: tuple[Fraction, list[int]] | None = None
    for ups in itertools.combinations(range(len(values)), total - sum(floors)):
        shares = [f + (i in ups) for i, f in enumerate(floors)]
        cost = sum((s - q) ** 2 for s, q in zip(shares, quotas, strict=True))
        if best is None or cost < best[0]:
            best = (cost, shares)
    assert best is not None
    return best[1]


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=7))
def test_matches_the_brute_force_reference(values):
    assert shares_bps(values) == brute_force(values)


@given(st.lists(st.sampled_from([0, 1, 2, 3, 7]), min_size=1, max_size=7))
def test_matches_the_brute_force_reference_with_many_ties(values):
    assert shares_bps(values) == brute_force(values)
    assert shares_bps(values, total=10) == brute_force(values, total=10)


@given(contributions)
def test_sum_is_exactly_10000_and_each_share_is_within_one_of_its_quota(values):
    shares = shares_bps(values)
    assert sum(shares) == BPS
    assert all(0 <= s <= BPS for s in shares)
    weights = [max(Fraction(v), Fraction(0)) for v in values]
    if any(weights):
        for share, weight in zip(shares, weights, strict=True):
            assert abs(share - BPS * weight / sum(weights)) < 1


@given(contributions)
def test_monotone_in_contribution(values):
    shares = shares_bps(values)
    effective = [max(v, 0) for v in values]
    for i, j in itertools.permutations(range(len(values)), 2):
        if effective[i] > effective[j]:
            assert shares[i] >= shares[j]
        if effective[i] == effective[j] and i < j:
            assert shares[i] - shares[j] in (0, 1)  # ties: the earlier participant first


@given(contributions)
def test_zero_contribution_gets_nothing_unless_nobody_contributed(values):
    shares = shares_bps(values)
    if any(v > 0 for v in values):
        assert all(s == 0 for s, v in zip(shares, values, strict=True) if v <= 0)
    else:
        assert max(shares) - min(shares) <= 1


def test_hand_computed():
    assert shares_bps([1, 1, 1]) == [3334, 3333, 3333]
    assert shares_bps([0, 2, 0, 2]) == [0, 5000, 0, 5000]
    assert shares_bps([0, 0, 0]) == [3334, 3333, 3333]
    assert shares_bps([-3, 1]) == [0, 10_000]
    assert shares_bps([0.5, 0.25, 0.25]) == [5000, 2500, 2500]
    assert shares_bps([1, 2, 3, 4, 5, 6, 7]) == [357, 714, 1071, 1429, 1786, 2143, 2500]


def test_deterministic_and_order_sensitive_only_through_ties():
    values = [0.1, 0.2, 0.3, 0.4]
    assert shares_bps(values) == shares_bps(list(values))
    assert shares_bps(values[::-1]) == shares_bps(values)[::-1]


@pytest.mark.parametrize(
    ("values", "total"),
    [([], BPS), ([1.0, math.nan], BPS), ([math.inf], BPS), ([1], -1)],
)
def test_rejects_what_has_no_shares(values, total):
    with pytest.raises(InvalidInputError):
        shares_bps(values, total=total)
