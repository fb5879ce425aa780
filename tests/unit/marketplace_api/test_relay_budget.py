"""The per-owner gas budget's maths over a rolling window, against a hand count."""

from __future__ import annotations

import itertools
import random

import pytest

from kernel.errors import ConfigurationError
from marketplace_api.relay import Charge, GasBudgetPolicy, decide

DAY = 86_400
LISTING = 177_550


def test_a_fresh_owner_fits_two_listings_then_waits_for_the_first_to_leave_the_window() -> None:
    policy = GasBudgetPolicy()
    allowance = policy.allowance(established=False)
    charges = [Charge(at=1_000, gas=LISTING)]
    second = decide(charges, allowance=allowance, window=DAY, now=1_100, estimate=policy.estimate)
    assert second.allowed and second.spent == LISTING
    charges.append(Charge(at=1_100, gas=LISTING))
    third = decide(charges, allowance=allowance, window=DAY, now=1_200, estimate=policy.estimate)
    assert not third.allowed
    assert third.spent == 2 * LISTING
    assert third.retry_after == 1_000 + DAY - 1_200  # the first charge leaves, then it fits
    at_expiry = decide(
        charges, allowance=allowance, window=DAY, now=1_000 + DAY, estimate=policy.estimate
    )
    assert at_expiry.allowed and at_expiry.spent == LISTING


def test_retry_after_skips_charges_whose_leaving_is_not_enough() -> None:
    charges = [Charge(10, 100), Charge(20, 100), Charge(30, 100)]
    decision = decide(charges, allowance=300, window=100, now=50, estimate=150)
    # 300 spent: 200 left once t=10 leaves (200 + 150 > 300), 100 once t=20 does (fits)
    assert (decision.allowed, decision.retry_after) == (False, 20 + 100 - 50)


def test_an_estimate_above_the_allowance_waits_the_whole_window() -> None:
    decision = decide([], allowance=100, window=DAY, now=0, estimate=101)
    assert (decision.allowed, decision.retry_after) == (False, DAY)


def test_decide_agrees_with_a_brute_force_search_of_the_first_second_it_fits() -> None:
    rng = random.Random(8)
    for _ in range(300):
        window, now = rng.randint(5, 50), rng.randint(50, 100)
        charges = [
            Charge(at=rng.randint(now - 60, now), gas=rng.randint(1, 40))
            for _ in range(rng.randint(0, 6))
        ]
        allowance, estimate = rng.randint(40, 120), rng.randint(1, 40)
        decision = decide(charges, allowance=allowance, window=window, now=now, estimate=estimate)

        def fits(t: int) -> bool:
            live = sum(c.gas for c in charges if t < c.at + window)  # noqa: B023
            return live + estimate <= allowance  # noqa: B023

        first = next(t for t in itertools.count(now) if fits(t))
        assert decision.allowed == (first == now)
        assert decision.retry_after == (0 if first == now else first - now)


def test_the_established_allowance_is_the_larger_one() -> None:
    policy = GasBudgetPolicy(fresh_gas=400_000, established_gas=2_000_000)
    assert policy.allowance(established=True) == 2_000_000
    assert policy.allowance(established=False) == 400_000


@pytest.mark.parametrize(
    "overrides",
    [
        {"fresh_gas": 100_000},  # below one listing: honest newcomers could never list
        {"established_gas": 100_000},
        {"window": 0},
        {"estimate": 20_000},
        {"established_listings": 0},
    ],
)
def test_a_budget_that_cannot_work_is_refused(overrides: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        GasBudgetPolicy(**overrides)
