"""The seed patent's trusted-participant vote, with deviation flagging.

Each round the participants score every update on their own local data (a :class:`Ballot`
each: ``scores[j]`` is how much update ``j`` improves the voter's local loss). The rule

1. turns each ballot into ranks (1 = the voter's best; tied scores share their mean rank) over
   the other participants' updates: a voter's score of its own update is ignored;
2. gives each update the *median* over the voters of the ranks it received: its vote score;
3. restricts the candidates to central updates (``central = 1``, the default): those not
   flagged against the coordinate-wise median of the round, so the trusted update is itself
   an ordinary one;
4. elects the candidate with the lowest vote score (ties: the lowest position) as trusted;
5. flags every other update whose distance to the trusted one exceeds ``flag_at`` times the
   median distance of the others to it;
6. returns the sample-weighted mean of the unflagged updates.

Why a colluding minority cannot capture it. Ranks bound each voter's say: however extreme its
scores, a ballot moves a candidate by at most one position in the list of ranks the median is
taken from, so a voter cannot inflate magnitudes. The median then belongs to the majority:
when fewer than half of the voters collude, more than half of the ranks every candidate
receives come from honest voters, so its median rank lies between the lowest and highest rank
honest voters gave it. The colluders can rank their own candidate first and every honest
update last, and still not move any median outside what honest voters decided; an attacker
that honest voters rank below the honest updates keeps a median rank below them and is not
elected. The centrality restriction adds a second, independent guard: the coordinate-wise
median of the updates cannot be moved by a minority beyond the range of honest values, so an
update far from the honest ones is not even a candidate. Since nobody ranks their own
update, electing a colluder takes more than half of the ballots that rank it: with ``h``
honest voters, at least ``h + 2`` colluders (the tests show 4 of 10 fail and 6 of 10
succeed). Such a majority can elect whom it likes (with central = 0, anything at all): the
vote assumes an honest majority of voters, as the median rules assume an honest majority of
updates. Flagging is relative to the median distance of the others to the trusted update, so
even a captured vote flags honest updates only when the colluders' own updates, clustered
around the one they elected, make up most of the others.

Without ballots (no voter could or would vote: withholding ballots must not stall a round) the
rule falls back to the central candidate nearest the coordinate-wise median, with reason
``trusted_central``; the evidence shows that no ballot counted.

Decisions: every unflagged update weight 1, the elected one with reason ``trusted``; score =
its vote score (median rank; ``n`` for an update no other voter ranked).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from fl_node.errors import AggregationError
from fl_node.strategies.robust._flagging import flag_outliers
from fl_node.strategies.robust._rule import (
    DEFAULT_FLAG_AT,
    RobustRule,
    RoundData,
    RulePass,
    check_switch,
)
from fl_node.strategies.robust._vectors import median, weighted_mean
from fl_node.strategies.robust.base import KEPT, Ballot

TRUSTED = "trusted"
"""The reason on the elected update's decision (weight 1: it is kept as sent)."""

TRUSTED_CENTRAL = "trusted_central"
"""The reason on the update chosen without ballots: the candidate nearest the median."""


def check_ballots(ballots: Sequence[Ballot], n: int) -> None:
    """One ballot per voter, voters among the ``n`` participants, ``n`` finite scores each."""
    if not ballots:
        raise AggregationError("trusted_vote: the round gives no ballots")
    voters = [b.voter for b in ballots]
    if len(set(voters)) != len(voters):
        raise AggregationError("trusted_vote: a voter cast more than one ballot")
    for ballot in ballots:
        if not 0 <= ballot.voter < n:
            raise AggregationError(f"trusted_vote: voter {ballot.voter} is not one of {n} updates")
        if len(ballot.scores) != n or not all(math.isfinite(s) for s in ballot.scores):
            raise AggregationError(f"trusted_vote: voter {ballot.voter} needs {n} finite scores")


