"""The reference arithmetic of model and dataset sales, against the obvious computation.

The contract's own results are compared with these functions in
``tests/integration/chain/test_market_clients.py``; here they meet hand-computed cases and the
properties the spec promises: no wei created or lost, the contributors' part a multiple of
10,000 wei, and the contributors' claims summing to it exactly whenever they claim.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.market import (
    MAX_FEE_BPS,
    MAX_SPONSOR_BPS,
    PROCEEDS_UNIT,
    contributor_entitlement,
    sale_split,
)
from chain.registry import dataset_sale_split
from kernel.errors import InvalidInputError

paid_st = st.integers(min_value=0, max_value=10**30)
fee_st = st.integers(min_value=0, max_value=MAX_FEE_BPS)
sponsor_st = st.integers(min_value=0, max_value=MAX_SPONSOR_BPS)


@st.composite
def shares(draw: st.DrawFn) -> list[int]:
    """Basis-point shares of 1 to 12 contributors, each positive, summing to 10,000."""
    n = draw(st.integers(min_value=1, max_value=12))
    cuts = sorted(draw(st.sets(st.integers(1, 9_999), min_size=n - 1, max_size=n - 1)))
    bounds = [0, *cuts, 10_000]
    return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


def test_a_hand_computed_sale() -> None:
    # 1 token at 2.5 % fee and a 15 % sponsor cut
    split = sale_split(10**18 + 12_345, 250, 1_500)
    fee = (10**18 + 12_345) * 250 // 10_000
    cut = (10**18 + 12_345) * 1_500 // 10_000
    rest = 10**18 + 12_345 - fee - cut
    assert split.fee == fee == 25_000_000_000_000_308
    assert split.sponsor_cut == cut == 150_000_000_000_001_851
    assert split.contributors_amount == rest - rest % 10_000 == 825_000_000_000_010_000
    assert split.residue == 186
    assert split.sponsor_amount == cut + 186


def test_a_sale_below_the_unit_goes_to_the_sponsor() -> None:
    split = sale_split(9_999, 0, 0)
    assert split.contributors_amount == 0
    assert split.sponsor_amount == 9_999


@given(paid_st, fee_st, sponsor_st)
def test_a_sale_creates_and_loses_nothing(paid: int, fee_bps: int, sponsor_bps: int) -> None:
    split = sale_split(paid, fee_bps, sponsor_bps)
    assert split.fee + split.sponsor_amount + split.contributors_amount == paid
    assert split.contributors_amount % PROCEEDS_UNIT == 0
    assert 0 <= split.residue < PROCEEDS_UNIT
    assert split.sponsor_amount == split.sponsor_cut + split.residue
    # the rates are floors of the exact fractions
    assert split.fee == int(Fraction(paid * fee_bps, 10_000))
    assert split.sponsor_cut == int(Fraction(paid * sponsor_bps, 10_000))


@given(st.lists(paid_st, min_size=1, max_size=6), fee_st, sponsor_st, shares(), st.randoms())
def test_claims_sum_to_the_proceeds_whenever_contributors_claim(
    prices: list[int], fee_bps: int, sponsor_bps: int, bps: list[int], rnd: random.Random
) -> None:
    proceeds = 0
    claimed = [0] * len(bps)
    for price in prices:
        proceeds += sale_split(price, fee_bps, sponsor_bps).contributors_amount
        for i, share in enumerate(bps):  # some contributors claim after each sale
            if rnd.random() < 0.5:
                claimed[i] += contributor_entitlement(proceeds, share, claimed[i])
    for i, share in enumerate(bps):
        claimed[i] += contributor_entitlement(proceeds, share, claimed[i])
        assert claimed[i] * 10_000 == proceeds * share  # exact: no rounding
    assert sum(claimed) == proceeds


def test_entitlement_never_goes_negative() -> None:
    assert contributor_entitlement(20_000, 5_000, claimed=10_000) == 0
    assert contributor_entitlement(20_000, 5_000, claimed=15_000) == 0
    assert contributor_entitlement(30_000, 5_000, claimed=10_000) == 5_000


@given(paid_st, st.integers(min_value=0, max_value=10_000))
def test_a_dataset_sale_splits_into_fee_and_owner(paid: int, fee_bps: int) -> None:
    fee, owner = dataset_sale_split(paid, fee_bps)
    assert fee + owner == paid
    assert fee == paid * fee_bps // 10_000


@pytest.mark.parametrize(
    "call",
    [
        lambda: sale_split(-1, 0, 0),
        lambda: sale_split(1, -1, 0),
        lambda: sale_split(1, 0, -1),
        lambda: sale_split(1, 5_000, 5_001),
        lambda: contributor_entitlement(-1, 1),
        lambda: contributor_entitlement(1, 10_001),
        lambda: contributor_entitlement(1, 1, claimed=-1),
        lambda: dataset_sale_split(-1, 0),
        lambda: dataset_sale_split(1, 10_001),
    ],
)
def test_out_of_range_inputs_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidInputError):
        call()
