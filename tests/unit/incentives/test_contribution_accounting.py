"""Multi-round accounting: per-round scores into cumulative contributions and final shares."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives import ContributionLedger, ContributionResult, RoundScores, shares_bps
from incentives.shares import BPS
from kernel.errors import InvalidInputError


def reference_cumulative(rounds: list[list[float]]) -> list[float]:
    """The obvious fold: per participant, the positive scores added up in round order."""
    totals = [0.0] * len(rounds[0])
    for scores in rounds:
        for i, s in enumerate(scores):
            if s > 0:
                totals[i] += s
    return totals


def ledger_of(rounds: list[list[float]]) -> ContributionLedger:
    ledger = ContributionLedger(len(rounds[0]))
    for number, scores in enumerate(rounds, start=1):
        ledger = ledger.record(RoundScores(round=number, scores=tuple(scores)))
    return ledger


def test_negative_round_scores_count_as_zero_not_as_debt() -> None:
    ledger = ledger_of([[1.0, -2.0, 0.0], [-1.0, 3.0, 0.5]])
    assert ledger.cumulative() == (1.0, 3.0, 0.5)
    assert ledger.net() == (0.0, 1.0, 0.5)
    assert ledger.shares_bps() == [2222, 6667, 1111]
    assert sum(ledger.shares_bps()) == BPS


def test_nobody_contributing_gives_equal_shares() -> None:
    ledger = ledger_of([[0.0, -1.0, 0.0]])
    assert ledger.cumulative() == (0.0, 0.0, 0.0)
    assert ledger.shares_bps() == [3334, 3333, 3333]


def test_a_free_rider_with_zero_scores_gets_no_share() -> None:
    ledger = ledger_of([[0.2, 0.0, 0.1], [0.3, 0.0, -0.05], [0.1, 0.0, 0.2]])
    assert ledger.shares_bps()[1] == 0


def test_the_ledger_is_immutable_and_record_returns_a_new_one() -> None:
    empty = ContributionLedger(2)
    one = empty.record(RoundScores(1, (1.0, 2.0)))
    assert empty.rounds == ()
    assert len(one.rounds) == 1


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n), min_size=1, max_size=12
        )
    )
)
def test_cumulative_and_shares_against_the_reference(rounds: list[list[float]]) -> None:
    ledger = ledger_of(rounds)
    assert list(ledger.cumulative()) == reference_cumulative(rounds)  # bit for bit
    shares = ledger.shares_bps()
    assert sum(shares) == BPS
    assert shares == shares_bps(reference_cumulative(rounds))
    cumulative = ledger.cumulative()
    for i in range(len(shares)):  # a larger cumulative never gets a smaller share
        for j in range(len(shares)):
            if cumulative[i] > cumulative[j]:
                assert shares[i] >= shares[j]


def test_round_scores_from_an_estimate_place_the_accepted_updates() -> None:
    result = ContributionResult("shapley-gtg", [0.5, -0.25], {"": 0.0}, seed=7)
    scores = RoundScores.from_result(3, result, positions=[2, 0], n_participants=4)
    assert scores == RoundScores(3, (-0.25, 0.0, 0.5, 0.0), method="shapley-gtg", seed=7)
    with pytest.raises(InvalidInputError):
        RoundScores.from_result(3, result, positions=[2], n_participants=4)
    with pytest.raises(InvalidInputError):
        RoundScores.from_result(3, result, positions=[2, 2], n_participants=4)
    with pytest.raises(InvalidInputError):
        RoundScores.from_result(3, result, positions=[4, 0], n_participants=4)


def test_the_ledger_refuses_inconsistent_rounds() -> None:
    with pytest.raises(InvalidInputError):
        ContributionLedger(0)
    with pytest.raises(InvalidInputError):
        ContributionLedger(2).record(RoundScores(1, (1.0,)))
    with pytest.raises(InvalidInputError):
        ledger_of([[1.0, 2.0]]).record(RoundScores(1, (1.0, 2.0)))  # round 1 again
    with pytest.raises(InvalidInputError):
        RoundScores(1, (float("nan"), 1.0))
    with pytest.raises(InvalidInputError):
        RoundScores(-1, (1.0,))