def ballot_ranks(ballot: Ballot) -> dict[int, float]:
    """Update position -> its rank on the ballot (1 = best), the voter's own update left out.

    Tied scores share the mean of the ranks they span.
    """
    others = [j for j in range(len(ballot.scores)) if j != ballot.voter]
    ordered = sorted(others, key=lambda j: -ballot.scores[j])
    ranks: dict[int, float] = {}
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and (
            ballot.scores[ordered[end + 1]] == ballot.scores[ordered[start]]
        ):
            end += 1
        for position in ordered[start : end + 1]:
            ranks[position] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def vote_scores(ballots: Sequence[Ballot], n: int) -> tuple[float, ...]:
    """Each update's median rank over the voters that ranked it.

    An update no voter ranked scores ``n``, worse than any rank (which run to ``n - 1``), and
    finite so that it can be written in the evidence's JSON.
    """
    check_ballots(ballots, n)
    received: list[list[float]] = [[] for _ in range(n)]
    for ballot in ballots:
        for position, rank in ballot_ranks(ballot).items():
            received[position].append(rank)
    return tuple(
        float(median(torch.tensor(r, dtype=torch.float64))) if r else float(n) for r in received
    )


def elect(scores: Sequence[float], candidates: Sequence[int]) -> int:
    """The candidate with the lowest vote score, ties to the lowest position."""
    if not candidates:
        raise AggregationError("trusted_vote: no candidate to elect")
    return min(candidates, key=lambda i: (scores[i], i))


def central_updates(rows: torch.Tensor, flag_at: float) -> tuple[int, ...]:
    """Positions of the rows not flagged against the coordinate-wise median."""
    flags = flag_outliers(rows, median(rows, dim=0), flag_at)
    return tuple(i for i, flagged in enumerate(flags.flagged) if not flagged)


class TrustedVote(RobustRule):
    """The trusted-participant vote (module docstring). Needs the round's ballots.

    Parameters
    ----------
    central : float, default 1
        1: only updates not flagged against the coordinate-wise median may be elected; 0: any.
    flag_at : float, default 3.0
        Flag updates farther from the trusted one than this many median distances of the
        others; 0 disables flagging (and the centrality restriction), else in ``[1, 100]``.
    clip_max_norm, clip_norm_factor
        See :class:`~fl_node.strategies.robust._rule.RobustRule`.
    """

    name = "trusted_vote"
    uses_ballots = True

    def __init__(
        self,
        central: float = 1.0,
        flag_at: float = DEFAULT_FLAG_AT,
        clip_max_norm: float = 0.0,
        clip_norm_factor: float = 0.0,
    ) -> None:
        super().__init__(flag_at, clip_max_norm, clip_norm_factor)
        self.central = check_switch(type(self).__name__, "central", central)

    def params(self) -> dict[str, float]:
        """``central`` and the common parameters."""
        return {"central": self.central, **self.common_params()}

    def trusted(self, data: RoundData, active: Sequence[int]) -> tuple[int, tuple[float, ...]]:
        """The elected update's round position among ``active``, and every vote score.

        Without ballots, the candidate nearest the coordinate-wise median (all score ``n``).
        """
        n = data.rows.shape[0]
        candidates = list(active)
        if self.central and self.flag_at > 0:
            central = set(central_updates(data.rows, self.flag_at))
            candidates = [i for i in active if i in central] or candidates
        if not data.inputs.ballots:
            centre = median(data.rows, dim=0)
            distance = torch.linalg.vector_norm(data.rows - centre, dim=1)
            nearest = min(candidates, key=lambda i: (float(distance[i]), i))
            return nearest, (float(n),) * n
        scores = vote_scores(data.inputs.ballots, n)
        return elect(scores, candidates), scores

    def _pass(self, data: RoundData, active: tuple[int, ...]) -> RulePass:
        """The sample-weighted mean of the active rows; reference: the trusted update."""
        trusted, scores = self.trusted(data, active)
        aggregate = weighted_mean(data.rows[list(active)], data.samples[list(active)])
        ones = (1.0,) * len(active)
        return RulePass(
            aggregate,
            data.rows[trusted],
            ones,
            tuple(
                (TRUSTED if data.inputs.ballots else TRUSTED_CENTRAL) if i == trusted else KEPT
                for i in active
            ),
            tuple(scores[i] for i in active),
            anchor=trusted,
        )
