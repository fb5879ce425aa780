"""The trusted-participant vote: ranks, median vote scores, election, flagging, capture."""

import random

import pytest
import torch

from fl_node.errors import AggregationError, SpecError
from fl_node.strategies.base import ClientUpdate
from fl_node.strategies.robust import Ballot, RoundInputs, make_defence
from fl_node.strategies.robust.trusted_vote import ballot_ranks, elect, vote_scores


def ups(rows, samples=None):
    samples = samples or [1] * len(rows)
    return [
        ClientUpdate({"w": torch.tensor(r, dtype=torch.float64)}, s)
        for r, s in zip(rows, samples, strict=True)
    ]


BALLOTS = (
    Ballot(0, (9.0, 5.0, 7.0, 1.0)),  # ranks: 2 -> 1, 1 -> 2, 3 -> 3 (own score ignored)
    Ballot(1, (3.0, 9.0, 3.0, 0.0)),  # 0 and 2 tie for ranks 1 and 2 -> 1.5 each; 3 -> 3
    Ballot(2, (1.0, 2.0, 9.0, 3.0)),  # 3 -> 1, 1 -> 2, 0 -> 3
    Ballot(3, (4.0, 4.0, 4.0, 9.0)),  # all tie -> 2 each
)
# received ranks: 0: 1.5, 3, 2 -> 2; 1: 2, 2, 2 -> 2; 2: 1, 1.5, 2 -> 1.5; 3: 3, 3, 1 -> 3


def test_ballot_ranks_hand_computed():
    assert ballot_ranks(BALLOTS[0]) == {2: 1.0, 1: 2.0, 3: 3.0}
    assert ballot_ranks(BALLOTS[1]) == {0: 1.5, 2: 1.5, 3: 3.0}
    assert ballot_ranks(BALLOTS[3]) == {0: 2.0, 1: 2.0, 2: 2.0}


def test_vote_scores_and_election_hand_computed():
    scores = vote_scores(BALLOTS, 4)
    assert scores == (2.0, 2.0, 1.5, 3.0)
    assert elect(scores, range(4)) == 2
    assert elect(scores, [0, 1, 3]) == 0  # tie 0 / 1 goes to the lowest position


def test_an_update_nobody_ranked_scores_worse_than_any_rank():
    ballots = (Ballot(0, (1.0, 2.0, 3.0)),)  # only 0 votes: 0 itself is ranked by nobody
    assert vote_scores(ballots, 3) == (3.0, 2.0, 1.0)


def test_the_vote_hand_computed():
    rows = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [10.0, 10.0]]
    outcome = make_defence("trusted_vote").combine(
        ups(rows, [1, 1, 2, 1]), RoundInputs(ballots=BALLOTS)
    )
    # trusted: 2 ([1, 1]); distances of the others 1, 1, 12.7: median 1, threshold 3
    assert outcome.flagged == (3,)
    # sample-weighted mean of [1, 0], [0, 1], 2 x [1, 1]: [3, 3] / 4
    assert outcome.delta["w"].tolist() == [0.75, 0.75]
    assert [d.score for d in outcome.decisions] == [2.0, 2.0, 1.5, 3.0]


def test_only_central_updates_may_be_elected():
    rows = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [10.0, 10.0]]
    rigged = tuple(Ballot(v, (0.0, 0.0, 0.0, 9.0)) for v in range(3))
    central = make_defence("trusted_vote").combine(ups(rows), RoundInputs(ballots=rigged))
    assert central.flagged == (3,)  # not a candidate: 12.7 from the median [1, 1]
    # 0, 1, 2 tie at median rank 2.5 (3 has 1): the lowest position, 0, is trusted
    assert [d.reason for d in central.decisions[:3]] == ["trusted", "", ""]
    anyone = make_defence("trusted_vote", central=0).combine(ups(rows), RoundInputs(ballots=rigged))
    assert anyone.decisions[3].reason == "trusted"
    # the others are all 12.7 from it: none beyond 3 median distances, nothing flagged
    assert anyone.flagged == ()


def colluding_ballots(honest, attackers, favourite, rng):
    """Honest voters score honest updates above attackers; colluders score the favourite top."""
    n = honest + attackers
    ballots = []
    for voter in range(n):
        if voter < honest:
            scores = [rng.uniform(0.5, 1) if j < honest else rng.uniform(0, 0.4) for j in range(n)]
        else:
            scores = [1e9 if j == favourite else -1e9 * rng.random() for j in range(n)]
        ballots.append(Ballot(voter, tuple(scores)))
    return tuple(ballots)


@pytest.mark.parametrize(("honest", "attackers"), [(3, 2), (4, 3), (6, 4), (7, 5)])
def test_a_colluding_minority_cannot_get_an_attacker_trusted(honest, attackers):
    rng = random.Random(honest)
    n = honest + attackers
    for _ in range(50):
        favourite = rng.randrange(honest, n)
        scores = vote_scores(colluding_ballots(honest, attackers, favourite, rng), n)
        assert elect(scores, range(n)) < honest


@pytest.mark.parametrize(("honest", "attackers"), [(2, 4), (3, 5), (4, 6)])
def test_a_colluding_majority_does(honest, attackers):
    """Capture needs a majority of the ballots that rank the favourite (it cannot rank itself)."""
    rng = random.Random(honest)
    n = honest + attackers
    favourite = n - 1
    ballots = colluding_ballots(honest, attackers, favourite, rng)
    assert elect(vote_scores(ballots, n), range(n)) == favourite
    rows = [[1.0, 1.0]] * honest + [[-1.0, -1.0]] * (attackers - 1) + [[-1.0, -1.1]]
    outcome = make_defence("trusted_vote", central=0).combine(
        ups(rows), RoundInputs(ballots=ballots)
    )
    assert outcome.flagged == tuple(range(honest))


def test_a_captured_vote_with_a_minority_still_flags_the_attackers():
    rng = random.Random(0)
    rows = [[1.0 + 0.1 * rng.random(), 1.0] for _ in range(6)] + [[-5.0, -5.0]] * 4
    ballots = colluding_ballots(6, 4, 9, rng)
    outcome = make_defence("trusted_vote", central=0).combine(
        ups(rows), RoundInputs(ballots=ballots)
    )
    assert outcome.flagged == (6, 7, 8, 9)


def test_bad_ballots_are_refused():
    rows = ups([[1.0], [2.0], [3.0]])
    vote = make_defence("trusted_vote")
    for ballots in (
        (Ballot(0, (1.0, 2.0)),),
        (Ballot(3, (1.0, 2.0, 3.0)),),
        (Ballot(0, (1.0, 2.0, 3.0)), Ballot(0, (1.0, 2.0, 3.0))),
        (Ballot(1, (1.0, float("nan"), 3.0)),),
    ):
        with pytest.raises(AggregationError):
            vote.combine(rows, RoundInputs(ballots=ballots))
    with pytest.raises(SpecError):
        make_defence("trusted_vote", central=0.5)


def test_without_ballots_the_update_nearest_the_median_is_trusted():
    """Withheld ballots do not stall the round: the central fallback, said in the reason."""
    rows = ups([[1.0], [2.0], [2.5], [40.0]])
    outcome = make_defence("trusted_vote").combine(rows, RoundInputs())
    reasons = [d.reason for d in outcome.decisions]
    # pass 2 runs on the unflagged 1, 2, 2.5: their median 2 is the trusted fallback
    assert reasons == ["", "trusted_central", "", "deviation"]
    assert [d.flagged for d in outcome.decisions] == [False, False, False, True]
    assert all(d.score == 4.0 for d in outcome.decisions[:3])
